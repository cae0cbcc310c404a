"""Frames-as-batch video under ComfyUI's context windows, in plain Python (no ComfyUI import).

SD video methods (AnimateDiff, Text2Video-Zero, ...) put a clip's frames on the latent
batch axis. Core context windows slice that axis per window; these rules say what a model
call inside a window holds, what the core handler needs from us to work on that layout,
and which control image each frame of a window pass gets. The glue reports the host's
facts; these functions decide.
"""

from .frames import WindowPlan, hint_indices, pass_frame_ids, window_plan

__all__ = ["WindowPlan", "hint_indices", "pass_frame_ids", "window_plan"]
