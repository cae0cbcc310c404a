"""Background smoothing (paper, section 3.3), from the formula; the published code path is broken.

x_bar^k = M^k * x^k + (1 - M^k) * (alpha * x_tilde^k + (1 - alpha) * x^k), with M^k the foreground
mask of frame k (1 = foreground, kept) and x_tilde^k frame 0's latent warped by frame k's motion.
Frame 0 has zero motion, so it is left exactly as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from .motion import warp_frames


def latent_masks(masks: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    """MASK [F or 1, H, W] in pixels -> [F, 1, h, w] at latent size (area average: soft edges)."""
    if masks.ndim == 2:
        masks = masks[None]
    if masks.shape[0] not in (1, frames):
        raise ValueError(
            f"Background Smoothing: {masks.shape[0]} masks for {frames} frames; give one mask per frame or a single mask for all."
        )
    # [M, H, W] -> [M, 1, h, w] -> [F, 1, h, w]
    resized = F.interpolate(masks[:, None].float(), size=(height, width), mode="area")
    return resized.expand(frames, -1, -1, -1)


def smooth_background(x: torch.Tensor, masks: torch.Tensor, alpha: float, frame_ids: Sequence[int],
                      strength_x: float, strength_y: float) -> torch.Tensor:
    """x [F, C, h, w] (frame 0 first); masks [F, 1, h, w] at latent size; the same motion as the initial latents."""
    frames = x.shape[0]
    # [1, C, h, w] -> [F, C, h, w]: frame 0 warped by each frame's motion
    warped = warp_frames(x[:1].expand(frames, -1, -1, -1), frame_ids, strength_x, strength_y)
    # M x + (1 - M)(alpha w + (1 - alpha) x), written as x + (1 - M) alpha (w - x): exact where w == x
    return x + (1.0 - masks.to(x.dtype)) * alpha * (warped - x)


@dataclasses.dataclass(frozen=True)
class BackgroundSmoothingDDIM:
    """DDIM (Euler in ComfyUI's sigma space, as core's 'ddim' sampler) with the background blended before each step.

    Called as a k-diffusion sampler: ``(model, x, sigmas, extra_args, callback, disable)``.
    """

    masks: torch.Tensor  # [M, H, W] pixel masks, 1 = foreground
    alpha: float
    motion_x: float
    motion_y: float

    def __call__(self, model, x, sigmas, extra_args=None, callback=None, disable=None):
        extra_args = extra_args or {}
        frames, _, height, width = x.shape
        masks = latent_masks(self.masks, frames, height, width).to(x.device)
        ones = x.new_ones([frames])
        for i in range(len(sigmas) - 1):
            x = smooth_background(x, masks, self.alpha, range(frames), self.motion_x, self.motion_y)
            denoised = model(x, sigmas[i] * ones, **extra_args)
            if callback is not None:
                callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
            x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])
        return x
