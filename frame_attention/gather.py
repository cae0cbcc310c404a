"""The one place a plan becomes tensors: views where the sources are shared, copies only of what is per frame.

Before projection (an ``attn1_patch`` hands ComfyUI the sources it then projects):
``chunk_sources`` gives a chunk's shared sources once ([chunks, M, C], a view of the batch
when the frames are consecutive); ``frame_sources`` gives every frame its own row of
sources ([chunks*frames, M, C], a copy). After projection (an attn1 replacement has the
projected q/k/v): ``chunk_attention`` attends a chunk's frames, folded into one query
sequence, to the chunk's shared projected keys and values, and ``sampled_attention`` attends
frame by frame when each frame's sources differ in count (banked hidden states travel with the
batch's through the host's projection: ``pack_banked``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .fold import fold_frames, unfold_frames
from .layout import FrameLayout
from .plan import Banked, Picked, SampledPlan, SourcePlan, source_rows

Attend = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (q, k, v) [b, tokens, heads*dim] -> out


def _by_frame(tokens: torch.Tensor, layout: FrameLayout) -> torch.Tensor:
    # [B*F, N, C] -> [B, F, N, C]
    return tokens.view(layout.chunks, layout.frames, *tokens.shape[1:])


def shared_frames(tokens: torch.Tensor, layout: FrameLayout, frames: tuple[int, ...]) -> torch.Tensor:
    """The tokens of ``frames`` of each chunk, [B, len(frames)*N, C]: a view when the frames are consecutive."""
    by_frame = _by_frame(tokens, layout)
    consecutive = list(frames) == list(range(frames[0], frames[0] + len(frames)))
    # [B, F, N, C] -> [B, S, N, C]: a slice (a view) for a run of frames, else a gather of the S frames
    picked = by_frame[:, frames[0]:frames[0] + len(frames)] if consecutive else by_frame[:, list(frames)]
    # [B, S, N, C] -> [B, S*N, C] (a view of contiguous chunks)
    return picked.reshape(layout.chunks, -1, tokens.shape[-1])


def chunk_sources(tokens: torch.Tensor, layout: FrameLayout, plan: SourcePlan) -> torch.Tensor:
    """A shared plan's sources once per chunk, [B, M, C] (extra tokens first)."""
    sources = shared_frames(tokens, layout, plan.frames)
    return sources if plan.extra is None else torch.cat([plan.extra.to(sources), sources], dim=1)


def frame_sources(tokens: torch.Tensor, layout: FrameLayout, plan: SourcePlan) -> torch.Tensor:
    """Every frame's own row of sources, [B*F, M, C] (extra tokens first): a copy, linear in F for a fixed M."""
    chunks, frames, c = layout.chunks, layout.frames, tokens.shape[-1]
    by_frame = _by_frame(tokens, layout)
    rows = torch.tensor(source_rows(plan.frames, frames), device=tokens.device)
    # [B, F, N, C] -> [B, F, S, N, C] -> [B, F, S*N, C]
    parts = [by_frame[:, rows].reshape(chunks, frames, -1, c)]
    if plan.extra is not None:
        # [B, E, C] -> [B, F, E, C] (a view; copied by the cat)
        parts.insert(0, plan.extra.to(tokens)[:, None].expand(-1, frames, -1, -1))
    # [B, F, M, C] -> [B*F, M, C]
    return torch.cat(parts, dim=2).reshape(chunks * frames, -1, c)


def chunk_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: FrameLayout, frames: tuple[int, ...],
                    attend: Attend) -> torch.Tensor:
    """Projected q/k/v [B*F, N, D]: each chunk's frames as one query sequence against the chunk's ``frames``' keys."""
    keys, values = shared_frames(k, layout, frames), shared_frames(v, layout, frames)
    # [B*F, N, D] -> [B, F*N, D] -> attention -> [B*F, N, D] (views around the one call)
    return unfold_frames(attend(fold_frames(q, layout.chunks), keys, values), q.shape[0])


def pack_banked(tokens: torch.Tensor, banked: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The batch's hidden states and the banked ones as one sequence, so the host projects them together:
    [B*F, N, C] and each [B, k, C] -> [1, B*F*N + sum of B*k, C] (one copy of the batch, linear in frames)."""
    c = tokens.shape[-1]
    return torch.cat([tokens.reshape(1, -1, c), *(entry.to(tokens).reshape(1, -1, c) for entry in banked)], dim=1)


def unpack_banked(packed: torch.Tensor, batch: int, banked: tuple[torch.Tensor, ...]):
    """Projected ``pack_banked`` output -> the batch's [B*F, N, D] and each banked entry's [B, k, D] (views)."""
    d, sizes = packed.shape[-1], [entry.shape[0] * entry.shape[1] for entry in banked]
    own, *entries = packed[0].split([packed.shape[1] - sum(sizes), *sizes])
    # [B*F*N, D] -> [B*F, N, D]; [B*k, D] -> [B, k, D]
    return own.view(batch, -1, d), [part.view(entry.shape[0], entry.shape[1], d) for part, entry in zip(entries, banked, strict=True)]


def sampled_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, layout: FrameLayout, plan: SampledPlan,
                      attend: Attend) -> torch.Tensor:
    """Projected q [B*F, N, D] (k and v as ``pack_banked`` left them when the plan banks tokens): frame j attends to its
    parts (other frames' sampled tokens, banked tokens), then its own tokens; frames without parts attend to themselves."""
    if plan.banked:
        (k, banked_k), (v, banked_v) = unpack_banked(k, q.shape[0], plan.banked), unpack_banked(v, q.shape[0], plan.banked)
    else:
        banked_k = banked_v = []
    keys, values, queries = _by_frame(k, layout), _by_frame(v, layout), _by_frame(q, layout)
    out = torch.empty_like(queries)
    alone = [j for j, parts in enumerate(plan.parts) if not parts]
    if alone:
        # [B, A, N, D] -> [B*A, N, D]: the frames that attend to themselves, in one call
        rows = lambda t: t[:, alone].reshape(-1, *t.shape[2:])  # noqa: E731
        out[:, alone] = attend(rows(queries), rows(keys), rows(values)).view(layout.chunks, len(alone), *queries.shape[2:])
    for chunk in range(layout.chunks):
        picked: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}  # gathered once per chunk for every frame that sees them
        for j, parts in enumerate(plan.parts):
            if not parts:
                continue
            seen = [_part(keys, values, banked_k, banked_v, chunk, part, picked) for part in parts]
            # [sum of the parts' tokens + N, D]: the parts in order, then frame j's own tokens
            frame_k = torch.cat([*(k_part for k_part, _ in seen), keys[chunk, j]])
            frame_v = torch.cat([*(v_part for _, v_part in seen), values[chunk, j]])
            out[chunk, j] = attend(queries[chunk, j][None], frame_k[None], frame_v[None])[0]
    # [B, F, N, D] -> [B*F, N, D]
    return out.view(q.shape)


def _part(keys: torch.Tensor, values: torch.Tensor, banked_k: list[torch.Tensor], banked_v: list[torch.Tensor], chunk: int,
          part: Picked | Banked, picked: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """One part's keys and values in ``chunk``, each [k, D]; sampled tokens are gathered once into ``picked``."""
    if isinstance(part, Banked):
        return banked_k[part.entry][chunk], banked_v[part.entry][chunk]
    key = (part.frame, id(part.tokens))
    if key not in picked:
        picked[key] = keys[chunk, part.frame, part.tokens], values[chunk, part.frame, part.tokens]
    return picked[key]

