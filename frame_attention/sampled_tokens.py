"""StoryDiffusion's consistent self-attention as a frame-attention strategy (the write and read phases).

Write phase: the batch holds a character's identity images. Every step, each image's tokens
are sampled at the layer grid's rate (the same positions for every layer of a grid within a
step, redrawn each step), the sampled hidden states are banked by (layer, step, chunk kind),
and, when the gate lets it, image j attends to the sampled tokens of the other images and
then its own. Read phase: each later panel attends to the banked tokens of the same layer and
step, then its own. Step 0 is plain attention; the gate opens with probability ``gate_early``
before ``gate_switch_step`` and ``gate_late`` from it. Every draw comes from the run's
generator keyed by where it is made, so the same seed gives the same bits whatever ran before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from .context import FrameContext
from .plan import SourcePlan


class MissingBankError(RuntimeError):
    """A read-phase call found no banked tokens for its layer and step."""


@dataclasses.dataclass(frozen=True)
class ConsistentSelfAttention:
    bank_key: str  # the run's bank this feature writes or reads
    write: bool  # True: the batch holds the identity images; False: panels read the bank
    rates: Mapping[int, float]  # tokens per image at a layer's grid -> sampling rate (StoryDiffusion's sa32 / sa64)
    layers: frozenset  # the layers (block name, number, transformer index) that take part
    gate_early: float = 0.7
    gate_late: float = 0.9
    gate_switch_step: int = 20

    def _gate_open(self, ctx: FrameContext) -> bool:
        probability = self.gate_early if ctx.step < self.gate_switch_step else self.gate_late
        return ctx.step > 0 and torch.rand(1, generator=ctx.run.generator("gate", ctx.step, ctx.layer)).item() < probability

    def plan(self, ctx: FrameContext, tokens: torch.Tensor) -> SourcePlan | None:
        rate = self.rates.get(tokens.shape[1])
        if ctx.layer not in self.layers or rate is None or ctx.run is None or ctx.step is None:
            return None
        bank = ctx.run.banks[self.bank_key]
        chunks, frames, (n, c) = ctx.layout.chunks, ctx.layout.frames, tokens.shape[1:]
        if self.write:
            draws = torch.rand(frames, n, generator=ctx.run.generator("sampled tokens", ctx.step, n))
            sampled = tuple(torch.nonzero(row < rate).flatten().to(tokens.device) for row in draws)
            # [B*F, N, C] -> [B, F, N, C]
            by_frame = tokens.view(chunks, frames, n, c)
            for chunk, kind in enumerate(ctx.chunk_kinds):
                # [sum of k_i, C]: every identity image's sampled tokens, image by image
                bank.write((ctx.layer, ctx.step, kind), torch.cat([by_frame[chunk, i, picked] for i, picked in enumerate(sampled)]))
            return SourcePlan(sampled=sampled) if self._gate_open(ctx) else None
        if not self._gate_open(ctx):
            return None
        banked = [bank.read((ctx.layer, ctx.step, kind), tokens.device) for kind in ctx.chunk_kinds]
        if any(entry is None for entry in banked):
            raise MissingBankError(f"consistent self-attention: the bank holds no tokens for layer {ctx.layer} at step {ctx.step}: "
                                   "sample the identity images first, with the same steps, size and sampler")
        # [B, E, C]: each chunk reads the tokens its own kind (cond or uncond) banked
        return SourcePlan(extra=torch.stack(banked).to(tokens.dtype))
