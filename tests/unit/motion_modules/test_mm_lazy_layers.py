"""Motion modules built of layers that hold no weights until loaded, as newer ComfyUI builds them under DynamicVRAM.

ComfyUI after 0.8.0 (checked against the 0.38 ``comfy/ops.py``): with DynamicVRAM on,
``disable_weight_init.Linear.__init__`` leaves ``weight`` and ``bias`` as None (no storage is
reserved), and ``_load_from_state_dict`` creates them from the state dict, keeping the loaded
tensor itself when ``load_state_dict(assign=True)`` asks for it. ``LazyLinear`` reproduces that
contract (it cannot be imported here: that ComfyUI does not run on these machines), and the
motion module loader must produce the same network with it as with eager layers.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from kinema.motion_modules.formats import load_motion_module
from kinema.motion_modules.network import TORCH_LAYERS


class LazyLinear(nn.Linear):
    """nn.Linear with the construction and loading of newer ComfyUI's ``disable_weight_init.Linear`` under DynamicVRAM."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        nn.Module.__init__(self)  # not nn.Linear's: that would allocate the weights
        self.in_features, self.out_features = in_features, out_features
        self.weight = None
        self.bias = None
        self.lazy_bias = bias

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        assign = local_metadata.get("assign_to_params_buffers", False)
        for key, value in state_dict.items():
            name = key[len(prefix):]
            if name == "weight":
                self.weight = nn.Parameter(value if assign else value.clone(), requires_grad=False)
            elif name == "bias" and self.lazy_bias and value is not None:
                self.bias = nn.Parameter(value if assign else value.clone(), requires_grad=False)
            else:
                unexpected_keys.append(key)
        if self.weight is None:
            self.weight = nn.Parameter(torch.zeros(self.out_features, self.in_features), requires_grad=False)
            missing_keys.append(prefix + "weight")
        if self.lazy_bias and self.bias is None:
            self.bias = nn.Parameter(torch.zeros(self.out_features), requires_grad=False)
            missing_keys.append(prefix + "bias")


LAZY = SimpleNamespace(Linear=LazyLinear, LayerNorm=TORCH_LAYERS.LayerNorm, GroupNorm=TORCH_LAYERS.GroupNorm)


def test_a_lazy_linear_has_no_weights_until_loaded():
    layer = LazyLinear(4, 3)
    assert layer.weight is None and layer.bias is None and not list(layer.parameters())


@pytest.mark.parametrize("family", ["v2", "v3", "sdxl", "animatelcm"])
def test_lazy_layers_load_the_same_network(small_file, rand, family):
    eager, info = load_motion_module(small_file(family))
    lazy, _ = load_motion_module(small_file(family), LAZY)
    assert all(isinstance(m, LazyLinear) for m in lazy.modules() if isinstance(m, nn.Linear))
    assert lazy.state_dict().keys() == eager.state_dict().keys()
    assert all(torch.equal(lazy.state_dict()[k], v) for k, v in eager.state_dict().items())
    module = "down_blocks.1.motion_modules.0"
    x = rand(2 * 6, eager.get_submodule(module).channels, 3, 2)
    with torch.no_grad():
        torch.testing.assert_close(lazy.get_submodule(module)(x, 6), eager.get_submodule(module)(x, 6), rtol=1e-5, atol=1e-5)
