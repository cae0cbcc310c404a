"""Frame attention: one mechanism for every method whose self-attention looks at other frames.

Text2Video-Zero (K/V from an anchor frame), ControlVideo (K/V from all frames) and
StoryDiffusion (K/V from sampled tokens of other images) differ only in which frames'
tokens become the keys and values of a frame's self-attention. This package is plain
PyTorch: the layout helper splits a UNet batch into guidance chunks and frames, a
strategy picks the source tokens, and ``FrameAttentionPatch`` applies a strategy as a
ComfyUI ``attn1_patch`` (a callable on hidden states); ``fold_allowed`` decides, from the
patch chain the glue reports, when a chunk's frames may attend as one sequence.
"""

from .fold import fold_allowed
from .layout import FrameLayout, FrameLayoutError, frame_layout
from .module import FrameSourcedSelfAttention, GuidanceChunks
from .patch import FOLD_BATCH_OPTION, FrameAttentionPatch, RestoreFrameBatch, is_frame_attention_patch
from .strategies import STRATEGIES, AnchorStrategy, FrameSourceStrategy

__all__ = [
    "FOLD_BATCH_OPTION", "STRATEGIES", "AnchorStrategy", "FrameAttentionPatch", "FrameLayout", "FrameLayoutError",
    "FrameSourceStrategy", "FrameSourcedSelfAttention", "GuidanceChunks", "RestoreFrameBatch", "fold_allowed", "frame_layout",
    "is_frame_attention_patch",
]
