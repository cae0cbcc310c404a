"""What a model call inside a context window holds, and which control image each of its frames gets."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class WindowPlan:
    """How sampling with core context windows goes for a frames-as-batch model."""

    frames_per_pass: int  # frames the model sees in one window call
    repair_step: bool  # the core handler must be given one sigma to find its step (see window_plan)


def window_plan(context_length: int, causal_anchor: bool, frames_as_batch: bool, host_reads_batch_timestep: bool) -> WindowPlan:
    """Frames per window call and whether the handler needs its step found from one sigma.

    ``causal_anchor``: newer ComfyUI's ``causal_window_fix`` (default on after 0.8.0) runs every
    window but the first with the frame before it prepended, so a call holds one frame more
    than ``context_length``. ``host_reads_batch_timestep``: the core handler finds the step from
    ``timestep[0]`` (0.8.0 on); 0.3.75 compares the whole timestep, which for SD's
    frames-as-batch latents holds one (equal) sigma per frame and does not broadcast.
    """
    return WindowPlan(frames_per_pass=context_length + (1 if causal_anchor else 0),
                      repair_step=frames_as_batch and not host_reads_batch_timestep)


def pass_frame_ids(window_frames: Sequence[int], causal_anchor_frame: int | None) -> list[int]:
    """The clip frames a call inside a window sees, in order: the causal anchor frame first when there is one."""
    frames = list(window_frames)
    return [causal_anchor_frame, *frames] if causal_anchor_frame is not None and causal_anchor_frame >= 0 else frames


def hint_indices(frame_ids: Sequence[int], hint_count: int) -> list[int]:
    """Which control image each frame of a window pass uses: frame ``i`` gets image ``i mod hint_count``.

    That is what core ControlNets give the frames of a clip sampled without windows (their
    hint batch is repeated, or cut, to the frame count), so a window keeps the same pairing;
    more images than frames leaves the extra ones unused, as core does.
    """
    if hint_count < 1:
        raise ValueError("a ControlNet without control images cannot guide a window")
    return [frame % hint_count for frame in frame_ids]
