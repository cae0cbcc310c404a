"""The motion modules' linear layer: oneDNN's product on an x86-64 CPU in float32, F.linear otherwise.

Either way the result must be ``F.linear``'s up to float rounding, in its shape, whatever
the input's layout; the route is read from the operator the profiler recorded.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from matrix_products import matrix_products

from kinema.motion_modules import onednn_linear
from kinema.motion_modules.network import TORCH_LAYERS
from kinema.motion_modules.onednn_linear import OneDnnLinear, linear, uses_onednn

ONEDNN = "mkldnn::_linear_pointwise"
needs_onednn = pytest.mark.skipif(
    onednn_linear.ONEDNN_LINEAR is None or not onednn_linear.X86_64 or not torch.backends.mkldnn.is_available(),
    reason="oneDNN's linear product is used on x86-64 CPUs with a torch built with oneDNN",
)


def _layer(in_features: int, out_features: int, bias: bool = True, seed: int = 0) -> OneDnnLinear:
    generator = torch.Generator().manual_seed(seed)
    layer = OneDnnLinear(in_features, out_features, bias=bias).requires_grad_(False)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(out_features, in_features, generator=generator) * in_features**-0.5)
        if bias:
            layer.bias.copy_(torch.randn(out_features, generator=generator))
    return layer


def _rows(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _operators(run) -> list[str]:
    return [name for name, _ in matrix_products(run)]


@needs_onednn
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(32, 256), (2, 16, 256), (4, 8, 256), (3072, 256), (256,)])
def test_a_cpu_float32_pass_runs_on_onednn_and_equals_f_linear(shape, bias):
    layer = _layer(256, 512, bias)
    x = _rows(*shape)
    assert uses_onednn(x, layer.weight, layer.bias)
    with torch.inference_mode():
        out = layer(x)
        products = matrix_products(lambda: layer(x))
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)
    assert out.shape == (*shape[:-1], 512) and out.is_contiguous()
    # one product, the bias inside it: no separate addition
    assert products == [(ONEDNN, (tuple(shape), (512, 256), (512,) if bias else ()))]


@needs_onednn
def test_an_input_in_a_transposed_layout_gives_the_same_result():
    layer = _layer(256, 512)
    x = _rows(256, 24).t()  # [24, 256] with strides (1, 24)
    assert not x.is_contiguous() and uses_onednn(x, layer.weight, layer.bias)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), F.linear(x.contiguous(), layer.weight, layer.bias), rtol=1e-5, atol=1e-5)


@needs_onednn
def test_the_same_inputs_give_the_same_bits():
    layer = _layer(640, 5120)
    x = _rows(2, 768, 640)
    with torch.inference_mode():
        assert torch.equal(layer(x), layer(x))


@needs_onednn
def test_oneDNN_switched_off_keeps_f_linear():
    layer = _layer(256, 512)
    x = _rows(8, 256)
    with torch.backends.mkldnn.flags(enabled=False), torch.inference_mode():
        assert not uses_onednn(x, layer.weight, layer.bias)
        assert _operators(lambda: layer(x)) == ["aten::addmm"]


def test_a_pass_autograd_records_keeps_f_linear_and_its_gradient():
    """oneDNN's op has no backward: a pass that needs one stays differentiable."""
    layer = OneDnnLinear(64, 32)
    x = _rows(8, 64).requires_grad_(True)
    assert not uses_onednn(x, layer.weight, layer.bias)
    layer(x).sum().backward()
    torch.testing.assert_close(x.grad, layer.weight.sum(0).expand(8, 64))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_dtypes_keep_f_linear(dtype):
    layer = _layer(256, 512).to(dtype)
    x = _rows(8, 256).to(dtype)
    assert not uses_onednn(x, layer.weight, layer.bias)
    with torch.inference_mode():
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
        assert _operators(lambda: layer(x)) == ["aten::addmm"]


def test_other_devices_keep_f_linear():
    """A GPU is not at hand here; the decision reads the device type, and a meta tensor is not on the CPU."""
    weight = torch.empty(512, 256, device="meta")
    assert not uses_onednn(torch.empty(8, 256, device="meta"), weight)
    assert linear(torch.empty(8, 256, device="meta"), weight).shape == (8, 512)


def test_a_bias_of_another_dtype_keeps_f_linear():
    layer = _layer(256, 512)
    assert not uses_onednn(_rows(8, 256), layer.weight, layer.bias.double())


def test_an_empty_pass_gives_an_empty_result():
    layer = _layer(256, 512)
    with torch.inference_mode():
        assert layer(torch.empty(0, 256)).shape == (0, 512)
        assert layer(torch.empty(2, 0, 256)).shape == (2, 0, 512)


def test_the_default_layers_use_it_with_the_original_keys():
    layer = TORCH_LAYERS.Linear(64, 128)
    assert isinstance(layer, OneDnnLinear) and set(layer.state_dict()) == {"weight", "bias"}


@needs_onednn
def test_every_projection_of_a_motion_module_runs_on_onednn():
    """proj_in, q/k/v/out of both attentions, the GEGLU and feed-forward output, proj_out: 12 products, all oneDNN's."""
    from kinema.motion_modules.network import MotionModule

    module = MotionModule(64, pe_length=24).requires_grad_(False)
    x = _rows(2 * 8, 64, 4, 4)  # [(b f), c, h, w]: 2 videos of 8 frames
    with torch.inference_mode():
        assert set(_operators(lambda: module(x, 8))) == {ONEDNN}
        assert len(_operators(lambda: module(x, 8))) == 12
