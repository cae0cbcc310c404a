"""The one Kinema self-attention patch of a model: every active frame-attention feature, by key.

``FrameAttention`` is ComfyUI's ``attn1_patch`` (hidden states before projection: it chains
with other packs' patches) and, where the binding registers it, the ``attn1`` replacement of
the model's self-attention layers (projected q/k/v). Per call it builds the context, asks
every feature for its plan, combines them and takes one of four routes:

- **fold** (the sources are shared by a chunk's frames and the caller allows it): the chunk's
  frames become one query sequence against the sources once; ``RestoreFrameBatch`` (the first
  ``attn1_output_patch``) gives the output its frame batch back. Views only.
- **replacement** (shared sources, or StoryDiffusion's sampled tokens, where our replacement
  runs for this layer): the patch leaves the layout alone (banked tokens ride along with the
  batch's hidden states, packed into one sequence the host projects), so later patches of other packs
  see the usual one-row-per-frame batch, and the replacement attends from the projected
  keys and values: per chunk from the one buffer, or frame by frame. Linear in frames.
- **copy** (per-frame sources, or extra tokens): every frame gets its own row of sources.
  Linear in frames for a fixed number of source frames.
- where shared sources can neither fold nor meet our replacement (another pack replaced this
  layer's attention), they are copied per frame, which for all-frames attention is quadratic
  in frames: said once per layer in the log, with the reason.

The caller (a wrapper around each UNet call) puts the call's ``route.Route`` in the options
under ``ROUTE_OPTION``: whether the patch chain allows folding, where our replacement runs,
and which layers another node's replacement owns.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping

import torch

from .context import CallFacts
from .fold import fold_frames, unfold_frames
from .gather import chunk_attention, chunk_sources, frame_sources, pack_banked, sampled_attention
from .run_state import Bank
from .strategies import Strategy, plan_features

log = logging.getLogger(__name__)

ROUTE_OPTION = "kinema_frame_attention_route"  # per UNet call: its route.Route
RUN_OPTION = "kinema_frame_attention_run"  # per sampling run: its RunState
_HANDOVER = "kinema_frame_attention_plan"  # per attention call: what the patch left the replacement to do


@dataclasses.dataclass(frozen=True)
class FrameAttention:
    read_facts: Callable[[dict], CallFacts]  # the host's facts about an attention call, from its options
    attend: Callable[[torch.Tensor, torch.Tensor, torch.Tensor, dict], torch.Tensor]  # the host's attention for a call
    features: tuple[tuple[str, Strategy], ...] = ()
    banks: Mapping[str, Bank] = dataclasses.field(default_factory=dict)  # feature key -> the bank it keeps across runs
    _told: set = dataclasses.field(default_factory=set, compare=False, repr=False)  # layers already logged as quadratic

    def with_feature(self, key: str, strategy: Strategy, bank: Bank | None = None) -> FrameAttention:
        """A new patch with ``key``'s feature (and bank) set, replacing its earlier one; the others stay, in their order."""
        kept = tuple((k, s) for k, s in self.features if k != key)
        banks = {k: b for k, b in self.banks.items() if k != key} | ({key: bank} if bank is not None else {})
        return dataclasses.replace(self, features=(*kept, (key, strategy)), banks=banks, _told=set())

    def feature(self, key: str) -> Strategy | None:
        return dict(self.features).get(key)

    def plan(self, tokens: torch.Tensor, extra_options: dict):
        return plan_features(self.features, tokens, self.read_facts(extra_options))

    def __call__(self, n: torch.Tensor, context: torch.Tensor, value: torch.Tensor, extra_options: dict):
        """``attn1_patch``: ``(n, context, value, extra_options) -> (n, context, value)``, hidden states before projection."""
        ctx, plan = self.plan(context, extra_options)
        if plan is None:
            return n, context, value
        layout, route = ctx.layout, extra_options.get(ROUTE_OPTION)
        if plan.shared and route is not None and route.batch == n.shape[0] and route.folds(ctx.layer):
            shared = chunk_sources(context, layout, plan)
            shared_value = shared if value is context else chunk_sources(value, layout, plan)
            return fold_frames(n, layout.chunks), shared, shared_value
        by_replacement = plan.sampled is not None or (plan.shared and plan.extra is None)
        if by_replacement and route is not None and route.replaces(ctx.layer):
            extra_options[_HANDOVER] = (plan, layout)
            if plan.sampled is not None and plan.sampled.banked:
                packed = pack_banked(context, plan.sampled.banked)
                return n, packed, packed if value is context else pack_banked(value, plan.sampled.banked)
            return n, context, value
        if plan.sampled is not None:
            self._tell(ctx.layer, "another node replaced this layer's attention, so StoryDiffusion's consistent "
                                  "self-attention leaves this layer plain")
            return n, context, value
        if plan.shared and route is not None:  # no route: a caller outside sampling, which no other patch follows
            self._tell(ctx.layer, f"another node's attention patch or replacement sees this layer's frames, so each of "
                                  f"{layout.frames} frames gets its own copy of the shared keys and values (memory grows "
                                  "with the square of the frame count for all-frames attention)")
        sources = frame_sources(context, layout, plan)
        return n, sources, sources if value is context else frame_sources(value, layout, plan)

    def replace(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, extra_options: dict) -> torch.Tensor:
        """``attn1`` replacement: projected q/k/v [batch, tokens, heads*dim] -> attention output."""
        route = extra_options.get(ROUTE_OPTION)
        owner = route.owner(tuple(self.read_facts(extra_options).layer)) if route is not None else None
        if owner is not None:  # another node's replacement keyed by the whole block, which ours shadows: its call
            return owner(q, k, v, extra_options)
        plan, layout = extra_options.pop(_HANDOVER, (None, None))
        attend = lambda q, k, v: self.attend(q, k, v, extra_options)  # noqa: E731
        if plan is None:  # folded by the patch, or nothing to do: ordinary attention of what we were given
            return attend(q, k, v)
        if plan.sampled is not None:
            return sampled_attention(q, k, v, layout, plan.sampled, attend)
        return chunk_attention(q, k, v, layout, plan.frames, attend)

    def _tell(self, layer: tuple, reason: str) -> None:
        if layer not in self._told:
            self._told.add(layer)
            log.warning("frame attention on layer %s: %s", layer, reason)


@dataclasses.dataclass(frozen=True)
class FrameAttentionReplacement:
    """Our ``attn1`` replacement: a named callable, so re-applying a node finds and replaces it."""

    patch: FrameAttention

    def __call__(self, q, k, v, extra_options):
        return self.patch.replace(q, k, v, extra_options)


@dataclasses.dataclass(frozen=True)
class RestoreFrameBatch:
    """``attn1_output_patch``: gives a folded attention output its frame batch back, ``[B, F*N, C] -> [B*F, N, C]``."""

    def __call__(self, n: torch.Tensor, extra_options: dict) -> torch.Tensor:
        route = extra_options.get(ROUTE_OPTION)
        if route is None or n.shape[0] == route.batch:
            return n  # not folded
        return unfold_frames(n, route.batch)


def is_frame_attention_patch(entry: object) -> bool:
    """Whether a patch-chain or replacement entry is ours (re-applying a node replaces these)."""
    return isinstance(entry, (FrameAttention, RestoreFrameBatch, FrameAttentionReplacement))


def existing_patch(chain: list) -> FrameAttention | None:
    """The model's Kinema patch among its attn1_patch entries, if it has one."""
    return next((entry for entry in chain if isinstance(entry, FrameAttention)), None)

