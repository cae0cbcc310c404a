"""What a frame-attention strategy knows of one attention call, built once per call.

The glue reads the host's facts off the call's options (``CallFacts``: plain values, no
host types); ``frame_context`` turns them into what strategies use: the chunk layout, the
frames' global ids, the layer, the sampling step and the run's state.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .layout import FrameLayout, frame_layout
from .run_state import RunState


@dataclasses.dataclass(frozen=True)
class CallFacts:
    """One attention call as the host describes it."""

    chunk_kinds: tuple[int, ...] = (0,)  # one entry per guidance chunk on the batch axis: 0 cond, 1 uncond (cond_or_uncond)
    window_frames: tuple[int, ...] | None = None  # a context window's clip frames, in the call's order; None: no window
    layer: tuple = ()  # (block name, block number, transformer index): which self-attention this is
    sigma: float | None = None  # the call's noise level
    sample_sigmas: tuple[float, ...] | None = None  # the sampling run's schedule
    run: RunState | None = None  # the sampling run's state (seed, banks)
    latent_size: tuple[int, int] | None = None  # (height, width) of the UNet's input latent, to tell a layer's grid


@dataclasses.dataclass(frozen=True)
class FrameContext:
    layout: FrameLayout
    chunk_kinds: tuple[int, ...]
    frame_ids: tuple[int, ...]  # global id of each frame of a chunk: the clip's, or the window's frames when windowed
    layer: tuple
    step: int | None  # index into the run's schedule; None outside a sampling run or between its steps
    run: RunState | None
    latent_size: tuple[int, int] | None = None

    def downscale(self, tokens: int) -> int | None:
        """How many latent pixels a token of this layer spans per side (1, 2, 4, ...), from the latent's size."""
        if self.latent_size is None or tokens <= 0:
            return None
        return round((self.latent_size[0] * self.latent_size[1] / tokens) ** 0.5)


def step_index(sigma: float | None, sample_sigmas: Sequence[float] | None) -> int | None:
    """The step whose sigma the call runs at (relative tolerance 1e-4), from the schedule, never from a call counter."""
    if sigma is None or not sample_sigmas:
        return None
    matches = [index for index, value in enumerate(sample_sigmas) if abs(value - sigma) <= 1e-4 * max(abs(value), 1e-12)]
    return matches[0] if matches else None


def frame_context(batch: int, facts: CallFacts) -> FrameContext:
    layout = frame_layout(batch, facts.chunk_kinds)
    windowed = facts.window_frames is not None and len(facts.window_frames) == layout.frames
    return FrameContext(
        layout=layout,
        chunk_kinds=tuple(facts.chunk_kinds) or (0,),
        frame_ids=tuple(facts.window_frames) if windowed else tuple(range(layout.frames)),
        layer=tuple(facts.layer),
        step=step_index(facts.sigma, facts.sample_sigmas),
        run=facts.run,
        latent_size=facts.latent_size,
    )
