"""Core context windows (``ContextWindowsManual``): facts about a handler and a window, and building handlers.

Checked on ComfyUI 0.3.75 and 0.8.0. What differs, found by capability:
- 0.3.75's ``set_step`` compares the whole timestep with ``sample_sigmas`` (it broadcasts only
  for batch-1 models); 0.8.0 reads ``timestep[0]``. ``reads_frame_batch_timestep`` asks the
  host's own handler class.
- newer ComfyUI (after 0.8.0) adds ``causal_window_fix`` (a handler attribute and constructor
  parameter, default on), which runs every window but the first with the frame before it
  prepended and marks the window with ``causal_anchor_index``.
- 0.8.0's ``IndexListContextWindow`` takes ``total_frames`` (dividing by it).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable

import comfy.context_windows as core_windows
import comfy.patcher_extension
import torch

from .patcher import ModelPatcher, sampling_model_options, set_outer_sample_wrapper

_MEMORY_ESTIMATE_KEY = "ContextWindows_prepare_sampling"  # the key core's create_prepare_sampling_wrapper uses


@dataclasses.dataclass(frozen=True)
class WindowFacts:
    """What a sampling call's context handler is."""

    context_length: int
    frames_as_batch: bool  # windows cut the batch axis (dim 0): SD's frames-as-batch video
    causal_anchor: bool  # newer ComfyUI's causal_window_fix is on
    core_index_list: bool  # core's own IndexListContextHandler class (not another pack's, not ours)


def window_facts(model_options: dict) -> WindowFacts | None:
    """Facts about ``model_options``'s context handler, None when there is none (or it has no window length)."""
    handler = model_options.get("context_handler")
    length = getattr(handler, "context_length", None)
    if handler is None or length is None:
        return None
    return WindowFacts(context_length=length, frames_as_batch=getattr(handler, "dim", None) == 0,
                       causal_anchor=bool(getattr(handler, "causal_window_fix", False)),
                       core_index_list=type(handler) is core_windows.IndexListContextHandler)


def _probe_handler(handler_class: type) -> object:
    schedule = core_windows.ContextSchedule("kinema_probe", lambda frames, handler, options: [list(range(frames))])
    return handler_class(schedule, core_windows.get_matching_fuse_method(core_windows.ContextFuseMethods.FLAT), context_length=1)


def reads_frame_batch_timestep() -> bool:
    """Whether core's handler finds its step from a timestep holding one sigma per frame (asks the host's own class)."""
    options = {"transformer_options": {"sample_sigmas": torch.tensor([2.0, 1.0, 0.0])}}
    try:
        _probe_handler(core_windows.IndexListContextHandler).set_step(torch.tensor([1.0, 1.0, 1.0, 1.0]), options)
    except RuntimeError:  # 0.3.75: the [4] timestep does not broadcast against the [3] sigmas
        return False
    return True


class _OneSigmaStep(core_windows.IndexListContextHandler):
    """Core's handler, finding its step from the first sigma of a frames-as-batch timestep (all frames share it)."""

    def set_step(self, timestep: torch.Tensor, model_options: dict) -> None:
        super().set_step(timestep.flatten()[:1], model_options)


def _constructor_arguments(handler_class: type, source: object) -> dict:
    """Keyword arguments rebuilding ``source`` through ``handler_class``'s constructor, read from its attributes."""
    kwargs = {}
    for parameter in list(inspect.signature(handler_class.__init__).parameters.values())[1:]:
        if hasattr(source, parameter.name):
            kwargs[parameter.name] = getattr(source, parameter.name)
        elif parameter.default is inspect.Parameter.empty:
            raise RuntimeError(f"cannot rebuild ComfyUI's context handler: it has no attribute {parameter.name!r}")
    return kwargs


def use_one_sigma_steps(model_options: dict) -> None:
    """In one sampling call's own model options, rebuild core's handler (through its constructor, with its callbacks)
    as one that finds its step from one sigma."""
    handler = model_options["context_handler"]
    repaired = _OneSigmaStep(**_constructor_arguments(core_windows.IndexListContextHandler, handler))
    repaired.callbacks.update(getattr(handler, "callbacks", {}))
    model_options["context_handler"] = repaired


def window_in_call(transformer_options: dict) -> tuple[list[int], int | None] | None:
    """(the window's frames, the causal anchor frame or None) for a model call inside a context window, else None."""
    window = transformer_options.get("context_window")
    if window is None:
        return None
    return list(window.index_list), getattr(window, "causal_anchor_index", None)


def index_list_window(index_list: list[int], total_frames: int) -> object:
    """Core's window over ``index_list`` of a ``total_frames`` clip (0.8.0 on: it needs the total)."""
    if "total_frames" in inspect.signature(core_windows.IndexListContextWindow.__init__).parameters:
        return core_windows.IndexListContextWindow(index_list, dim=0, total_frames=total_frames)
    return core_windows.IndexListContextWindow(index_list, dim=0)


def frame_windows_handler(context_length: int, windows: Callable[[int], list[list[int]]], one_sigma_steps: bool,
                          weights: Callable[[list[int], int], list[float]] | None = None) -> object:
    """Core's handler over ``windows(frames) -> [[frame ids], ...]`` on the frames-as-batch axis, with no causal anchor frame.

    ``weights(window frames, clip frames)``: each frame's weight in the window's result (core divides every frame's
    sum by its total weight); None: flat, 1 for every frame. Core calls the fuse function with the window's
    frames (``idxs``) and the clip's length (``full_length``), as 0.3.75 and 0.8.0 do.
    """
    schedule = core_windows.ContextSchedule("kinema_frame_windows", lambda frames, handler, options: windows(frames))
    handler_class = _OneSigmaStep if one_sigma_steps else core_windows.IndexListContextHandler
    kwargs = {"context_length": context_length, "dim": 0}
    if "causal_window_fix" in inspect.signature(handler_class.__init__).parameters:
        kwargs["causal_window_fix"] = False
    if weights is None:
        fuse = core_windows.get_matching_fuse_method(core_windows.ContextFuseMethods.FLAT)
    else:
        fuse = core_windows.ContextFuseMethod("kinema_frame_weights", lambda length, idxs, full_length, **_: weights(list(idxs), full_length))
    return handler_class(schedule, fuse, **kwargs)


def set_frame_windows(patcher: ModelPatcher, context_length: int, windows: Callable[[int], list[list[int]]],
                      one_sigma_steps: bool) -> None:
    """Core context windows over ``windows(frames)`` with flat fusing on the clone (see ``frame_windows_handler``)."""
    patcher.model_options["context_handler"] = frame_windows_handler(context_length, windows, one_sigma_steps)
    _add_memory_estimate(patcher)


def set_run_frame_windows(patcher: ModelPatcher, key: str, make: Callable[[int], object]) -> None:
    """Around each sampling run of the clone, the run's own context handler ``make(clip frames)`` (core's, from
    ``frame_windows_handler``): for windows whose sizes depend on the clip's length. The clone keeps no handler."""

    def wrapper(executor, noise, *args, **kwargs):
        sampling_model_options(executor)["context_handler"] = make(noise.shape[0])
        return executor(noise, *args, **kwargs)

    patcher.model_options.pop("context_handler", None)
    set_outer_sample_wrapper(patcher, key, wrapper)
    _add_memory_estimate(patcher)


def _add_memory_estimate(patcher: ModelPatcher) -> None:
    """Core's wrapper sizing the memory estimate by the handler's ``context_length``, once (core would add a second)."""
    if not patcher.get_wrappers(comfy.patcher_extension.WrappersMP.PREPARE_SAMPLING, _MEMORY_ESTIMATE_KEY):
        core_windows.create_prepare_sampling_wrapper(patcher)
