"""Text encoding: several prompts as one CONDITIONING whose batch row i is prompt i.

Checked on ComfyUI 0.3.75 and 0.8.0: ``clip.tokenize`` + ``clip.encode_from_tokens_scheduled``
(what CLIPTextEncode runs) give ``[[cond [1, T, C], {"pooled_output": [1, P], ...}]]``; a cond
whose batch equals the latent's is used row for row by the sampler (``repeat_to_batch_size``
keeps it). Prompts of different token lengths are repeated to a common length, as ComfyUI
itself does when it batches conds (``CONDCrossAttn.concat``). A conditioning entry's
``start_percent``/``end_percent`` (what ConditioningSetTimestepRange sets) limit it to part of
the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def encode_prompt(clip, prompt: str) -> tuple[torch.Tensor, dict]:
    """(cond [1, T, C], {"pooled_output": ...}) as CLIPTextEncode makes it."""
    cond, extras = clip.encode_from_tokens_scheduled(clip.tokenize(prompt))[0]
    return cond, extras


def batch_rows(encoded: Sequence[tuple[torch.Tensor, dict]], **keys) -> list:
    """One conditioning entry [cond [B, T, C], {"pooled_output": [B, P], **keys}] from per-prompt encodings, in order."""
    length = math.lcm(*(cond.shape[1] for cond, _ in encoded))
    # each [1, T, C] -> [1, length, C] (repeated along tokens) -> [B, length, C]
    conds = torch.cat([cond.repeat(1, length // cond.shape[1], 1) for cond, _ in encoded])
    pooled = [extra.get("pooled_output") for _, extra in encoded]
    extras = {"pooled_output": torch.cat(pooled)} if all(p is not None for p in pooled) else {}
    return [conds, {**extras, **keys}]


def encode_prompts(clip, prompts: Sequence[str]) -> list:
    """One CONDITIONING with a row per prompt, in order."""
    return [batch_rows([encode_prompt(clip, prompt) for prompt in prompts])]
