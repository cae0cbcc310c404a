"""Facts about a written video, read back with PyAV (ComfyUI's own video dependency)."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class VideoFacts:
    path: Path
    frames: int
    width: int
    height: int
    fps: Fraction
    codec: str

    def __str__(self) -> str:
        return f"{self.path} ({self.frames} frames, {self.width}x{self.height}, {float(self.fps):g} fps, {self.codec})"


def describe_video(path: Path) -> VideoFacts:
    """Decode every frame (the container's frame count can be missing or wrong)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return VideoFacts(Path(path), frames, stream.codec_context.width, stream.codec_context.height,
                          stream.average_rate or stream.guessed_rate, stream.codec_context.name)
