"""How a UNet batch splits into guidance chunks and frames."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


class FrameLayoutError(ValueError):
    """The batch does not split evenly into the guidance chunks ComfyUI says it holds."""


@dataclasses.dataclass(frozen=True)
class FrameLayout:
    """``chunks`` guidance chunks (cond, uncond, ...) of ``frames`` frames each, chunk-major."""

    chunks: int
    frames: int


def frame_layout(batch: int, cond_or_uncond: Sequence[int] | None) -> FrameLayout:
    """ComfyUI stacks one block of frames per guidance chunk: batch = len(cond_or_uncond) * frames.

    ``cond_or_uncond`` is [0], [1], [1, 0], ... : one entry per chunk, whether cond and
    uncond run together or in separate passes, and inside a context window the frames are
    the window's frames. Missing (a model called outside ComfyUI's sampler) means one chunk.
    """
    chunks = len(cond_or_uncond) if cond_or_uncond else 1
    if batch % chunks:
        raise FrameLayoutError(
            f"frame attention: a batch of {batch} does not split into {chunks} guidance chunks "
            f"(cond_or_uncond={list(cond_or_uncond or [])}); the latent batch must hold the same frames for each chunk."
        )
    return FrameLayout(chunks=chunks, frames=batch // chunks)
