"""A frame-source strategy as ComfyUI's ``attn1_patch``: ``(n, context, value, extra_options) -> (n, context, value)``.

The patch runs on a self-attention's normalised hidden states before ComfyUI projects
them, so it chains with other ``attn1_patch`` entries and with any ``attn1`` replacement
(which receives the projected K/V of our sources). Q is never touched. Cross-attention
(attn2) is not patched at all.

When the strategy's sources are shared by all frames of a chunk, the patch folds the
frames into one query sequence instead of copying the sources per frame (see ``fold``),
but only when the options carry ``FOLD_BATCH_OPTION``: the caller sets it (to the UNet
batch) only for calls in which nothing but our own attention and ``RestoreFrameBatch``
(the first ``attn1_output_patch``) sees the folded layout.
"""

from __future__ import annotations

import dataclasses

import torch

from .fold import fold_frames, unfold_frames
from .layout import frame_layout
from .strategies import FrameSourceStrategy

FOLD_BATCH_OPTION = "kinema_frame_fold_batch"


@dataclasses.dataclass(frozen=True)
class FrameAttentionPatch:
    strategy: FrameSourceStrategy

    def __call__(self, n: torch.Tensor, context: torch.Tensor, value: torch.Tensor, extra_options: dict):
        layout = frame_layout(n.shape[0], extra_options.get("cond_or_uncond"))
        if layout.frames == 1:
            return n, context, value  # one frame attends to itself: plain self-attention
        if extra_options.get(FOLD_BATCH_OPTION) == n.shape[0]:
            shared = self.strategy.shared_sources(context, layout)
            if shared is not None:
                shared_value = shared if value is context else self.strategy.shared_sources(value, layout)
                return fold_frames(n, layout.chunks), shared, shared_value
        new_context = self.strategy.sources(context, layout)
        # ComfyUI passes the same tensor as context and value unless an earlier patch split them.
        new_value = new_context if value is context else self.strategy.sources(value, layout)
        return n, new_context, new_value


@dataclasses.dataclass(frozen=True)
class RestoreFrameBatch:
    """``attn1_output_patch``: gives a folded attention output its frame batch back, ``[B, F*N, C] -> [B*F, N, C]``."""

    def __call__(self, n: torch.Tensor, extra_options: dict) -> torch.Tensor:
        batch = extra_options.get(FOLD_BATCH_OPTION)
        chunks = len(extra_options.get("cond_or_uncond") or [0])
        if batch is None or batch == chunks or n.shape[0] != chunks:
            return n  # not folded
        return unfold_frames(n, batch)


def is_frame_attention_patch(entry: object) -> bool:
    """Whether a patch-chain entry is ours (re-applying a node removes these before adding its own)."""
    return isinstance(entry, (FrameAttentionPatch, RestoreFrameBatch))
