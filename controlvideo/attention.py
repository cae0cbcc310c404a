"""ControlVideo's fully cross-frame attention as a frame-attention strategy.

Every frame's self-attention takes keys and values from all frames of its guidance chunk
(the clip, or the frames of one pass: a core context window, the hierarchical sampler's key
frames). In a hierarchical clip pass the frames attend to the pass's key frames only.
Shared by the whole chunk, so frame attention folds it or attends per chunk from one buffer:
memory linear in frames, the (F*N)^2 score matrix never built.
"""

from __future__ import annotations

import dataclasses

import torch

from ..frame_attention import AllFramesStrategy, FrameContext, SourcePlan
from .hierarchy import clip_key_positions


@dataclasses.dataclass(frozen=True)
class FullyCrossFrameStrategy:
    """Frame attention's all-frames strategy, except in a hierarchical clip pass (its key frames' positions)."""

    reference_clip_positions: bool = False  # hierarchical clips attend to the reference's positions [0, -1]

    def plan(self, ctx: FrameContext, tokens: torch.Tensor) -> SourcePlan | None:
        keys = clip_key_positions(ctx.frame_ids, self.reference_clip_positions)
        return SourcePlan(frames=keys) if keys is not None else AllFramesStrategy().plan(ctx, tokens)
