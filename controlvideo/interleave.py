"""ControlVideo's interleaved-frame smoother: which frames are replaced, by which pair, and at which steps.

Worked out from the reference's denoising loop (YBYBZhang/ControlVideo, ``pipeline_controlvideo.py``).
At two consecutive steps near 60% of a 50-step DDIM schedule the predicted clean video is decoded
and frames are replaced by the midpoint of two others:

- phase "odd" (the reference's even loop index, i = 30): odd frame 2v+1 <- (2v, 2v+2) for every odd
  frame with an even frame on each side; the last frame of an even-length clip is left as it is.
- phase "even" (odd loop index, i = 31): anchors = [0] + the odd frames (+ [L-1] when L is odd);
  even frame 2v <- (anchor v, anchor v+1). The reference's quirk is kept: frame 0 becomes the
  midpoint of frames 0 and 1 (and the last frame of an odd clip the midpoint of L-2 and L-1).

Within one firing no frame is read after it is written (the only frames both read and written,
0 and the last frame of an odd clip, are read by their own replacement), so every replacement of
a firing reads the unsmoothed prediction and they can run in any grouping (``reads_precede_writes``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

PHASES = ("odd", "even")
OFF = 1.0  # a fraction at the end of the schedule: that phase never fires


class Replacement(NamedTuple):
    target: int  # the frame that is replaced
    first: int  # ... by the midpoint of these two frames
    second: int


def replacements(frame_count: int, phase: str) -> tuple[Replacement, ...]:
    """The reference's replacements for a clip of ``frame_count`` frames, in its order."""
    if phase not in PHASES:
        raise ValueError(f"Interleaved-frame smoother: phase {phase!r} is not one of {PHASES}.")
    if frame_count < 1:
        raise ValueError(f"Interleaved-frame smoother: a clip needs at least 1 frame; got {frame_count}.")
    even, odd = list(range(0, frame_count, 2)), list(range(1, frame_count, 2))
    if phase == "odd":
        return tuple(Replacement(odd[v], even[v], even[v + 1]) for v in range(len(even) - 1))
    anchors = [0, *odd] + ([frame_count - 1] if frame_count % 2 else [])
    return tuple(Replacement(even[v], anchors[v], anchors[v + 1]) for v in range(len(anchors) - 1))


def reads_precede_writes(table: tuple[Replacement, ...]) -> bool:
    """True when, applied in order, no replacement reads a frame an earlier one already wrote."""
    written: set[int] = set()
    for target, first, second in table:
        if first in written or second in written:
            return False
        written.add(target)
    return True


def step_of(fraction: float, steps: int) -> int:
    """The step during which ``fraction`` of the schedule is reached: floor(fraction * steps).

    The 1e-9 absorbs binary rounding (0.58 * 50 = 28.999999999999996 is step 29).
    """
    return math.floor(fraction * steps + 1e-9)


def firing_steps(steps: int, odd_at: float, even_at: float) -> dict[int, str]:
    """Step index -> phase for a schedule of ``steps`` steps (the sampler's sigmas minus one).

    Each phase fires at ``step_of(its fraction)``: 0.6 and 0.62 give steps 30 and 31 of 50, the
    reference's loop indices. When both land on one step (few steps), the phase with the larger
    fraction (the even one on a tie) fires one step later, so the two never merge; a phase whose
    step is at or past ``steps`` (a fraction of 1.0, or a step pushed past the end) never fires.
    """
    odd, even = step_of(odd_at, steps), step_of(even_at, steps)
    if odd == even:
        if even_at >= odd_at:
            even += 1
        else:
            odd += 1
    return {step: phase for step, phase in sorted(((odd, "odd"), (even, "even"))) if 0 <= step < steps}
