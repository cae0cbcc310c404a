"""Temporal-consistency figures of a job's saved videos, for the manifest (``--metrics``).

Videos are decoded with PyAV (ComfyUI's own video dependency), animated images (GIF,
WebP, APNG) with Pillow; a file with fewer than two frames (a still image, a latent)
has no temporal consistency and is left out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

VIDEO_SUFFIXES = (".mp4", ".webm", ".mkv", ".mov", ".avi")
ANIMATED_SUFFIXES = (".gif", ".webp", ".png", ".apng")


def read_frames(path: Path) -> torch.Tensor | None:
    """Every frame as ComfyUI's IMAGE layout [F, H, W, 3] floats in 0..1, or None for a file that holds no frames."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES:
        import av

        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(container.streams.video[0])]
    elif suffix in ANIMATED_SUFFIXES:
        from PIL import Image, ImageSequence

        with Image.open(path) as image:
            frames = [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]
    else:
        return None
    if not frames:
        return None
    return torch.from_numpy(np.stack(frames)).float() / 255.0  # [F, H, W, 3]


def measure_outputs(paths: list[Path]) -> dict[str, dict]:
    """{output path: figures (VideoMetrics.to_dict())} for every output that holds two frames or more."""
    from ..video_metrics import measure_video

    measured = {}
    for path in paths:
        frames = read_frames(Path(path))
        if frames is not None and frames.shape[0] >= 2:
            measured[str(path)] = measure_video(frames).to_dict()
    return measured
