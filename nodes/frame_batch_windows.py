"""Core context windows on SD's frames-as-batch video: what every Kinema video model adds to its clone."""

from __future__ import annotations

from ..comfy_glue import context_windows, patcher
from ..comfy_glue.context_windows import WindowFacts
from ..windowing import hint_indices, pass_frame_ids, window_plan

WINDOWS_KEY = "kinema_frame_batch_windows"


def prepare_windows(model_options: dict) -> WindowFacts | None:
    """In one sampling call's own model options, make core's handler work on frames-as-batch latents; return its facts."""
    facts = context_windows.window_facts(model_options)
    if facts is None or not facts.frames_as_batch:
        return facts
    plan = window_plan(facts.context_length, facts.causal_anchor, frames_as_batch=True,
                       host_reads_batch_timestep=context_windows.reads_frame_batch_timestep())
    if plan.repair_step and facts.core_index_list:
        context_windows.use_one_sigma_steps(model_options)
    return facts


def add_window_support(model) -> None:
    """Around each sampling run of this clone, prepare core context windows (one wrapper however many nodes ask)."""

    def wrapper(executor, *args, **kwargs):
        prepare_windows(patcher.sampling_model_options(executor))
        return executor(*args, **kwargs)

    patcher.set_outer_sample_wrapper(model, WINDOWS_KEY, wrapper)


def images_for_window(window_frames: list[int], causal_anchor: int | None, image_count: int) -> list[int]:
    """The control images of a call inside a context window (for comfy_glue.controlnet)."""
    return hint_indices(pass_frame_ids(window_frames, causal_anchor), image_count)
