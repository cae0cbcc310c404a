"""ControlNets inside context windows, and ControlNets whose self-attention sees other frames.

Checked on ComfyUI 0.3.75 and 0.8.0 (the same ``comfy/controlnet.py``). Core never cuts a
ControlNet's control images to a context window, so a window-aware copy gives each window
its own: for every window it makes (once per sampling run) a copy of itself through core's
public ``copy()`` and ``set_cond_hint()``, which then prepares, caches and broadcasts that
window's images by core's own code. Nothing swaps hints on a shared object: newer ComfyUI
caches prepared hints per size (``cond_hints``, cleared only by ``set_cond_hint`` and
``cleanup``) and would give every window the first window's images.
"""

from __future__ import annotations

from collections.abc import Callable

import comfy.controlnet
from comfy.ldm.modules.attention import BasicTransformerBlock

from .context_windows import window_in_call

# (window frames, causal anchor frame or None, image count) -> which control image each frame of the call uses
ImagesForWindow = Callable[[list[int], "int | None", int], list[int]]


class _WindowAware:
    """Mixed in before a core ControlNet class: inside a context window, a per-window copy answers ``get_control``."""

    kinema_base: type  # the core class this one extends
    kinema_images_for: ImagesForWindow | None = None
    kinema_chunks = None  # a frame_attention.GuidanceChunks told the chunk count and context window of every call, or None
    kinema_run: tuple | None = None  # pre_run's arguments, for the window copies
    kinema_windows: dict | None = None  # image indices -> the copy holding those images

    def pre_run(self, model, percent_to_timestep_function):
        super().pre_run(model, percent_to_timestep_function)
        self.kinema_run, self.kinema_windows = (model, percent_to_timestep_function), {}

    def cleanup(self):
        self.kinema_run, self.kinema_windows = None, None
        super().cleanup()

    def _window_copy(self, transformer_options: dict):
        call, hints = window_in_call(transformer_options), self.cond_hint_original
        if call is None or hints is None or hints.shape[0] <= 1 or self.kinema_run is None or self.kinema_images_for is None:
            return None
        images = tuple(self.kinema_images_for(call[0], call[1], hints.shape[0]))
        window = self.kinema_windows.get(images)
        if window is None:
            window = self.kinema_base.copy(self)  # a plain core ControlNet sharing the weights
            window.set_cond_hint(hints[list(images)], window.strength, window.timestep_percent_range, window.vae,
                                 window.extra_concat_orig)
            window.pre_run(*self.kinema_run)
            window.set_previous_controlnet(self.previous_controlnet)  # after pre_run: the chain was pre-run already
            self.kinema_windows[images] = window
        return window

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        window = self._window_copy(transformer_options)
        if self.kinema_chunks is not None:
            self.kinema_chunks.count, self.kinema_chunks.window = batched_number, window_in_call(transformer_options)
        try:
            if window is None:
                return super().get_control(x_noisy, t, cond, batched_number, transformer_options)
            return window.get_control(x_noisy, t, cond, batched_number, transformer_options)
        finally:
            if self.kinema_chunks is not None:
                self.kinema_chunks.count, self.kinema_chunks.window = None, None

    def copy(self):
        return _window_aware_copy(self, self.kinema_base, self.kinema_images_for, self.kinema_chunks)


def _window_aware_copy(source, base: type, images_for: ImagesForWindow, chunks):
    """A window-aware instance over ``base`` holding ``source``'s settings and sharing its weights (as core's copy())."""
    window_aware = type(f"WindowAware{base.__name__}", (_WindowAware, base), {"kinema_base": base})
    ours = window_aware(None, global_average_pooling=source.global_average_pooling, load_device=source.load_device,
                        manual_cast_dtype=source.manual_cast_dtype)
    source.copy_to(ours)
    ours.control_model, ours.control_model_wrapped = source.control_model, source.control_model_wrapped
    ours.kinema_images_for, ours.kinema_chunks = images_for, chunks
    return ours


def window_aware_controlnet(control_net, images_for: ImagesForWindow, chunks=None):
    """A copy of a core ControlNet (sharing its weights) that gives each context window ``images_for``'s control images.

    ``chunks``: a holder whose ``count`` and ``window`` are set to each call's guidance-chunk count and context
    window (ComfyUI runs ControlNet models without ``transformer_options``, so their attention cannot read them).
    """
    base = getattr(control_net, "kinema_base", type(control_net))
    if not issubclass(base, comfy.controlnet.ControlNet) or issubclass(base, comfy.controlnet.ControlLora):
        raise TypeError(f"a {base.__name__} is not a full ControlNet (ControlLoRA and T2I adapters are not supported); "
                        "use a full SD1.5/SDXL ControlNet checkpoint from Load ControlNet Model.")
    return _window_aware_copy(control_net, base, images_for, chunks if chunks is not None else getattr(control_net, "kinema_chunks", None))


def self_attention_paths(control_net) -> list[str]:
    """Paths of the ControlNet's self-attention modules (``attn1`` of its transformer blocks)."""
    patcher = control_net.control_model_wrapped
    with patcher.use_ejected():
        return [f"{name}.attn1" for name, block in patcher.model.named_modules()
                if isinstance(block, BasicTransformerBlock) and not block.disable_self_attn]


def with_self_attention(control_net, replacement: Callable) -> None:
    """Give a (window-aware) ControlNet copy its own patcher clone whose self-attention modules are ``replacement(original)``.

    The swap is an object patch, undone by ComfyUI when another clone of the ControlNet loads.
    Re-applying wraps the original module, never an earlier replacement (which keeps it as ``inner``).
    """
    paths = self_attention_paths(control_net)
    if not paths:
        raise TypeError("this ControlNet has no UNet-style self-attention layers (a DiT ControlNet?); "
                        "use a full SD1.5/SDXL ControlNet checkpoint.")
    patcher = control_net.control_model_wrapped = control_net.control_model_wrapped.clone()
    for path in paths:
        original = patcher.get_model_object(path)
        patcher.add_object_patch(path, replacement(getattr(original, "inner", original)))


def controlnets_in_run(executor) -> list:
    """Every ControlNet of the sampling run an OUTER_SAMPLE wrapper wraps: those in its conds' ``control`` entries and
    the ControlNets chained before them. Checked on 0.3.75 and 0.8.0 (the guider's ``conds``, copied per run)."""
    found = []
    for conds in executor.class_obj.conds.values():
        for cond in conds:
            control = cond.get("control")
            while control is not None and all(control is not seen for seen in found):
                found.append(control)
                control = control.previous_controlnet
    return found


def follows_windows(control) -> bool:
    """Whether a ControlNet gives each context window its own control images (a window-aware copy)."""
    return isinstance(control, _WindowAware)


def control_image_count(control) -> int:
    """How many control images a ControlNet holds (0 for one that holds none)."""
    hints = getattr(control, "cond_hint_original", None)
    return 0 if hints is None else int(hints.shape[0])
