"""Adjacent-frame SSIM: the structural similarity of each frame with the next (kornia.metrics.ssim).

SSIM as Wang et al. 2004 define it: an 11-tap Gaussian window (sigma 1.5), c1 = (0.01 L)^2, c2 = (0.03 L)^2 with
L = 1 (frames in 0..1), computed per RGB channel over the window positions that lie wholly inside the frame
(``padding='valid'``, the paper's MATLAB convention: no invented border pixels) and averaged over positions and
channels. No extra epsilon in the denominator (``eps=0``; c1 and c2 keep it positive), so identical frames score 1.
Higher is steadier; 1 means the same frame. Unlike the warping error, SSIM does not follow motion: a steady pan
scores below 1.

kornia is imported on first use (the pack loads without it).
"""

from __future__ import annotations

import torch

WINDOW = 11
MAX_VALUE = 1.0
PAIRS_PER_CALL = 8  # bounds the memory of kornia's moment maps (about a dozen frame-sized tensors per pair)


def kornia_ssim():
    try:
        from kornia.metrics import ssim
    except ImportError as error:
        raise RuntimeError("The SSIM metric needs kornia, which is not installed in this Python: run "
                           "`pip install kornia` there (or install Kinema's requirements.txt).") from error
    return ssim


def adjacent_ssim(frames: torch.Tensor) -> tuple[float, ...]:
    """Mean SSIM of each adjacent pair of ``frames`` [F, H, W, 3] (float RGB in 0..1, H and W at least ``WINDOW``)."""
    if frames.ndim != 4 or min(frames.shape[1], frames.shape[2]) < WINDOW:
        raise ValueError(f"SSIM needs frames [F, H, W, 3] of at least {WINDOW} x {WINDOW} px (its window); got "
                         f"{tuple(frames.shape)}. Measure larger frames.")
    ssim = kornia_ssim()
    # [F, H, W, 3] -> [F, 3, H, W], kornia's layout
    channels_first = frames.movedim(-1, 1).to(torch.float32)
    values = []
    for start in range(0, frames.shape[0] - 1, PAIRS_PER_CALL):
        stop = min(start + PAIRS_PER_CALL, frames.shape[0] - 1)
        maps = ssim(channels_first[start:stop], channels_first[start + 1:stop + 1], WINDOW, max_val=MAX_VALUE, eps=0.0,
                    padding="valid")  # [P, 3, H - 10, W - 10]
        values.extend(float(v) for v in maps.double().mean(dim=(1, 2, 3)))
    return tuple(values)
