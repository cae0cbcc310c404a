"""Seeded test videos for the video-metrics tests: smooth random textures and clips cut from them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

CLIP_SIZE = 64
TEXTURE_SIZE = 128


def smooth_texture(size: int, seed: int) -> np.ndarray:
    """A seeded RGB texture [size, size, 3] in [0, 1] with detail at a few scales (optical flow can lock onto it)."""
    noise = torch.rand(size, size, 3, generator=torch.Generator().manual_seed(seed)).numpy()
    layers = sum(weight * cv2.GaussianBlur(noise, (0, 0), sigma) for sigma, weight in ((1.0, 1.0), (3.0, 2.0), (8.0, 2.0)))
    return ((layers - layers.min()) / (layers.max() - layers.min())).astype(np.float32)


def pan_over(texture: np.ndarray, frames: int, step: tuple[int, int], size: int = CLIP_SIZE) -> torch.Tensor:
    """A camera pan over ``texture``: frame t is the size x size window whose content moved by t * step (x, y) px.

    Windows are cut from the larger texture (not rolled), so content enters at one edge and leaves at the other.
    Returns a ComfyUI IMAGE batch [frames, size, size, 3].
    """
    dx, dy = step
    start = (texture.shape[0] - size) // 2
    windows = []
    for t in range(frames):
        top, left = start - t * dy, start - t * dx
        windows.append(texture[top:top + size, left:left + size])
    return torch.from_numpy(np.stack(windows))


@pytest.fixture(scope="session")
def texture():
    """``texture(size=TEXTURE_SIZE, seed=0)`` -> float32 RGB [size, size, 3] in [0, 1]."""
    return lambda size=TEXTURE_SIZE, seed=0: smooth_texture(size, seed)


@pytest.fixture(scope="session")
def pan():
    """``pan(texture, frames, (dx, dy), size=CLIP_SIZE)`` -> IMAGE batch [frames, size, size, 3] (see ``pan_over``)."""
    return pan_over


@pytest.fixture(scope="session")
def moving_clip(texture):
    """A smooth 8-frame pan (2 px right, 1 px down per frame), [8, 64, 64, 3]."""
    return pan_over(texture(seed=1), 8, (2, 1))
