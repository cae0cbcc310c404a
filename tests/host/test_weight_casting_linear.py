"""The motion modules' layer inside ComfyUI: ComfyUI's Linear, whose uncast product is Kinema's oneDNN linear.

ComfyUI's forward must still run first (its interrupt check), its casting path (low-VRAM
mode) must stay its own ``F.linear``, and the uncast path must reach oneDNN's product on a
CPU in float32; the route is read from the operator the profiler recorded.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from matrix_products import matrix_products


@pytest.fixture()
def layer(comfy_host):
    from kinema.comfy_glue.layers import weight_casting_layers

    layer = weight_casting_layers().Linear(1280, 1280)
    generator = torch.Generator().manual_seed(0)
    layer.weight = torch.nn.Parameter(torch.randn(1280, 1280, generator=generator) / 40, requires_grad=False)
    layer.bias = torch.nn.Parameter(torch.randn(1280, generator=generator), requires_grad=False)
    return layer


ROWS = torch.randn(2, 16, 1280, generator=torch.Generator().manual_seed(1))  # 32 rows: a 1 x 1 latent pass


def test_it_is_comfyuis_linear_with_the_onednn_product(layer):
    import comfy.ops

    assert isinstance(layer, comfy.ops.disable_weight_init.Linear)
    with torch.inference_mode():
        products = matrix_products(lambda: layer(ROWS))
        out = layer(ROWS)
    assert products == [("mkldnn::_linear_pointwise", ((2, 16, 1280), (1280, 1280), (1280,)))]
    torch.testing.assert_close(out, F.linear(ROWS, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)


def test_comfyuis_casting_path_keeps_its_own_product(layer):
    layer.comfy_cast_weights = True  # what ComfyUI's loader sets on layers it streams in low-VRAM mode
    with torch.inference_mode():
        products = matrix_products(lambda: layer(ROWS))
        out = layer(ROWS)
    assert products == [("aten::addmm", ((1280,), (32, 1280), (1280, 1280)))]
    torch.testing.assert_close(out, F.linear(ROWS, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)


def test_comfyuis_interrupt_check_still_runs_first(layer):
    import comfy.model_management

    comfy.model_management.interrupt_current_processing(True)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException), torch.inference_mode():
            layer(ROWS)
    finally:
        comfy.model_management.interrupt_current_processing(False)
