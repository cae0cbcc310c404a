"""``F.linear`` for the motion modules' row-wise projections, at oneDNN's speed on CPU.

The temporal transformer is almost all linear layers on ``[rows, C]`` activations. On CPU,
torch sends ``F.linear`` to the BLAS GEMM while convolutions go to oneDNN; on this project's
reference machine (2-core AMD EPYC, AVX-512) the same product as a 1x1 convolution over a
channels-last view runs at 330-440 GFLOP/s against BLAS's 150-200 (``bench/README.md``).
The view costs no copy: ``[M, K]`` row-major memory *is* a channels-last ``[1, K, M, 1]``
image, and the convolution's channels-last output *is* ``[M, N]``. Results equal
``F.linear`` up to float rounding. Other devices and dtypes keep ``F.linear``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def row_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)`` for x ``[..., K]``, weight ``[N, K]``."""
    if not (x.device.type == "cpu" and x.dtype == weight.dtype == torch.float32 and _onednn_convolutions()):
        return F.linear(x, weight, bias)
    *leading, in_features = x.shape
    # [..., K] -> [M, K] (a view for contiguous x)
    rows = x.reshape(-1, in_features)
    # [M, K] -> [1, M, 1, K] -> [1, K, M, 1]: the same memory, now a channels-last image
    image = rows.view(1, rows.shape[0], 1, in_features).permute(0, 3, 1, 2)
    out = F.conv2d(image, weight.view(*weight.shape, 1, 1), bias)
    # [1, N, M, 1] channels-last -> [1, M, 1, N] (contiguous) -> [..., N]
    return out.permute(0, 2, 3, 1).reshape(*leading, weight.shape[0])


def _onednn_convolutions() -> bool:
    return torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled


class RowLinear(nn.Linear):
    """``nn.Linear`` (same parameters and keys) computed by ``row_linear``."""

    def forward(self, x: Tensor) -> Tensor:
        return row_linear(x, self.weight, self.bias)
