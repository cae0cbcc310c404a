"""The reference's long-video chunks: the anchor frame prepended to every chunk."""

from __future__ import annotations


def anchored_chunks(frames: int, chunk_size: int) -> list[list[int]]:
    """Chunk starts at arange(0, F, chunk_size - 1); each chunk is [0] + its frames (the first one is [0, 0, ...]).

    F=24, chunk_size 8: [0,0..6], [0,7..13], [0,14..20], [0,21..23]. Every chunk holds frame 0
    first, so cross-frame attention with anchor 0 attends to the clip's first frame everywhere.
    """
    if chunk_size < 2:
        raise ValueError(f"chunk_size {chunk_size} must be at least 2 (the anchor plus one frame)")
    step = chunk_size - 1
    return [[0] + list(range(start, min(start + step, frames))) for start in range(0, frames, step)]
