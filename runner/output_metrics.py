"""Temporal-consistency figures of a job's saved videos, for the manifest (``--metrics``).

Videos are decoded with PyAV (ComfyUI's own video dependency), animated images (GIF,
WebP, APNG) with Pillow; a file with fewer than two frames (a still image, a latent)
has no temporal consistency and is left out. Every metric compares adjacent frames
only, so a video is measured in windows of WINDOW_FRAMES frames that share their edge
frame: the same figures as measuring it whole, in the memory of one window. CLIP
consistency is measured where the caller hands in an image embedder (metrics_setup.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..video_metrics.clip_consistency import Embedder

VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
ANIMATED_SUFFIXES = (".gif", ".webp", ".png", ".apng")
WINDOW_FRAMES = 33  # 32 adjacent pairs per measurement


def frames_of(path: Path) -> Iterator[np.ndarray]:
    """The file's frames, one at a time, as uint8 RGB [H, W, 3]; nothing for a file that is not a video or animation."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        import av

        with av.open(str(path)) as container:
            for frame in container.decode(container.streams.video[0]):
                yield frame.to_ndarray(format="rgb24")
    elif suffix in ANIMATED_SUFFIXES:
        from PIL import Image, ImageSequence

        with Image.open(path) as image:
            for frame in ImageSequence.Iterator(image):
                yield np.asarray(frame.convert("RGB"))


def _as_image_batch(frames: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(frames)).float() / 255.0  # F x [H, W, 3] uint8 -> [F, H, W, 3] in 0..1


def measure_file(path: Path, embed: Embedder | None = None) -> dict | None:
    """VideoMetrics.to_dict() of one file, or None when it holds fewer than two frames; ``embed``: for CLIP consistency."""
    from ..video_metrics import VideoMetrics, measure_video

    parts, window = [], []
    for frame in frames_of(path):
        window.append(frame)
        if len(window) == WINDOW_FRAMES:
            parts.append(measure_video(_as_image_batch(window), embed))
            window = window[-1:]  # the edge frame opens the next window: every adjacent pair is measured once
    if len(window) >= 2:
        parts.append(measure_video(_as_image_batch(window), embed))
    if not parts:
        return None
    joined = VideoMetrics(
        frames=1 + sum(part.frames - 1 for part in parts), height=parts[0].height, width=parts[0].width,
        warp_error=tuple(value for part in parts for value in part.warp_error),
        warp_kept_fraction=tuple(value for part in parts for value in part.warp_kept_fraction),
        ssim=tuple(value for part in parts for value in part.ssim),
        clip_consistency=None if embed is None else tuple(value for part in parts for value in part.clip_consistency))
    return joined.to_dict()


def measure_outputs(paths: list[Path], embed: Embedder | None = None) -> dict[str, dict]:
    """{output path: figures} for every output that holds two frames or more."""
    measured = {}
    for path in paths:
        figures = measure_file(Path(path), embed)
        if figures is not None:
            measured[str(path)] = figures
    return measured
