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
from comfy.ldm.modules.attention import SpatialTransformer, optimized_attention

from .context_windows import window_in_call
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
    """What a UNet call's self-attention runs besides plain attention (facts for the route decision)."""

    chain: list  # attn1_patch entries, in the order they run
    output_chain: list  # attn1_output_patch entries, in the order they run
    replacements: dict  # attn1 replacements by key: (name, number, index) or (name, number)


def attn1_patches(transformer_options: dict) -> Attn1Patches:
    patches = transformer_options.get("patches", {})
    return Attn1Patches(chain=list(patches.get("attn1_patch", [])), output_chain=list(patches.get("attn1_output_patch", [])),
                        replacements=attn1_replacements(transformer_options))


def set_attn1_patch(patcher: ModelPatcher, patch: Callable, restore: Callable, is_ours: Callable[[object], bool]) -> None:
    """Add ``patch`` last to the clone's ``attn1_patch`` chain and ``restore`` first to its ``attn1_output_patch`` chain,
    after removing earlier entries of ours (``is_ours``); other packs' entries stay where they are."""
    patches = patcher.model_options.setdefault("transformer_options", {}).setdefault("patches", {})
    for name in ("attn1_patch", "attn1_output_patch"):
        if name in patches:
            patches[name] = [p for p in patches[name] if not is_ours(p)]
    patcher.set_model_attn1_patch(patch)
    patches["attn1_output_patch"] = [restore, *patches.get("attn1_output_patch", [])]


@dataclasses.dataclass(frozen=True)
class AttentionCall:
    """What ComfyUI tells a self-attention call about itself (plain values)."""

    chunk_kinds: tuple[int, ...]  # cond_or_uncond: one entry per guidance chunk, 0 cond / 1 uncond
    window: tuple[list[int], int | None] | None  # a context window's frames and causal anchor frame, or None
    layer: tuple  # (block name, block number, transformer index), the key attn1 replacements are looked up by
    sigma: float | None
    sample_sigmas: tuple[float, ...] | None
    latent_size: tuple[int, int] | None  # (height, width) of the UNet's input (``original_shape``)


def attention_call(extra_options: dict) -> AttentionCall:
    """Facts of one attention call from its ``extra_options`` (checked on 0.3.75 and 0.8.0: the transformer options
    less the patches, plus ``block`` / ``block_index`` set by the UNet and its transformer)."""
    block = extra_options.get("block")
    sigmas, sample_sigmas = extra_options.get("sigmas"), extra_options.get("sample_sigmas")
    shape = extra_options.get("original_shape")  # [batch, channels, height, width(, ...)] of the UNet's input
    return AttentionCall(
        chunk_kinds=tuple(extra_options.get("cond_or_uncond") or [0]),
        window=window_in_call(extra_options),
        layer=(block[0], block[1], extra_options.get("block_index", 0)) if block is not None else (),
        sigma=float(sigmas.flatten()[0]) if sigmas is not None else None,
        sample_sigmas=tuple(float(s) for s in sample_sigmas) if sample_sigmas is not None else None,
        latent_size=(int(shape[2]), int(shape[3])) if shape is not None and len(shape) >= 4 else None,
    )


def self_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra_options: dict) -> torch.Tensor:
    """What ComfyUI's CrossAttention does with projected q/k/v of a self-attention call (heads, precision, the user's
    backend override), for an ``attn1`` replacement. Checked on 0.3.75 and 0.8.0."""
    return optimized_attention(q, k, v, extra_options["n_heads"], attn_precision=extra_options.get("attn_precision"),
                               transformer_options=extra_options)


def self_attention_layers(patcher: ModelPatcher) -> list[tuple]:
    """(block name, block number, transformer index) of every self-attention in the UNet, as ComfyUI keys them.

    Checked on 0.3.75 and 0.8.0 (``openaimodel.UNetModel`` names its blocks "input" / "middle" / "output" by index).
    """
    unet = patcher.model.diffusion_model
    blocks = [("input", i, b) for i, b in enumerate(unet.input_blocks)] + [("middle", 0, unet.middle_block)] + \
             [("output", i, b) for i, b in enumerate(unet.output_blocks)]
    return [(name, number, index) for name, number, block in blocks for layer in block if isinstance(layer, SpatialTransformer)
            for index, transformer in enumerate(layer.transformer_blocks) if not transformer.disable_self_attn]


def attn1_replacements(transformer_options: dict) -> dict[tuple, Callable]:
    """The ``attn1`` replacements of a call (or a clone's options), by key: (name, number, index) or (name, number)."""
    return dict(transformer_options.get("patches_replace", {}).get("attn1", {}))


def set_attn1_replacement(patcher: ModelPatcher, layers: list[tuple], replacement: Callable, is_ours: Callable[[object], bool]) -> list:
    """Make ``replacement`` the ``attn1`` replacement of every layer in ``layers`` that no other node replaces (by its own
    key or its block's); returns the layers it took. Checked on 0.3.75 and 0.8.0 (``set_model_attn1_replace``)."""
    existing = attn1_replacements(patcher.model_options.get("transformer_options", {}))
    taken = [layer for layer in layers
             if all(is_ours(existing[key]) for key in (layer, layer[:2]) if key in existing)]
    for name, number, index in taken:
        patcher.set_model_attn1_replace(replacement, name, number, index)
    return taken
