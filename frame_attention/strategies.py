"""Strategies: which tokens become the keys and values of each frame's self-attention, stated as a plan.

A strategy sees the call's context and the hidden states its sources come from and returns
a ``SourcePlan`` (or None to leave the call alone); it never reshapes tensors. Sources are
picked inside each guidance chunk only, so cond never sees uncond.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import torch

from .context import CallFacts, FrameContext, frame_context
from .plan import SourcePlan, combine


class Strategy(Protocol):
    def plan(self, ctx: FrameContext, tokens: torch.Tensor) -> SourcePlan | None: ...


@dataclasses.dataclass(frozen=True)
class AnchorStrategy:
    """Text2Video-Zero: every frame attends to the anchor frame's tokens (with_previous: and to frame f-1's).

    ``anchor`` counts frames inside the batch the UNet sees: the clip, or the context window
    when core context windows are on. ``with_previous`` is Tune-A-Video's sparse-causal
    variant: K/V = [anchor ; previous frame] (frame 0's previous frame is frame 0).
    """

    anchor: int = 0
    with_previous: bool = False

    def plan(self, ctx: FrameContext, tokens: torch.Tensor) -> SourcePlan | None:
        frames = ctx.layout.frames
        if frames == 1:
            return None  # one frame attends to itself: plain self-attention
        if not 0 <= self.anchor < frames:
            raise ValueError(
                f"cross-frame attention: anchor frame {self.anchor} is outside the {frames} frames the UNet sees "
                f"in this pass (the clip, or one context window); use an anchor below {frames}."
            )
        if not self.with_previous:
            return SourcePlan(frames=(self.anchor,))
        return SourcePlan(frames=tuple((self.anchor, max(f - 1, 0)) for f in range(frames)))


@dataclasses.dataclass(frozen=True)
class AllFramesStrategy:
    """ControlVideo's fully cross-frame attention: every frame attends to the tokens of all frames of its chunk."""

    def plan(self, ctx: FrameContext, tokens: torch.Tensor) -> SourcePlan | None:
        frames = ctx.layout.frames
        return None if frames == 1 else SourcePlan(frames=tuple(range(frames)))


def plan_features(features, tokens: torch.Tensor, facts: CallFacts) -> tuple[FrameContext, SourcePlan | None]:
    """One call's context and the combined plan of every ``(key, strategy)`` feature for ``tokens`` [batch, N, C]."""
    ctx = frame_context(tokens.shape[0], facts)
    return ctx, combine([strategy.plan(ctx, tokens) for _, strategy in features], ctx.layout.frames)


STRATEGIES = {"anchor": AnchorStrategy, "all_frames": AllFramesStrategy}
