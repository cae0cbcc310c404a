"""A frame-source strategy as a drop-in self-attention module, for models that get no attention patches.

ComfyUI 0.3.75 runs a ControlNet without ``transformer_options``, so ``attn1_patch`` never
reaches it and it never learns how its batch splits into guidance chunks. There the
original self-attention module is swapped (on a patcher clone) for this wrapper, and the
ControlNet itself tells ``GuidanceChunks`` the chunk count for the duration of each call.
"""

from __future__ import annotations

import torch
from torch import nn

from .fold import fold_frames, unfold_frames
from .layout import frame_layout
from .strategies import FrameSourceStrategy


class GuidanceChunks:
    """How many guidance chunks the current call's batch holds; set by the caller around each call."""

    def __init__(self) -> None:
        self.count: int | None = None


class FrameSourcedSelfAttention(nn.Module):
    """``inner`` (a ComfyUI CrossAttention used as self-attention) with K/V sources from ``strategy``."""

    def __init__(self, inner: nn.Module, strategy: FrameSourceStrategy, chunks: GuidanceChunks) -> None:
        super().__init__()
        self.inner = inner
        self.strategy = strategy
        self.chunks = chunks

    def forward(self, x: torch.Tensor, context=None, value=None, mask=None, transformer_options=None):
        options = transformer_options or {}
        if context is not None or self.chunks.count is None:
            # not a plain self-attention call, or called outside a chunk-aware caller: leave it alone
            return self.inner(x, context=context, value=value, mask=mask, transformer_options=options)
        layout = frame_layout(x.shape[0], [0] * self.chunks.count)
        if layout.frames == 1:
            return self.inner(x, mask=mask, transformer_options=options)
        shared = self.strategy.shared_sources(x, layout)
        if shared is not None:
            out = self.inner(fold_frames(x, layout.chunks), context=shared, value=shared, mask=mask, transformer_options=options)
            return unfold_frames(out, x.shape[0])
        sources = self.strategy.sources(x, layout)
        return self.inner(x, context=sources, value=sources, mask=mask, transformer_options=options)
