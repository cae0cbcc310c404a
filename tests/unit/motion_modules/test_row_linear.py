"""row_linear: F.linear through oneDNN's 1x1 convolution on CPU float32, F.linear itself elsewhere."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kinema.motion_modules.row_linear import RowLinear, row_linear


def tensors(*shapes: tuple[int, ...], dtype=torch.float32) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(shape, generator=generator, dtype=dtype) for shape in shapes]


@pytest.mark.parametrize("leading", [(7,), (3, 16), (2, 5, 16)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_equals_f_linear_up_to_float_rounding(leading, with_bias):
    x, weight, bias = tensors((*leading, 64), (96, 64), (96,))
    bias = bias if with_bias else None
    out = row_linear(x, weight, bias)
    assert out.shape == (*leading, 96) and out.is_contiguous()
    torch.testing.assert_close(out, F.linear(x, weight, bias), rtol=1e-5, atol=1e-5)


def test_non_contiguous_rows_and_inference_mode():
    x, weight = tensors((64, 40), (32, 64))
    with torch.inference_mode():
        torch.testing.assert_close(row_linear(x.t(), weight), F.linear(x.t(), weight), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(row_linear(x.t()[::2], weight), F.linear(x.t()[::2], weight), rtol=1e-5, atol=1e-5)


def test_other_dtypes_are_f_linear_exactly():
    x, weight, bias = tensors((5, 16), (8, 16), (8,), dtype=torch.float64)
    assert torch.equal(row_linear(x, weight, bias), F.linear(x, weight, bias))


def test_row_linear_module_keeps_nn_linear_parameters():
    layer = RowLinear(16, 8)
    assert set(layer.state_dict()) == {"weight", "bias"} and isinstance(layer, torch.nn.Linear)
    (x,) = tensors((4, 16))
    torch.testing.assert_close(layer(x), F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)
