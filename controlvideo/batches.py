"""How one firing of the smoother is cut into batches, so memory is bounded by the batch, not the clip.

Consecutive replacements share a frame ((0, 2) then (2, 4) ...): a batch keeps the images the
previous batch decoded that it reads again and decodes only the rest, at most ``size`` frames.
"""

from __future__ import annotations

from typing import NamedTuple

from .interleave import Replacement


class Batch(NamedTuple):
    pairs: tuple[Replacement, ...]  # at most ``size`` replacements
    decode: tuple[int, ...]  # frames to decode for them, the rest come from the previous batch


def plan_batches(table: tuple[Replacement, ...], size: int) -> tuple[Batch, ...]:
    """Greedy: add replacements while the batch holds at most ``size`` of them and decodes at most ``size`` frames
    (a batch's first replacement may need two new frames: with ``size`` 1 the smoother decodes them one at a time)."""
    if size < 1:
        raise ValueError(f"Interleaved-frame smoother: decode_batch must be at least 1; got {size}.")
    batches: list[Batch] = []
    kept: set[int] = set()  # frames the previous batch read (their images are still held)
    pairs: list[Replacement] = []
    decode: set[int] = set()
    for pair in table:
        new = {pair.first, pair.second} - kept - decode
        if pairs and (len(pairs) == size or len(decode | new) > size):
            batches.append(Batch(tuple(pairs), tuple(sorted(decode))))
            kept = {frame for p in pairs for frame in (p.first, p.second)}
            pairs, decode = [], set()
            new = {pair.first, pair.second} - kept
        pairs.append(pair)
        decode |= new
    if pairs:
        batches.append(Batch(tuple(pairs), tuple(sorted(decode))))
    return tuple(batches)
