"""Frame attention: one mechanism for every method whose self-attention looks at other frames.

Text2Video-Zero (K/V from an anchor frame), ControlVideo (K/V from all frames) and
StoryDiffusion (K/V from sampled tokens of other images and a bank) differ only in which
tokens become the keys and values of a frame's self-attention. This package is plain
PyTorch: per call a context (``context``: layout, global frame ids, layer, step, run state)
is built from the facts the glue reads, each active feature's strategy states a plan
(``plan``), one gather builds the tensors (``gather``), and ``FrameAttention`` is the single
Kinema ``attn1_patch`` (and ``attn1`` replacement) of a model, holding every feature by key.
``fold_allowed`` decides, from the patch chain the glue reports, when a chunk's frames may
attend as one sequence.
"""

from .context import CallFacts, FrameContext, frame_context, step_index
from .fold import fold_allowed
from .layout import FrameLayout, FrameLayoutError, frame_layout
from .module import FrameSourcedSelfAttention, GuidanceChunks
from .patch import (
    ROUTE_OPTION,
    RUN_OPTION,
    FrameAttention,
    FrameAttentionReplacement,
    RestoreFrameBatch,
    existing_patch,
    is_frame_attention_patch,
)
from .plan import Banked, Picked, PlanError, SampledPlan, SourcePlan, combine
from .route import Route, route
from .run_state import Bank, BankFullError, RunState
from .sampled_tokens import PLAIN, ConsistentSelfAttention, MissingBankError, Role
from .strategies import STRATEGIES, AllFramesStrategy, AnchorStrategy, Strategy

__all__ = [
    "PLAIN", "ROUTE_OPTION", "RUN_OPTION", "Role", "Route", "STRATEGIES", "AllFramesStrategy", "AnchorStrategy", "Bank",
    "Banked", "BankFullError", "CallFacts", "ConsistentSelfAttention", "FrameAttention", "FrameAttentionReplacement", "FrameContext",
    "FrameLayout", "FrameLayoutError", "FrameSourcedSelfAttention", "GuidanceChunks", "MissingBankError", "Picked", "PlanError",
    "RestoreFrameBatch", "RunState", "SampledPlan", "SourcePlan", "Strategy", "combine", "existing_patch", "fold_allowed", "frame_context",
    "frame_layout", "is_frame_attention_patch", "route", "step_index",
]
