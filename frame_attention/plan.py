"""Plans: what each frame's keys and values are made of, as a strategy states it (no tensors reshaped here).

A strategy looks at a call's context and returns a ``SourcePlan``; ``gather`` builds the
tensors. Several active features combine by adding their sources: a frame sees every
source any of them names (named twice, it is seen twice), and the extra tokens of all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch


class PlanError(ValueError):
    """The active frame-attention features ask for sources that cannot be combined."""


@dataclasses.dataclass(frozen=True, eq=False)  # compared by identity: it holds a tensor
class Picked:
    """Some tokens of another frame of the same chunk (StoryDiffusion's sampled tokens of an identity image)."""

    frame: int  # chunk position of the frame they come from
    tokens: torch.Tensor  # 1-D token positions


@dataclasses.dataclass(frozen=True)
class Banked:
    """Tokens from outside the batch: entry ``entry`` of the plan's ``banked`` tensors."""

    entry: int


@dataclasses.dataclass(frozen=True)
class SampledPlan:
    """Each frame of a chunk sees its ``parts`` (in order) and then its own tokens; a frame without parts attends to itself.

    The counts differ from frame to frame, so such a plan is attended frame by frame. ``banked`` holds hidden states
    [chunks, k, C] (each chunk its own guidance kind's), projected by the host together with the batch's tokens.
    """

    parts: tuple[tuple[Picked | Banked, ...], ...]  # per chunk position
    banked: tuple[torch.Tensor, ...] = ()


@dataclasses.dataclass(frozen=True)
class SourcePlan:
    """The keys and values of each frame of a guidance chunk (as hidden states, before projection).

    ``frames``: None, each frame its own tokens; a tuple of chunk positions, the tokens of those frames for every frame
    (shared by the chunk: built as views); a tuple of per-frame tuples of equal length, frame f the tokens of ``frames[f]``.
    ``extra``: [chunks, E, C] tokens from outside the batch (a bank) every frame of a chunk sees besides, put first.
    ``sampled``: per frame, the sampled tokens of other frames and banked tokens it sees before its own (StoryDiffusion).
    """

    frames: tuple | None = None
    extra: torch.Tensor | None = None
    sampled: SampledPlan | None = None

    @property
    def shared(self) -> bool:
        """Every frame of a chunk attends to the same tokens (frames named once for all, nothing per frame)."""
        return self.sampled is None and self.frames is not None and not _per_frame(self.frames)

    @property
    def per_frame(self) -> bool:
        return self.frames is not None and _per_frame(self.frames)


def _per_frame(frames: tuple) -> bool:
    return bool(frames) and isinstance(frames[0], tuple)


def source_rows(frames: tuple | None, count: int) -> list[tuple[int, ...]]:
    """Each frame's source frames (its own when ``frames`` is None)."""
    if frames is None:
        return [(f,) for f in range(count)]
    return [tuple(row) for row in frames] if _per_frame(frames) else [tuple(frames)] * count


def combine(plans: Sequence[SourcePlan | None], frame_count: int) -> SourcePlan | None:
    """One plan from every active feature's (None: the feature leaves this call alone)."""
    active = [plan for plan in plans if plan is not None]
    if len(active) <= 1:
        return active[0] if active else None
    if sum(plan.sampled is not None for plan in active) > 1:
        raise PlanError("two frame-attention features sample tokens in the same layer; apply only one of them")
    naming = [plan.frames for plan in active if plan.frames is not None]
    frames = None
    if len(naming) == 1:
        frames = naming[0]
    elif naming and not any(_per_frame(f) for f in naming):
        frames = tuple(frame for f in naming for frame in f)
    elif naming:
        frames = tuple(tuple(frame for f in naming for frame in source_rows(f, frame_count)[index]) for index in range(frame_count))
    extras = [plan.extra for plan in active if plan.extra is not None]
    sampled = next((plan.sampled for plan in active if plan.sampled is not None), None)
    if sampled is not None and (frames is not None or extras):
        raise PlanError("a feature that samples tokens (StoryDiffusion's identity images) cannot be combined in the same "
                        "layer with one that picks source frames or adds banked tokens")
    return SourcePlan(frames=frames, extra=torch.cat(extras, dim=1) if extras else None, sampled=sampled)
