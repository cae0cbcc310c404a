"""Strategies: which frames' tokens become the keys and values of each frame's self-attention.

A strategy maps hidden states ``[chunks*frames, tokens, C]`` to the source tokens
``[chunks*frames, tokens*sources, C]`` that ComfyUI then projects to K and V. Sources are
picked inside each guidance chunk only, so cond never sees uncond. Memory is linear in the
frame count: each frame gets a fixed number of source frames, never all of them.

When every frame of a chunk has the same sources (``shared_sources``), the callers skip
the per-frame copy altogether: the chunk's frames become one long query sequence against
those sources once (see ``fold``), which is the same attention at less memory.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import torch

from .layout import FrameLayout


class FrameSourceStrategy(Protocol):
    name: str

    def sources(self, hidden: torch.Tensor, layout: FrameLayout) -> torch.Tensor: ...

    def shared_sources(self, hidden: torch.Tensor, layout: FrameLayout) -> torch.Tensor | None: ...


@dataclasses.dataclass(frozen=True)
class AnchorStrategy:
    """Text2Video-Zero: every frame attends to the anchor frame's tokens (with_previous: and to frame f-1's).

    ``anchor`` counts frames inside the batch the UNet sees: the clip, or the context window
    when core context windows are on. ``with_previous`` is Tune-A-Video's sparse-causal
    variant: K/V = [anchor ; previous frame] (frame 0's previous frame is frame 0).
    """

    anchor: int = 0
    with_previous: bool = False
    name: str = "anchor"

    def check(self, layout: FrameLayout) -> None:
        if not 0 <= self.anchor < layout.frames:
            raise ValueError(
                f"cross-frame attention: anchor frame {self.anchor} is outside the {layout.frames} frames the UNet sees "
                f"in this pass (the clip, or one context window); use an anchor below {layout.frames}."
            )

    def sources(self, hidden: torch.Tensor, layout: FrameLayout) -> torch.Tensor:
        self.check(layout)
        _, tokens, channels = hidden.shape
        # [B*F, N, C] -> [B, F, N, C]
        frames = hidden.view(layout.chunks, layout.frames, tokens, channels)
        # [B, 1, N, C] -> [B, F, N, C] (a view: no copy yet)
        picked = frames[:, self.anchor:self.anchor + 1].expand(-1, layout.frames, -1, -1)
        if self.with_previous:
            previous = torch.arange(layout.frames, device=hidden.device).sub(1).clamp(min=0)
            # [B, F, N, C] (frame f holds frame f-1) -> [B, F, 2N, C]
            picked = torch.cat([picked, frames[:, previous]], dim=2)
        # [B, F, M, C] -> [B*F, M, C]
        return picked.reshape(layout.chunks * layout.frames, -1, channels)

    def shared_sources(self, hidden: torch.Tensor, layout: FrameLayout) -> torch.Tensor | None:
        """The anchor's tokens once per chunk, [B, N, C] (a view), when all frames share them; else None."""
        if self.with_previous:
            return None  # each frame has its own previous frame
        self.check(layout)
        _, tokens, channels = hidden.shape
        # [B*F, N, C] -> [B, F, N, C] -> [B, N, C]
        return hidden.view(layout.chunks, layout.frames, tokens, channels)[:, self.anchor]


STRATEGIES = {"anchor": AnchorStrategy}
