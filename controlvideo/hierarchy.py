"""ControlVideo's hierarchical sampler for long videos: which frames each UNet pass holds.

The reference (``generate_long_video``) splits an L-frame clip with a key-frame spacing of
``window - 1`` (``window = int(sqrt(L))`` in its inference script): the key frames
``0, window-1, 2(window-1), ...`` plus the last frame are denoised together with all-frames
attention; then each clip, the frames strictly between two consecutive key frames, is run
with those two key frames put first, and its frames take keys and values from the key
frames only. Every pass sees the same noisy latents of one step, so the passes of a step
are independent: a frame's prediction comes from exactly one pass (key frames from the
key-frame pass, the others from their clip); a clip's copies of its key frames are context.

L=15: spacing 2, keys 0,2,...,14, clips [0,2,1], [2,4,3], ..., [12,14,13].
L=100: window 10, spacing 9, keys 0,9,...,99, 11 clips of 8 in-between frames.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from itertools import pairwise

MIN_WINDOW = 3  # the reference asserts it: a spacing of at least 2 leaves a frame between key frames


class HierarchyError(ValueError):
    """A key-frame window that cannot split the clip."""


@dataclasses.dataclass(frozen=True)
class HierarchicalLayout:
    frame_count: int
    key_frames: tuple[int, ...]
    clips: tuple[tuple[int, ...], ...]  # the frames strictly between two consecutive key frames, for each such pair

    def passes(self) -> list[list[int]]:
        """The frames of every UNet pass of one step, in the call's order: the key frames, then each clip led by its two key frames."""
        return [list(self.key_frames), *([clip[0] - 1, clip[-1] + 1, *clip] for clip in self.clips)]

    def weights(self, frames: Sequence[int]) -> list[float]:
        """For a pass holding ``frames``: 1 for each frame whose prediction this pass gives, 0 for a clip's key frames."""
        if list(frames) == list(self.key_frames):
            return [1.0] * len(frames)
        keys = set(self.key_frames)
        return [0.0 if frame in keys else 1.0 for frame in frames]

    @property
    def largest_pass(self) -> int:
        return max(len(frames) for frames in self.passes())


def default_window(frame_count: int) -> int:
    """The reference's window for L frames, ``int(sqrt(L))``, raised to its minimum of 3."""
    return max(MIN_WINDOW, math.isqrt(frame_count))


def hierarchical_layout(frame_count: int, window: int = 0) -> HierarchicalLayout:
    """Key frames and clips for ``frame_count`` frames; ``window`` 0 picks the reference's ``int(sqrt(L))``."""
    window = window or default_window(frame_count)
    if window < MIN_WINDOW:
        raise HierarchyError(f"ControlVideo long video: a key-frame window of {window} leaves no frame between key frames; "
                             f"use at least {MIN_WINDOW} (or 0 for the reference's int(sqrt(frames))).")
    spacing = window - 1
    keys = list(range(0, frame_count, spacing))
    if keys[-1] != frame_count - 1:
        keys.append(frame_count - 1)
    # The frames strictly between consecutive key frames; the appended last frame may follow its key frame directly.
    clips = [tuple(range(start + 1, end)) for start, end in pairwise(keys) if end - start >= 2]
    return HierarchicalLayout(frame_count=frame_count, key_frames=tuple(keys), clips=tuple(clips))


def clip_key_positions(frame_ids: Sequence[int], reference_positions: bool) -> tuple[int, ...] | None:
    """In a clip pass (its two key frames first, then the frames between them), the positions whose keys and values
    every frame attends to; None for any other pass (the key frames, a core context window, the whole clip).

    ``reference_positions``: the reference's ``[0, -1]``, the first key frame and the last in-between frame (most
    likely a slip for ``[0, 1]``, the two key frames, which is the default).
    """
    ids = list(frame_ids)
    if len(ids) < 3 or not ids[0] < ids[1] or ids[2:] != list(range(ids[0] + 1, ids[1])):
        return None
    return (0, len(ids) - 1) if reference_positions else (0, 1)
