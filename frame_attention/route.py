"""Which way each self-attention layer of a UNet call goes, decided once per call from the patch chain's facts.

The binding reports what the call's options hold (the ``attn1_patch`` and ``attn1_output_patch``
chains, the ``attn1`` replacements by key); ``route`` states, for the whole call, whether our
patch may fold a chunk's frames, on which layers our replacement runs, and which layers
another node's replacement owns. ComfyUI looks a replacement up by (block name, block number,
transformer index) first, then by (block name, block number): a replacement of another node
keyed by the block alone is shadowed by ours, so ours hands such calls to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

from .fold import fold_allowed

Layer = tuple  # (block name, block number, transformer index)


@dataclasses.dataclass(frozen=True)
class Route:
    batch: int  # the UNet call's batch
    fold: bool  # our patch may fold frames where no other node's replacement sees the layer
    ours: frozenset = frozenset()  # layers where our replacement runs
    foreign: Mapping = dataclasses.field(default_factory=dict)  # layer or block -> another node's replacement that owns it

    def owner(self, layer: Layer) -> Callable | None:
        """Another node's replacement for ``layer``, if one owns it."""
        return self.foreign.get(layer) or self.foreign.get(tuple(layer[:2]))

    def folds(self, layer: Layer) -> bool:
        return self.fold and self.owner(layer) is None

    def replaces(self, layer: Layer) -> bool:
        return layer in self.ours and self.owner(layer) is None


def route(batch: int, attn1_chain: Sequence, output_chain: Sequence, replacements: Mapping[tuple, Callable],
          is_ours: Callable[[object], bool]) -> Route:
    foreign = {key: fn for key, fn in replacements.items() if not is_ours(fn)}
    ours = frozenset(key for key, fn in replacements.items() if is_ours(fn))
    return Route(batch=batch, fold=fold_allowed(attn1_chain, output_chain, is_ours), ours=ours, foreign=foreign)
