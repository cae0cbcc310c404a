"""The INTERPOLATOR contract: the frame halfway between two frames.

An interpolator is called with two batches of ComfyUI images, ``first`` and ``second``
([N, H, W, 3], float, values in [0, 1], same device), and returns the N midpoint frames
[N, H, W, 3] in [0, 1] on that device: pair i gives the frame halfway between ``first[i]``
and ``second[i]``. Any H and W are accepted (an interpolator pads internally where its
network needs multiples of some size). ``name`` is shown in logs and errors.
"""

from __future__ import annotations

from typing import Protocol

import torch


class Interpolator(Protocol):
    name: str

    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor: ...


def check_pair(first: torch.Tensor, second: torch.Tensor, who: str) -> None:
    """Refuse a pair of batches that are not ComfyUI images of one shape, in a sentence naming ``who``."""
    if first.ndim != 4 or first.shape[-1] != 3 or first.shape != second.shape:
        raise ValueError(f"{who}: frames to interpolate must be two image batches of one shape [N, H, W, 3]; "
                         f"got {list(first.shape)} and {list(second.shape)}.")
