"""Attention: ComfyUI's attention call (with the user's backend override) and the attn1 patch chain.

Checked on ComfyUI 0.3.75 and 0.8.0: ``optimized_attention(q, k, v, heads, transformer_options=...)``
hands the call to ``transformer_options["optimized_attention_override"]`` when an
attention-backend node set one; ``attn1_patch`` entries run in order on a self-attention's
hidden states before Q/K/V projection, ``attn1_output_patch`` entries on its output, and an
``attn1`` entry in ``patches_replace`` replaces the attention itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from comfy.ldm.modules.attention import optimized_attention

from .patcher import ModelPatcher

AttentionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, int], torch.Tensor]


def attention_for(transformer_options: dict | None) -> AttentionFn:
    """ComfyUI's attention for this call: ``fn(q, k, v, heads)`` on [batch, tokens, heads*dim], honouring an override."""
    options = transformer_options or {}

    def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
        return optimized_attention(q, k, v, heads, transformer_options=options)

    return attention


@dataclasses.dataclass(frozen=True)
class Attn1Patches:
    """What a UNet call's self-attention runs besides plain attention (facts for the fold decision)."""

    chain: list  # attn1_patch entries, in the order they run
    output_chain: list  # attn1_output_patch entries, in the order they run
    replaced: bool  # an attn1 replacement (PAG, SAG, ...) is set for some block


def attn1_patches(transformer_options: dict) -> Attn1Patches:
    patches = transformer_options.get("patches", {})
    return Attn1Patches(chain=list(patches.get("attn1_patch", [])), output_chain=list(patches.get("attn1_output_patch", [])),
                        replaced=bool(transformer_options.get("patches_replace", {}).get("attn1")))


def set_attn1_patch(patcher: ModelPatcher, patch: Callable, restore: Callable, is_ours: Callable[[object], bool]) -> None:
    """Add ``patch`` last to the clone's ``attn1_patch`` chain and ``restore`` first to its ``attn1_output_patch`` chain,
    after removing earlier entries of ours (``is_ours``); other packs' entries stay where they are."""
    patches = patcher.model_options.setdefault("transformer_options", {}).setdefault("patches", {})
    for name in ("attn1_patch", "attn1_output_patch"):
        if name in patches:
            patches[name] = [p for p in patches[name] if not is_ours(p)]
    patcher.set_model_attn1_patch(patch)
    patches["attn1_output_patch"] = [restore, *patches.get("attn1_output_patch", [])]
