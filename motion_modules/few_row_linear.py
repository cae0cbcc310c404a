"""The motion modules' linear layer: on CPU in float32, a pass with few rows puts the weight on the left of the product.

``F.linear`` computes ``x @ W.T``: the weight is the BLAS's right-hand operand, which CPU
sgemm kernels (MKL's under torch) repack into their blocked layout on every call. A motion
module at a low-resolution level has few token rows (2 x 16 frames x 2 x 2 latent pixels =
128 at 64 px) against weights of 1280 x 1280 up to 10240 x 1280, so repacking the weight
is a large part of every call. ``(W @ x.T).T`` is the same product with the
weight as the left operand and the few rows as the operand that is packed. On 2 CPU cores
(bench/linear_gflops.py prints both per shape) it is 1.02-1.32x as fast for 128 rows and
1.09-1.29x for 32 rows on those shapes, and 0.52-0.99x with 512 or more rows, so passes
with more than an eighth of the weight's smaller side in rows keep ``F.linear``. The result is
copied back to row-major, so every consumer sees the layout ``F.linear`` gives; its
values equal ``F.linear``'s up to float rounding (the summation order can differ).

GPUs, half precision and many-row passes take ``F.linear`` unchanged: this exists for
CPU float32, where a user without a GPU samples small previews.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The weight goes on the left when the pass has at most this fraction of the weight's smaller side in rows.
ROWS_PER_WEIGHT_SIDE = 1 / 8


def weight_on_the_left(x: Tensor, weight: Tensor) -> bool:
    """Whether ``linear`` computes ``(W @ x.T).T`` for this pass (CPU, float32, few rows against the weight)."""
    rows = x.numel() // max(1, x.shape[-1])
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight.dtype == torch.float32
            and rows <= min(weight.shape) * ROWS_PER_WEIGHT_SIDE)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)``, computed weight-first when ``weight_on_the_left`` says it is faster."""
    if weight_on_the_left(x, weight):
        return weight_first_linear(x, weight, bias)
    return F.linear(x, weight, bias)


def weight_first_linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)`` as ``(weight @ x.T).T``, copied back to row-major."""
    out_features, in_features = weight.shape
    # [..., in] -> [rows, in]
    rows = x.reshape(-1, in_features)
    # [out, in] @ [in, rows] -> [out, rows]
    product = weight @ rows.t() if bias is None else torch.addmm(bias.unsqueeze(1), weight, rows.t())
    # [out, rows] -> [rows, out] (row-major again) -> [..., out]
    return product.t().contiguous().view(*x.shape[:-1], out_features)


class FewRowLinear(nn.Linear):
    """``nn.Linear`` whose product is ``linear`` above (same parameters, same state-dict keys)."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
