"""Shared sources without copies: a chunk's frames as one query sequence.

When every frame of a guidance chunk attends to the same source tokens, attention of
``[B*F, N, C]`` queries against those sources repeated per frame equals attention of the
same queries laid out ``[B, F*N, C]`` against the sources once, ``[B, M, C]``: softmax runs
per query over the same keys. Both layouts are views of one buffer, so K/V are projected
from M tokens per chunk instead of F*M, and no per-frame copy of the sources is made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def fold_frames(hidden: torch.Tensor, chunks: int) -> torch.Tensor:
    # [B*F, N, C] -> [B, F*N, C]
    return hidden.reshape(chunks, -1, hidden.shape[-1])


def unfold_frames(hidden: torch.Tensor, batch: int) -> torch.Tensor:
    # [B, F*N, C] -> [B*F, N, C]
    return hidden.reshape(batch, -1, hidden.shape[-1])


def fold_allowed(attn1_chain: Sequence, output_chain: Sequence, is_ours: Callable[[object], bool]) -> bool:
    """Whether the patch chain lets a chunk's frames be folded between our patch and our restore.

    Only when no other patch can see the folded layout: our patch runs last among the
    ``attn1_patch`` entries and our restore first among the ``attn1_output_patch`` entries.
    (Another node's ``attn1`` replacement would see it too: ``route`` rules those layers out.)
    """
    return bool(attn1_chain) and is_ours(attn1_chain[-1]) and bool(output_chain) and is_ours(output_chain[0])
