"""StoryDiffusion's consistent self-attention as a frame-attention strategy (the write and read phases).

Every frame of a batch has a role, looked up by its global frame id: an identity image of a
character (write), a frame that reads characters (read), or neither (plain). Per call:

- **Write.** A character's identity images are sampled at the layer grid's rate: one draw per
  image slot, step, character and grid (the same positions for every layer of a grid within a
  step, redrawn each step). Where the gate lets it, identity image j attends to the sampled
  tokens of the character's other identity images, then its own. Where the feature keeps a
  bank and the call holds all of a character's identity images, their sampled hidden states
  are banked under (character, layer, step, chunk kind), gate or not, for later runs.
- **Read.** Where its gate lets it, a frame attends to the sampled tokens of every character it
  names (image by image, in identity order), then its own: taken from the call when the
  identity images are in it, else from the bank at the same layer and step.

Step 0 is plain attention; a gate opens with probability ``gate_early`` before
``gate_switch_step`` and ``gate_late`` from it, one draw per gate key, step and layer (a
character's identity images share one gate; a story panel has its own, a video one for all
frames). Every draw comes from the run's generator keyed by where it is made, so the same seed
gives the same bits whatever ran before. Guidance chunks never mix: banks are kept per chunk
kind and tokens are picked inside a chunk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import torch

from .context import FrameContext
from .plan import Banked, Picked, SampledPlan, SourcePlan
from .run_state import Bank


class MissingBankError(RuntimeError):
    """A read-phase call found no banked tokens for its layer and step."""


@dataclasses.dataclass(frozen=True)
class Role:
    """What one frame does in consistent self-attention."""

    writes: str | None = None  # the character this frame is an identity image of
    reads: tuple[str, ...] = ()  # the characters whose identity tokens this frame attends to
    gate: object = None  # frames with the same gate key share one gate draw per step and layer

    @property
    def plain(self) -> bool:
        return self.writes is None and not self.reads


PLAIN = Role()


@dataclasses.dataclass(frozen=True)
class ConsistentSelfAttention:
    roles: tuple[Role, ...]  # by global frame id
    rates: Mapping[int, float]  # image pixels per token side (32, 16) -> sampling rate (StoryDiffusion's sa32, sa64)
    blocks: frozenset = frozenset({"output"})  # the UNet blocks whose self-attention takes part (the decoder)
    rest: Role = PLAIN  # the role of frames past ``roles``
    bank_key: str | None = None  # the run's bank to keep identity tokens in for later runs; None: keep none
    gate_early: float = 0.7
    gate_late: float = 0.9
    gate_switch_step: int = 20
    vae_scale: int = 8  # image pixels per latent pixel (SD1.5 and SDXL)

    def role(self, frame_id: int) -> Role:
        return self.roles[frame_id] if frame_id < len(self.roles) else self.rest

    def identity_frames(self, character: str) -> tuple[int, ...]:
        """Global frame ids of ``character``'s identity images, in slot order."""
        return tuple(frame for frame, role in enumerate(self.roles) if role.writes == character)

    def rate(self, ctx: FrameContext, tokens: int) -> float | None:
        downscale = ctx.downscale(tokens)
        return None if downscale is None else self.rates.get(downscale * self.vae_scale)

    def gate_open(self, ctx: FrameContext, key: object) -> bool:
        if ctx.step == 0:
            return False
        probability = self.gate_early if ctx.step < self.gate_switch_step else self.gate_late
        return torch.rand(1, generator=ctx.run.generator("gate", key, ctx.step, ctx.layer)).item() < probability

    def sampled_positions(self, ctx: FrameContext, character: str, tokens: int, rate: float, device) -> list[torch.Tensor]:
        """Token positions sampled from each of ``character``'s identity images at this step and grid (every layer of the
        grid draws the same)."""
        slots = len(self.identity_frames(character))
        draws = torch.rand(slots, tokens, generator=ctx.run.generator("sampled tokens", character, ctx.step, tokens))
        return [torch.nonzero(row < rate).flatten().to(device) for row in draws]

    def plan(self, ctx: FrameContext, tokens: torch.Tensor) -> SourcePlan | None:
        if not ctx.layer or ctx.layer[0] not in self.blocks or ctx.run is None or ctx.step is None:
            return None
        rate = self.rate(ctx, tokens.shape[1])
        roles = [self.role(frame) for frame in ctx.frame_ids]
        if rate is None or all(role.plain for role in roles):
            return None
        present = {frame: position for position, frame in enumerate(ctx.frame_ids)}
        characters = {c for role in roles for c in (role.writes, *role.reads) if c is not None}
        # per character: its identity images' (chunk position or None, sampled positions), in slot order
        sources = {c: list(zip([present.get(f) for f in self.identity_frames(c)],
                               self.sampled_positions(ctx, c, tokens.shape[1], rate, tokens.device), strict=True))
                   for c in characters}
        self._bank_identities(ctx, tokens, sources)
        banked: dict[str, torch.Tensor] = {}  # character -> its banked tokens for this call's chunks, [B, k, C]
        parts = tuple(self._parts(ctx, position, role, sources, banked) for position, role in enumerate(roles))
        if not any(parts):
            return None
        if all(parts) and all(isinstance(part, Banked) for row in parts for part in row) and len(set(parts)) == 1:
            # every frame reads the same banked tokens (a video of one character): shared extra tokens, which compose
            # with other features' source frames
            return SourcePlan(extra=torch.cat(list(banked.values()), dim=1))
        return SourcePlan(sampled=SampledPlan(parts=parts, banked=tuple(banked.values())))

    def _parts(self, ctx: FrameContext, position: int, role: Role, sources: dict, banked: dict) -> tuple:
        """The sampled and banked tokens frame ``position`` sees before its own (none where its gate is closed)."""
        if role.writes is not None:
            if not self.gate_open(ctx, ("identity", role.writes)):
                return ()
            return tuple(Picked(frame, picked) for frame, picked in sources[role.writes]
                         if frame not in (None, position) and picked.numel())
        if not role.reads or not self.gate_open(ctx, role.gate):
            return ()
        parts: list[Picked | Banked] = []
        for character in role.reads:
            if sources[character] and all(frame is not None for frame, _ in sources[character]):  # identity images in the call
                parts += [Picked(frame, picked) for frame, picked in sources[character] if picked.numel()]
            else:
                if character not in banked:
                    banked[character] = self._read_bank(ctx, character)
                if banked[character].shape[1]:  # nothing sampled at this grid (rate 0): nothing to see
                    parts.append(Banked(list(banked).index(character)))
        return tuple(parts)

    def _bank(self, ctx: FrameContext) -> Bank | None:
        return ctx.run.banks.get(self.bank_key) if self.bank_key is not None else None

    def _bank_identities(self, ctx: FrameContext, tokens: torch.Tensor, sources: dict) -> None:
        """Bank the sampled tokens of every character whose identity images are all in this call."""
        bank = self._bank(ctx)
        if bank is None:
            return
        # [B*F, N, C] -> [B, F, N, C]
        by_frame = tokens.view(ctx.layout.chunks, ctx.layout.frames, *tokens.shape[1:])
        for character, picks in sources.items():
            if not picks or any(frame is None for frame, _ in picks):
                continue
            for chunk, kind in enumerate(ctx.chunk_kinds):
                # [sum of k_i, C]: every identity image's sampled tokens, image by image
                bank.write((character, ctx.layer, ctx.step, kind), torch.cat([by_frame[chunk, f, p] for f, p in picks]))

    def _read_bank(self, ctx: FrameContext, character: str) -> torch.Tensor:
        """``character``'s banked tokens for this call's chunks, [B, k, C] (each chunk its own guidance kind's)."""
        bank = self._bank(ctx)
        entries = [bank.read((character, ctx.layer, ctx.step, kind)) if bank is not None else None for kind in ctx.chunk_kinds]
        if any(entry is None for entry in entries):
            raise MissingBankError(
                f"consistent self-attention: no identity tokens of '{character}' are banked for layer {ctx.layer} at step "
                f"{ctx.step}: sample {character}'s identity images first (the bank is kept by the node that made this model), "
                "with the same steps, scheduler, size and guidance as this run")
        return torch.stack(entries)
