"""A frame-attention patch as the binding makes it, with plain facts and attention for pure tests."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kinema.frame_attention import ROUTE_OPTION, CallFacts, FrameAttention, RestoreFrameBatch, Route

HEADS = 2
LAYER = ("output", 3, 0)
TOKENS, C = 6, 8  # tokens per frame, channels


def read_facts(options: dict) -> CallFacts:
    """What the glue reads off a call, from the same keys a test puts in."""
    return CallFacts(chunk_kinds=tuple(options.get("cond_or_uncond") or [0]), window_frames=options.get("window_frames"),
                     layer=options.get("layer", LAYER), sigma=options.get("sigma"), sample_sigmas=options.get("sample_sigmas"),
                     run=options.get("run"), latent_size=options.get("latent_size"))


def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra_options: dict | None = None) -> torch.Tensor:
    """Plain multi-head attention on [batch, tokens, heads*dim]."""
    heads = (extra_options or {}).get("n_heads", HEADS)
    # [B, T, H*D] -> [B, H, T, D]
    split = lambda t: t.view(t.shape[0], -1, heads, t.shape[-1] // heads).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    # [B, H, T, D] -> [B, T, H*D]
    return out.transpose(1, 2).reshape(q.shape[0], -1, q.shape[-1])


def patch_with(*strategies, keys=None) -> FrameAttention:
    patch = FrameAttention(read_facts=read_facts, attend=sdpa)
    for index, strategy in enumerate(strategies):
        patch = patch.with_feature((keys or [f"feature{i}" for i in range(len(strategies))])[index], strategy)
    return patch


def call_options(cond_or_uncond, batch: int, fold: bool = False, ours=(), **extra) -> dict:
    """A UNet call's options as the binding's route wrapper leaves them."""
    return {"cond_or_uncond": list(cond_or_uncond), ROUTE_OPTION: Route(batch=batch, fold=fold, ours=frozenset(ours)), **extra}


def projections(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(C, C, generator=generator) / C ** 0.5 for _ in range(3)]


def block(hidden: torch.Tensor, patch, options: dict) -> torch.Tensor:
    """A self-attention layer as ComfyUI's BasicTransformerBlock runs it: patch, project, attention (or our replacement
    where the route says it runs), restore."""
    wq, wk, wv = projections()
    n, context, value = (hidden, hidden, hidden) if patch is None else patch(hidden, hidden, hidden, options)
    q, k, v = n @ wq, context @ wk, value @ wv
    layer = options.get("layer", LAYER)
    route = options.get("kinema_frame_attention_route")
    if patch is not None and route is not None and layer in route.ours:
        out = patch.replace(q, k, v, options)
    else:
        out = sdpa(q, k, v)
    return RestoreFrameBatch()(out, options)


def frames_in(chunks: int, frames: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(chunks * frames, TOKENS, C, generator=torch.Generator().manual_seed(seed))


ROUTES = {"copy": {}, "fold": {"fold": True}, "replacement": {"ours": (LAYER,)}}
