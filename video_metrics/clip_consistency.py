"""CLIP consistency: the cosine similarity of consecutive frames' image embeddings.

The embedder is a callable ``embed(frames [F, H, W, 3]) -> [F, D]`` handed in by the caller (the node builds one from
a CLIP vision model through the glue), so this code never loads a model. Higher is steadier; 1 means the embedder
sees the same picture in both frames. A zero embedding has no direction: its pairs score 0.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

Embedder = Callable[[torch.Tensor], torch.Tensor]
NORM_FLOOR = 1e-12  # an embedding with a smaller norm counts as zero (cosine 0 with anything)


def adjacent_cosine(embeddings: torch.Tensor) -> tuple[float, ...]:
    """Cosine similarity of each embedding [F, D] with the next one, computed in float64."""
    values = embeddings.to(torch.float64)
    norms = values.norm(dim=1).clamp_min(NORM_FLOOR)  # [F]
    dots = (values[:-1] * values[1:]).sum(dim=1)  # [F - 1]
    return tuple(float(v) for v in dots / (norms[:-1] * norms[1:]))


def clip_consistency(frames: torch.Tensor, embed: Embedder) -> tuple[float, ...]:
    """One cosine per adjacent pair of ``frames`` [F, H, W, 3], from ``embed(frames)`` [F, D]."""
    embeddings = embed(frames)
    if not isinstance(embeddings, torch.Tensor) or embeddings.ndim != 2 or embeddings.shape[0] != frames.shape[0]:
        shape = tuple(embeddings.shape) if isinstance(embeddings, torch.Tensor) else type(embeddings).__name__
        raise ValueError(f"CLIP consistency: the embedder returned {shape} for {frames.shape[0]} frames; it must return one "
                         f"embedding per frame, [{frames.shape[0]}, D]. Use an image embedder (a CLIP vision model).")
    if not torch.isfinite(embeddings).all():
        bad = int((~torch.isfinite(embeddings)).sum())
        raise ValueError(f"CLIP consistency: the embedder returned {bad} non-finite values (NaN or inf) among "
                         f"{embeddings.numel()}; the model is broken or overflowed its dtype. Try another CLIP vision "
                         "file, or run ComfyUI with --fp32-text-enc (CLIP vision uses the text encoders' dtype).")
    return adjacent_cosine(embeddings)
