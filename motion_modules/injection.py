"""Put a loaded motion module set into a clone of a ComfyUI SD model.

All ComfyUI access goes through ``comfy_glue``. The motion weights ride along as an
additional model of the clone (ComfyUI's memory manager loads and offloads them with
the UNet, and motion LoRAs patch them there); the UNet gets thin ``MotionSlot``
layers through an injection (inserted after weight patches, removed before ComfyUI
touches weights again); the forward-timestep-embed patch runs each slot with the
frame count of the current pass.
"""

from __future__ import annotations

import dataclasses
import logging

import torch

from .. import comfy_glue
from .frame_norm import ClipFrames, frame_spanning_copy
from .placement import Placement, insert_position, placements

log = logging.getLogger(__name__)

PATCH_KEY = "kinema_motion_modules"


class MotionCompatibilityError(ValueError):
    """The motion module was made for another kind of UNet."""


class MotionFrameCountError(ValueError):
    """The pass holds more frames than the module's position encoding covers."""


@dataclasses.dataclass(frozen=True)
class MotionSettings:
    scale: float = 1.0  # attention temperature: multiplies keys before attention
    effect: float = 1.0  # blend with the identity: x*(1-effect) + module(x)*effect
    pe_length: int = 32
    frame_spanning_norms: bool = False  # v1 / HotShot-XL: ResBlock and output GroupNorm statistics span the clip


class MotionSlot(torch.nn.Module):
    """A placeholder layer in a UNet block that runs one motion module.

    The module is held in a tuple so it is not registered as a submodule: its weights
    belong to the motion model's own patcher, not to the UNet's state dict.
    """

    def __init__(self, module: torch.nn.Module, settings: MotionSettings, name: str) -> None:
        super().__init__()
        self._module = (module,)
        self.settings = settings
        self.name = name

    def run(self, x: torch.Tensor, transformer_options: dict) -> torch.Tensor:
        frames = frames_per_clip(x, transformer_options, self.name)
        problem = frames_per_pass_error(frames, None, self.settings.pe_length)
        if problem:  # the sampling wrapper catches this earlier; other callers of the UNet land here
            raise MotionFrameCountError(f"{self.name}: {problem}")
        if self.settings.effect == 0.0:
            return x
        module = self._module[0]
        weight_dtype = module.temporal_transformer.proj_in.weight.dtype
        # A UNet computing in another dtype than the module's weights meets the module in the module's dtype.
        out = module(x.to(weight_dtype), frames=frames, scale=self.settings.scale, effect=self.settings.effect,
                     attention=comfy_glue.attention)
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.name}, {self.settings}"


def frames_per_clip(x: torch.Tensor, transformer_options: dict, where: str) -> int:
    """Frames in each guidance chunk of a UNet batch: ComfyUI stacks cond/uncond chunks of one clip."""
    chunks = len(transformer_options.get("cond_or_uncond") or [0])
    if x.shape[0] % chunks:
        raise ValueError(f"{where}: batch {x.shape[0]} does not split into {chunks} guidance chunks")
    return x.shape[0] // chunks


def _run_slot(layer, x, emb, context, transformer_options, *args, **kwargs):
    """forward_timestep_embed patch: ComfyUI calls it for every layer of our type in a block."""
    return layer.run(x, transformer_options)


def _layer_kind(layer: torch.nn.Module) -> str:
    if comfy_glue.is_spatial_transformer(layer):
        return "transformer"
    if comfy_glue.is_resblock(layer):
        return "resblock"
    return type(layer).__name__


def layout_placements(motion_set: torch.nn.Module) -> list[Placement]:
    """Placements for the levels and module counts this motion set actually has."""
    down = motion_set.down_blocks
    up = motion_set.up_blocks
    return placements(
        down_levels=len(down), modules_per_down=len(down[0].motion_modules),
        up_levels=len(up), modules_per_up=len(up[0].motion_modules),
        has_mid=getattr(motion_set, "mid_block", None) is not None,
    )


def _inject(patcher, motion_set: torch.nn.Module, settings: MotionSettings) -> None:
    blocks = comfy_glue.unet_block_lists(comfy_glue.diffusion_model(patcher))
    for place in layout_placements(motion_set):
        block = blocks[place.role][place.block_index]
        position = insert_position([_layer_kind(layer) for layer in block])
        block.insert(position, MotionSlot(motion_set.get_submodule(place.module_path), settings, place.module_path))


def _eject(patcher) -> None:
    for block_list in comfy_glue.unet_block_lists(comfy_glue.diffusion_model(patcher)).values():
        for block in block_list:
            for index in reversed([i for i, layer in enumerate(block) if isinstance(layer, MotionSlot)]):
                del block[index]


def _block_channels(layers: list[torch.nn.Module]) -> int | None:
    """Channels of the activations leaving the last ResBlock/transformer among ``layers``."""
    for layer in reversed(layers):
        if comfy_glue.is_resblock(layer):
            return layer.out_channels
        if comfy_glue.is_spatial_transformer(layer):
            return layer.in_channels
    return None


def check_fits_unet(patcher, motion_set: torch.nn.Module, describe: str) -> None:
    """Refuse a motion module whose levels or channels do not match the UNet, naming both."""
    model_type = comfy_glue.model_type_name(patcher)
    blocks = comfy_glue.unet_block_lists(comfy_glue.diffusion_model(patcher))
    for place in layout_placements(motion_set):
        module_channels = motion_set.get_submodule(place.module_path).temporal_transformer.norm.num_channels
        found = None
        if place.block_index < len(blocks[place.role]):
            block = list(blocks[place.role][place.block_index])
            found = _block_channels(block[: insert_position([_layer_kind(layer) for layer in block])])
        if found != module_channels:
            where = f"{place.role} block {place.block_index}"
            has = f"has {found} channels" if found is not None else "does not exist"
            raise MotionCompatibilityError(
                f"{describe} does not fit this {model_type} model: {place.module_path} expects {module_channels} "
                f"channels but the UNet's {where} {has}. Load a checkpoint of the type the motion module was made "
                f"for, or a motion module made for {model_type}."
            )


def frames_per_pass_error(frames: int, window: int | None, pe_length: int) -> str | None:
    """Why a clip of ``frames`` latents cannot run through a module with ``pe_length`` positions, or None."""
    if window is None and frames > pe_length:
        return (
            f"{frames} frames exceed this motion module's limit of {pe_length} frames per pass. Use at most "
            f"{pe_length} frames, or add core 'Context Windows (Manual)' after Apply Motion Module with "
            f"context_length <= {pe_length} (16 is a good choice) for any length."
        )
    if window is not None and window > pe_length and frames > pe_length:
        return (
            f"context windows of {window} frames exceed this motion module's limit of {pe_length} frames per pass: "
            f"set context_length to at most {pe_length} in 'Context Windows (Manual)'."
        )
    return None


def _prepare_sampling(settings: MotionSettings):
    """OUTER_SAMPLE wrapper: refuse clips the module cannot cover, and make core context windows work on frame batches."""
    def wrapper(executor, noise, latent_image, *args, **kwargs):
        model_options = comfy_glue.sampling_model_options(executor)  # this sampling call's own copy
        comfy_glue.use_frame_batch_context_windows(model_options)
        window = comfy_glue.context_window_length(model_options)
        problem = frames_per_pass_error(latent_image.shape[0], window, settings.pe_length)
        if problem:
            raise MotionFrameCountError(problem)
        return executor(noise, latent_image, *args, **kwargs)

    return wrapper


def _span_norms_across_frames(patched) -> None:
    """Swap the clone's ResBlock and output GroupNorms for frame-spanning twins, told the frame count per call."""
    clip_frames = ClipFrames()
    for path, norm in comfy_glue.unet_resblock_norms(patched).items():
        comfy_glue.add_object_patch(patched, path, frame_spanning_copy(norm, clip_frames))

    def record_frames(executor, x, timesteps, context, y, control, transformer_options, **kwargs):
        clip_frames.count = frames_per_clip(x, transformer_options, "frame-spanning norms")
        try:
            return executor(x, timesteps, context, y, control, transformer_options, **kwargs)
        finally:
            clip_frames.count = 1

    comfy_glue.add_diffusion_model_wrapper(patched, PATCH_KEY, record_frames)


def attach_motion_modules(model, motion_patcher, settings: MotionSettings):
    """Return a clone of ``model`` (a ComfyUI MODEL) that runs the motion modules of ``motion_patcher``."""
    patched = model.clone()
    # Applying again (e.g. another module onto an already patched model) replaces, never stacks.
    comfy_glue.remove_patches_with_key(patched, PATCH_KEY, MotionSlot, lambda obj: hasattr(obj, "frame_spanning_original"))
    patched.set_additional_models(PATCH_KEY, [motion_patcher])
    motion_set = motion_patcher.model
    comfy_glue.add_injection(
        patched, PATCH_KEY,
        inject=lambda p: _inject(p, motion_set, settings),
        eject=_eject,
    )
    patched.set_model_forward_timestep_embed_patch((MotionSlot, _run_slot))
    comfy_glue.add_outer_sample_wrapper(patched, PATCH_KEY, _prepare_sampling(settings))
    if settings.frame_spanning_norms:
        _span_norms_across_frames(patched)
    return patched
