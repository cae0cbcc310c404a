"""Put a loaded motion module set into a clone of a ComfyUI SD model (the binding behind Apply Motion Module).

The motion weights ride along as an additional model of the clone (ComfyUI's memory
manager loads and offloads them with the UNet, and motion LoRAs patch them there); an
injection hooks each motion module onto the output of the UNet layer it follows (added
after weight patches, removed before ComfyUI touches weights again); a wrapper around each
UNet call tells the hooks the call's guidance-chunk count and attention.
"""

from __future__ import annotations

from ..comfy_glue import attention, context_windows, patcher
from ..motion_modules.frame_norm import ClipFrames, frame_spanning_copy, original_norm
from ..motion_modules.injection import (
    MotionFrameCountError,
    MotionSettings,
    UNetCall,
    check_fits_unet,
    frames_per_chunk,
    frames_per_pass_error,
    hook_slots,
    slot_points,
)
from .frame_batch_windows import add_window_support

PATCH_KEY = "kinema_motion_modules"


def _blocks(model):
    return patcher.unet_blocks(patcher.diffusion_model(model))


def check_fits(model, motion_set, describe: str) -> None:
    check_fits_unet(_blocks(model), patcher.layer_kind, patcher.layer_channels, patcher.model_type_name(model), motion_set, describe)


def _frame_limit(settings: MotionSettings):
    """OUTER_SAMPLE wrapper: refuse, before the first step, a clip the module cannot cover."""

    def wrapper(executor, noise, latent_image, *args, **kwargs):
        facts = context_windows.window_facts(patcher.sampling_model_options(executor))
        problem = frames_per_pass_error(latent_image.shape[0], facts.context_length if facts else None, settings.pe_length,
                                        causal_anchor=bool(facts and facts.causal_anchor))
        if problem:
            raise MotionFrameCountError(problem)
        return executor(noise, latent_image, *args, **kwargs)

    return wrapper


def _span_norms(model, spanning: bool) -> ClipFrames | None:
    """v1 / HotShot-XL: the clone's ResBlock and output GroupNorms normalise over whole clips; otherwise the originals."""
    clip_frames = ClipFrames()
    for path, norm in patcher.unet_resblock_norms(model).items():
        if spanning:
            patcher.set_object_patch(model, path, frame_spanning_copy(norm, clip_frames))
        elif original_norm(norm) is not norm:  # an earlier Apply Motion Module on this model spanned it
            patcher.set_object_patch(model, path, original_norm(norm))
    return clip_frames if spanning else None


def _describe_calls(call: UNetCall, clip_frames: ClipFrames | None):
    """Around each UNet call: what the motion hooks (and frame-spanning norms) need to know of it."""

    def around(x, transformer_options, run):
        call.chunks = patcher.guidance_chunks(transformer_options)
        call.attention = attention.attention_for(transformer_options)
        if clip_frames is not None:
            clip_frames.count = frames_per_chunk(x.shape[0], call.chunks, "frame-spanning norms")
        try:
            return run(transformer_options)
        finally:
            call.chunks, call.attention = None, None
            if clip_frames is not None:
                clip_frames.count = 1

    return around


def attach_motion_modules(model, motion_patcher, settings: MotionSettings):
    """Return a clone of ``model`` (a ComfyUI MODEL) that runs the motion modules of ``motion_patcher``.

    Applying again (e.g. another module onto an already patched model) replaces every part of
    the earlier one, by key, and never stacks.
    """
    patched = model.clone()
    motion_set, call, handles = motion_patcher.model, UNetCall(), []

    def inject(loaded) -> None:
        handles.extend(hook_slots(slot_points(_blocks(loaded), patcher.layer_kind, motion_set, settings), call))

    def eject(loaded) -> None:
        while handles:
            handles.pop().remove()

    patcher.add_additional_model(patched, PATCH_KEY, motion_patcher)
    patcher.set_injection(patched, PATCH_KEY, inject=inject, eject=eject)
    patcher.set_outer_sample_wrapper(patched, PATCH_KEY, _frame_limit(settings))
    patcher.set_unet_call_wrapper(patched, PATCH_KEY, _describe_calls(call, _span_norms(patched, settings.frame_spanning_norms)))
    add_window_support(patched)
    return patched
