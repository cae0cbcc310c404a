"""The motion modules' linear layer: on an x86-64 CPU in float32, oneDNN's matrix product instead of the BLAS's.

``F.linear`` on a CPU calls the BLAS torch was built with (MKL's sgemm in the x86-64
wheels). torch also ships oneDNN, for its CPU convolutions and for the linear layers its
compiler fuses, and exposes that product as ``mkldnn::_linear_pointwise``: the same
``x @ W.T + b`` on the weight as it is (no packed copy kept between calls, so ComfyUI's
weight patches and casting still apply), with the bias added inside the product. On the
bench machine (2-core AMD EPYC with AVX-512, torch 2.14.1; ``bench/linear_gflops.py``
prints both per shape) it computes every projection shape of a v2 module's sampling step
faster: 1.08-1.5x on passes of 512 rows or more, 1.12-2x on the few-row passes of
low-resolution levels (121-216 GFLOP/s against F.linear's 60-195); inside core KSampler
the inflated / plain step went from 1.389x to 1.334x at 64 px and from 1.589x to 1.445x at
128 px (``bench/animatediff_sampler_step.py``, glibc options of Kinema's processes). Other
x86-64 CPUs may weigh the two products differently; the same benches show it on any machine.

Everything else keeps ``F.linear``: GPUs and other devices, half precision, other CPU
architectures (not measured), a torch without oneDNN or with it switched off
(``torch.backends.mkldnn.flags(enabled=False)``), and passes that autograd records (the
oneDNN op has no backward). Results equal ``F.linear``'s up to float rounding (the
summation order differs); for the same inputs they are the same bits every run.
"""

from __future__ import annotations

import platform

import torch
import torch.nn.functional as F
from torch import Tensor, nn

X86_64 = platform.machine().lower() in {"x86_64", "amd64"}


def _onednn_linear_op():
    """torch's ``mkldnn::_linear_pointwise`` operator, or None in a torch that lacks it."""
    try:
        return torch.ops.mkldnn._linear_pointwise.default
    except (AttributeError, RuntimeError):
        return None


ONEDNN_LINEAR = _onednn_linear_op()


def uses_onednn(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> bool:
    """Whether ``linear`` hands this product to oneDNN (x86-64 CPU, float32, oneDNN on, no autograd)."""
    operands = (x, weight) if bias is None else (x, weight, bias)
    return (ONEDNN_LINEAR is not None and X86_64
            and all(t.device.type == "cpu" and t.dtype == torch.float32 for t in operands)
            and torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled
            and not (torch.is_grad_enabled() and any(t.requires_grad for t in operands)))


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``F.linear(x, weight, bias)``, computed by oneDNN where ``uses_onednn`` says so."""
    if uses_onednn(x, weight, bias):
        return onednn_product(x, weight, bias)
    return F.linear(x, weight, bias)


def onednn_product(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """oneDNN's ``x @ weight.T + bias`` whatever ``uses_onednn`` says (needs ``ONEDNN_LINEAR``; benches compare it)."""
    return ONEDNN_LINEAR(x, weight, bias, "none", [], "")  # no fused activation: "none", no scalars, no algorithm


class OneDnnLinear(nn.Linear):
    """``nn.Linear`` whose product is ``linear`` above (same parameters, same state-dict keys)."""

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)
