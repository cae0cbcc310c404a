"""Model clones and their hooks: patchers, injections, keyed wrappers, object patches, the UNet's layout.

Everything here acts on a ModelPatcher clone through its public hooks, which ComfyUI applies
while the clone is loaded and undoes after; re-applying a Kinema node replaces its own
entries (by key) and leaves everyone else's alone.
"""

from __future__ import annotations

from collections.abc import Callable

import comfy.model_management
import comfy.model_patcher
import comfy.patcher_extension
import torch
from comfy.ldm.modules.attention import SpatialTransformer
from comfy.ldm.modules.diffusionmodules.openaimodel import ResBlock

ModelPatcher = comfy.model_patcher.ModelPatcher
OUTER_SAMPLE = comfy.patcher_extension.WrappersMP.OUTER_SAMPLE
DIFFUSION_MODEL = comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL


def wrap_in_patcher(module: torch.nn.Module) -> ModelPatcher:
    """A patcher for a plain module, so ComfyUI's memory manager loads and offloads it.

    Checked on 0.3.75 and 0.8.0 (ModelPatcher); newer ComfyUI builds models with
    ``CoreModelPatcher``, which its main.py rebinds to ``ModelPatcherDynamic`` under DynamicVRAM,
    so it is read at call time when the host has it.
    """
    patcher_class = getattr(comfy.model_patcher, "CoreModelPatcher", ModelPatcher)
    return patcher_class(module, load_device=comfy.model_management.get_torch_device(),
                         offload_device=comfy.model_management.unet_offload_device())


def add_additional_model(patcher: ModelPatcher, key: str, model: ModelPatcher) -> None:
    """``model`` is loaded and offloaded with the clone, under ``key`` (replacing an earlier one). Checked on 0.3.75, 0.8.0."""
    patcher.set_additional_models(key, [model])


def set_injection(patcher: ModelPatcher, key: str, inject: Callable, eject: Callable) -> None:
    """Run ``inject(patcher)`` after ComfyUI applies weight patches, ``eject(patcher)`` before it removes them (replaces ``key``'s).

    Checked on 0.3.75 and 0.8.0.
    """
    patcher.set_injections(key, [comfy.patcher_extension.PatcherInjection(inject=inject, eject=eject)])


def set_outer_sample_wrapper(patcher: ModelPatcher, key: str, wrapper: Callable) -> None:
    """``wrapper(executor, noise, latent_image, sampler, sigmas, *args, **kwargs)`` around each sampling call (one per key).

    Checked on 0.3.75 and 0.8.0.
    """
    patcher.remove_wrappers_with_key(OUTER_SAMPLE, key)
    patcher.add_wrapper_with_key(OUTER_SAMPLE, key, wrapper)


def set_sampling_run_option(patcher: ModelPatcher, key: str, option: str, make: Callable[[int | None], object],
                            finish: Callable[[object], None] | None = None) -> None:
    """Around each sampling run: ``transformer_options[option] = make(seed)`` in that run's own model options, and
    ``finish(made)`` after the run ends.

    Checked on 0.3.75 and 0.8.0: an OUTER_SAMPLE wrapper (one per key) is called as
    ``(executor, noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed, ...)`` on a guider
    whose model options are a copy made for that sampling call.
    """

    def wrapper(executor, noise, latent_image, sampler, sigmas, denoise_mask=None, callback=None, disable_pbar=False, seed=None,
                *args, **kwargs):
        made = make(seed)
        executor.class_obj.model_options.setdefault("transformer_options", {})[option] = made
        out = executor(noise, latent_image, sampler, sigmas, denoise_mask, callback, disable_pbar, seed, *args, **kwargs)
        if finish is not None:
            finish(made)
        return out

    set_outer_sample_wrapper(patcher, key, wrapper)


def sampling_model_options(executor) -> dict:
    """The model options of the sampling call an OUTER_SAMPLE wrapper runs around (the guider's own copy). Checked on 0.3.75, 0.8.0."""
    return executor.class_obj.model_options


def set_unet_call_wrapper(patcher: ModelPatcher, key: str,
                          around: Callable[[torch.Tensor, dict, Callable[[dict], torch.Tensor]], torch.Tensor]) -> None:
    """Each UNet call becomes ``around(x, transformer_options, call)``; ``call(options)`` runs the UNet with those options.

    Checked on 0.3.75 and 0.8.0 (a DIFFUSION_MODEL wrapper, one per key).
    """

    def wrapper(executor, x, timesteps, context, y, control, transformer_options, **kwargs):
        return around(x, transformer_options, lambda options: executor(x, timesteps, context, y, control, options, **kwargs))

    patcher.remove_wrappers_with_key(DIFFUSION_MODEL, key)
    patcher.add_wrapper_with_key(DIFFUSION_MODEL, key, wrapper)


def guidance_chunks(transformer_options: dict) -> int:
    """How many guidance chunks (cond, uncond, ...) a UNet batch holds: one per ``cond_or_uncond`` entry. Checked on 0.3.75, 0.8.0."""
    return len(transformer_options.get("cond_or_uncond") or [0])


def set_object_patch(patcher: ModelPatcher, path: str, replacement: object) -> None:
    """ComfyUI swaps ``path`` for ``replacement`` while the clone is loaded and puts the original back after.

    Checked on 0.3.75 and 0.8.0. Patching a path again replaces the earlier patch.
    """
    patcher.add_object_patch(path, replacement)


def set_model_sampling(patcher: ModelPatcher, sampling: torch.nn.Module) -> None:
    """Sample this clone with another noise schedule (core's own ModelSampling* nodes do the same). Checked on 0.3.75, 0.8.0."""
    patcher.add_object_patch("model_sampling", sampling)


def diffusion_model(patcher: ModelPatcher) -> torch.nn.Module:
    return patcher.model.diffusion_model


def unet_blocks(unet: torch.nn.Module) -> dict[str, list[torch.nn.Module]]:
    """The UNet's block containers by role: 'input', 'middle', 'output' (each a TimestepEmbedSequential).

    Checked on 0.3.75 and 0.8.0 (``openaimodel.UNetModel`` keeps the LDM layout).
    """
    return {"input": list(unet.input_blocks), "middle": [unet.middle_block], "output": list(unet.output_blocks)}


def layer_kind(layer: torch.nn.Module) -> str:
    """'transformer' (SpatialTransformer), 'resblock' (ResBlock) or the class name. Checked on 0.3.75, 0.8.0."""
    if isinstance(layer, SpatialTransformer):
        return "transformer"
    if isinstance(layer, ResBlock):
        return "resblock"
    return type(layer).__name__


def layer_channels(layer: torch.nn.Module) -> int | None:
    """Channels of the activations a ResBlock or SpatialTransformer hands on; None for other layers. Checked on 0.3.75, 0.8.0."""
    if isinstance(layer, ResBlock):
        return layer.out_channels
    if isinstance(layer, SpatialTransformer):
        return layer.in_channels
    return None


def model_type_name(patcher: ModelPatcher) -> str:
    """'SD15', 'SDXL', ... : ComfyUI's name for the loaded model's config class. Checked on 0.3.75, 0.8.0."""
    return type(patcher.model.model_config).__name__


def unet_resblock_norms(patcher: ModelPatcher) -> dict[str, torch.nn.GroupNorm]:
    """GroupNorms of the UNet outside its spatial transformers, by path (the form object patches take).

    Read with injections ejected (a loaded model may still hold another clone's layers) and
    through ``get_model_object``, so an object-patched path yields the module behind the patch.
    Checked on 0.3.75 and 0.8.0.
    """
    with patcher.use_ejected():
        unet = diffusion_model(patcher)
        transformers = [name + "." for name, m in unet.named_modules() if isinstance(m, SpatialTransformer)]
        names = [name for name, m in unet.named_modules()
                 if isinstance(m, torch.nn.GroupNorm) and not name.startswith(tuple(transformers))]
    return {f"diffusion_model.{name}": patcher.get_model_object(f"diffusion_model.{name}") for name in names}
