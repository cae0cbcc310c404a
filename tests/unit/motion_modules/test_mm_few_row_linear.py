"""The motion modules' linear layer: weight-first products for few-row passes on CPU float32, F.linear otherwise.

Either way the result must be ``F.linear``'s up to float rounding, in its row-major layout,
whatever the input's layout; the route is read from the operands the product received.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from matmul_operands import addmm_operand_shapes

from kinema.motion_modules.few_row_linear import FewRowLinear, linear, weight_on_the_left
from kinema.motion_modules.network import TORCH_LAYERS


def _layer(in_features: int, out_features: int, bias: bool = True, seed: int = 0) -> FewRowLinear:
    generator = torch.Generator().manual_seed(seed)
    layer = FewRowLinear(in_features, out_features, bias=bias)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(out_features, in_features, generator=generator) * in_features**-0.5)
        if bias:
            layer.bias.copy_(torch.randn(out_features, generator=generator))
    return layer


def _rows(*shape: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(32, 256), (2, 16, 256), (4, 8, 256)])
def test_a_few_row_pass_puts_the_weight_left_and_equals_f_linear(shape, bias):
    layer = _layer(256, 512, bias)
    x = _rows(*shape)
    rows = x.numel() // 256
    assert weight_on_the_left(x, layer.weight)
    with torch.inference_mode():
        out = layer(x)
        operands = addmm_operand_shapes(lambda: layer(x)) if bias else []
    torch.testing.assert_close(out, F.linear(x, layer.weight, layer.bias), rtol=1e-6, atol=1e-6)
    assert out.shape == (*shape[:-1], 512) and out.is_contiguous()
    if bias:
        assert operands == [((512, 1), (512, 256), (256, rows))]


def test_an_input_in_a_transposed_layout_gives_the_same_result():
    layer = _layer(256, 512)
    x = _rows(256, 24).t()  # [24, 256] with strides (1, 24): a weight-first product's output layout
    assert not x.is_contiguous() and weight_on_the_left(x, layer.weight)
    with torch.inference_mode():
        torch.testing.assert_close(layer(x), F.linear(x.contiguous(), layer.weight, layer.bias), rtol=1e-6, atol=1e-6)


def test_a_pass_with_as_many_rows_as_the_weight_keeps_f_linear():
    layer = _layer(256, 512)
    x = _rows(4, 16, 256)  # 64 rows: more than 256 / 8
    assert not weight_on_the_left(x, layer.weight)
    with torch.inference_mode():
        operands = addmm_operand_shapes(lambda: layer(x))
        torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), rtol=0, atol=0)
    assert operands == [((512,), (64, 256), (256, 512))]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_other_dtypes_keep_f_linear(dtype):
    layer = _layer(256, 512).to(dtype)
    x = _rows(8, 256).to(dtype)
    assert not weight_on_the_left(x, layer.weight)
    with torch.inference_mode():
        assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))


def test_other_devices_keep_f_linear():
    """A GPU is not at hand here; the decision reads the device type only, and a meta tensor is not on the CPU."""
    weight = torch.empty(512, 256, device="meta")
    assert not weight_on_the_left(torch.empty(8, 256, device="meta"), weight)
    assert linear(torch.empty(8, 256, device="meta"), weight).shape == (8, 512)


def test_an_empty_pass_gives_an_empty_result():
    layer = _layer(256, 512)
    with torch.inference_mode():
        assert layer(torch.empty(0, 256)).shape == (0, 512)


def test_the_default_layers_use_it_with_the_original_keys():
    layer = TORCH_LAYERS.Linear(64, 128)
    assert isinstance(layer, FewRowLinear) and set(layer.state_dict()) == {"weight", "bias"}
