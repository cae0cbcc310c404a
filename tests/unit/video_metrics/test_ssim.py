"""Adjacent-frame SSIM: 1 for identical frames, equal to the formula computed here with a hand-built Gaussian window."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kinema.video_metrics import measure_video
from kinema.video_metrics.ssim import adjacent_ssim


def gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    taps = [math.exp(-((i - size // 2) ** 2) / (2 * sigma**2)) for i in range(size)]
    total = sum(taps)
    return np.array([[a * b / total**2 for b in taps] for a in taps])  # [size, size], sums to 1


def filtered(image: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``image`` [H, W] filtered with ``window`` at the positions where the window fits wholly ('valid')."""
    size = window.shape[0]
    height, width = image.shape[0] - size + 1, image.shape[1] - size + 1
    out = np.zeros((height, width))
    for i in range(size):
        for j in range(size):
            out += window[i, j] * image[i:i + height, j:j + width]
    return out


def reference_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al. 2004's SSIM of two RGB frames [H, W, 3] in 0..1 (L = 1), mean over positions and channels."""
    c1, c2 = 0.01**2, 0.03**2
    window = gaussian_window()
    per_channel = []
    for channel in range(3):
        x, y = a[..., channel].astype(np.float64), b[..., channel].astype(np.float64)
        mu_x, mu_y = filtered(x, window), filtered(y, window)
        var_x = filtered(x * x, window) - mu_x**2
        var_y = filtered(y * y, window) - mu_y**2
        cov = filtered(x * y, window) - mu_x * mu_y
        ssim_map = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
        per_channel.append(ssim_map.mean())
    return float(np.mean(per_channel))


def test_identical_frames_have_ssim_one(moving_clip):
    assert adjacent_ssim(moving_clip[[2, 2, 2]]) == pytest.approx((1.0, 1.0), abs=1e-6)
    flat = torch.zeros(2, 32, 32, 3)  # no texture at all: the constants keep it at 1, not 0/0
    assert adjacent_ssim(flat) == pytest.approx((1.0,), abs=1e-6)


def test_values_match_the_formula_with_a_hand_built_window(moving_clip):
    noisy = (moving_clip[:4] + 0.05 * torch.randn(4, 64, 64, 3, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    frames = torch.cat([moving_clip[:3], noisy[3:], moving_clip[5:6]])[:, :48, :40]  # not square: H and W not mixed up
    measured = adjacent_ssim(frames)
    expected = [reference_ssim(frames[t].numpy(), frames[t + 1].numpy()) for t in range(frames.shape[0] - 1)]
    assert measured == pytest.approx(expected, abs=1e-5)


def test_more_pairs_than_one_kornia_call_keep_their_order(moving_clip):
    clip = torch.cat([moving_clip, moving_clip.flip(0), moving_clip])  # 24 frames: three chunks of pairs
    measured = adjacent_ssim(clip)
    assert len(measured) == 23
    assert measured == pytest.approx([reference_ssim(clip[t].numpy(), clip[t + 1].numpy()) for t in range(23)], abs=1e-5)


def test_frames_smaller_than_the_window_are_refused():
    with pytest.raises(ValueError, match="at least 11 x 11 px"):
        adjacent_ssim(torch.rand(2, 10, 32, 3))
    with pytest.raises(ValueError, match="at least 11 x 11 px"):
        measure_video(torch.rand(2, 32, 10, 3))
