"""A frame-source strategy as ComfyUI's ``attn1_patch``: ``(n, context, value, extra_options) -> (n, context, value)``.

The patch runs on a self-attention's normalised hidden states before ComfyUI projects
them, so it chains with other ``attn1_patch`` entries and with any ``attn1`` replacement
(which receives the projected K/V of our sources). Q is never touched. Cross-attention
(attn2) is not patched at all.
"""

from __future__ import annotations

import dataclasses

import torch

from .layout import frame_layout
from .strategies import FrameSourceStrategy


@dataclasses.dataclass(frozen=True)
class FrameAttentionPatch:
    strategy: FrameSourceStrategy

    def __call__(self, n: torch.Tensor, context: torch.Tensor, value: torch.Tensor, extra_options: dict):
        layout = frame_layout(n.shape[0], extra_options.get("cond_or_uncond"))
        if layout.frames == 1:
            return n, context, value  # one frame attends to itself: plain self-attention
        new_context = self.strategy.sources(context, layout)
        # ComfyUI passes the same tensor as context and value unless an earlier patch split them.
        new_value = new_context if value is context else self.strategy.sources(value, layout)
        return n, new_context, new_value
