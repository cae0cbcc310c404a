"""ControlVideo (Zhang et al. 2023) in plain PyTorch: fully cross-frame attention (a frame-attention
strategy), the hierarchical sampler's passes for long videos, and the interleaved-frame smoother (a
DDIM sampler that replaces frames of the predicted clean video by interpolations at two steps).
The ComfyUI bindings are in ``nodes/controlvideo_nodes.py``, ``nodes/controlvideo_smoother_nodes.py``
and ``comfy_glue``; interpolators are in ``interpolation``.
"""

from .attention import FullyCrossFrameStrategy
from .hierarchy import HierarchicalLayout, HierarchyError, clip_key_positions, hierarchical_layout
from .interleave import Replacement, firing_steps, replacements
from .smoother import Firing, InterleavedSmootherDDIM

__all__ = [
    "Firing", "FullyCrossFrameStrategy", "HierarchicalLayout", "HierarchyError", "InterleavedSmootherDDIM", "Replacement",
    "clip_key_positions", "firing_steps", "hierarchical_layout", "replacements",
]
