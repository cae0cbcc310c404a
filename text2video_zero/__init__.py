"""Text2Video-Zero (Khachatryan et al. 2023) in plain PyTorch: motion warp, re-noising, schedule
positions, long-video chunks and background smoothing. The ComfyUI binding is in
``nodes/text2video_zero_nodes.py`` and ``comfy_glue``; cross-frame attention is the
"anchor" strategy of ``frame_attention``.
"""

from .chunks import anchored_chunks
from .motion import frame_shifts, warp_frames, warp_grid
from .renoise import reference_alpha, renoise
from .schedule import MotionSchedule, motion_schedule
from .smoothing import smooth_background

__all__ = [
    "MotionSchedule", "anchored_chunks", "frame_shifts", "motion_schedule", "reference_alpha", "renoise",
    "smooth_background", "warp_frames", "warp_grid",
]
