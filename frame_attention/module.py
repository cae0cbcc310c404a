"""Frame-attention features as a drop-in self-attention module, for models that get no attention patches.

ComfyUI runs a ControlNet without ``transformer_options``, so ``attn1_patch`` never reaches it
and it never learns how its batch splits into guidance chunks. There each self-attention
module is swapped (on a patcher clone) for this wrapper, and the ControlNet itself tells
``GuidanceChunks`` the chunk count for the duration of each call. The wrapper owns the whole
attention call, so shared sources always fold; per-frame sources are copied per frame.
"""

from __future__ import annotations

import torch
from torch import nn

from ..windowing import pass_frame_ids
from .context import CallFacts
from .fold import fold_frames, unfold_frames
from .gather import chunk_sources, frame_sources
from .strategies import Strategy, plan_features


class GuidanceChunks:
    """How many guidance chunks the current call's batch holds, and its context window; set by the caller around each call."""

    def __init__(self) -> None:
        self.count: int | None = None
        self.window: tuple[list[int], int | None] | None = None  # (the window's frames, its causal anchor frame or None)


class FrameSourcedSelfAttention(nn.Module):
    """``inner`` (a ComfyUI CrossAttention used as self-attention) with keys and values from ``features``."""

    def __init__(self, inner: nn.Module, features: tuple[tuple[str, Strategy], ...], chunks: GuidanceChunks) -> None:
        super().__init__()
        self.inner = inner
        self.features = features
        self.chunks = chunks

    def forward(self, x: torch.Tensor, context=None, value=None, mask=None, transformer_options=None):
        options = transformer_options or {}
        if context is not None or self.chunks.count is None:
            # not a plain self-attention call, or called outside a chunk-aware caller: leave it alone
            return self.inner(x, context=context, value=value, mask=mask, transformer_options=options)
        window = tuple(pass_frame_ids(*self.chunks.window)) if self.chunks.window is not None else None
        ctx, plan = plan_features(self.features, x, CallFacts(chunk_kinds=(0,) * self.chunks.count, window_frames=window))
        if plan is None or plan.sampled is not None:  # sampled tokens need banks and a sampling run: not in a ControlNet
            return self.inner(x, mask=mask, transformer_options=options)
        if plan.shared:
            shared = chunk_sources(x, ctx.layout, plan)
            out = self.inner(fold_frames(x, ctx.layout.chunks), context=shared, value=shared, mask=mask, transformer_options=options)
            return unfold_frames(out, x.shape[0])
        sources = frame_sources(x, ctx.layout, plan)
        return self.inner(x, context=sources, value=sources, mask=mask, transformer_options=options)
