"""Every use of ComfyUI internals by the pack, in one place.

ComfyUI changing underneath a pack is the largest risk a pack has, so the rest of
Kinema calls only these functions. Nothing here assigns to a ComfyUI module attribute:
model changes go through a ModelPatcher clone's own hooks (additional models, injections,
patches, object patches), which ComfyUI applies and undoes itself. The one write to host
state is registering our model folders (and their file extensions) with folder_paths.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable
from pathlib import Path

import comfy.context_windows
import comfy.controlnet
import comfy.lora
import comfy.model_management
import comfy.model_patcher
import comfy.model_sampling
import comfy.ops
import comfy.patcher_extension
import comfy.sample
import comfy.samplers
import folder_paths
import torch
from comfy.ldm.modules.attention import BasicTransformerBlock, SpatialTransformer, optimized_attention
from comfy.ldm.modules.diffusionmodules.openaimodel import ResBlock

log = logging.getLogger(__name__)

MOTION_MODELS = "animatediff_models"
MOTION_LORAS = "animatediff_motion_lora"
ModelPatcher = comfy.model_patcher.ModelPatcher


# -- model folders --------------------------------------------------------------------------
def register_model_folders() -> None:
    """The folder keys AnimateDiff users already have, under ComfyUI's models dir, for weight files only."""
    for key in (MOTION_MODELS, MOTION_LORAS):
        folder_paths.add_model_folder_path(key, str(Path(folder_paths.models_dir) / key), is_default=True)
        # A new key starts with an empty extension set, which would list any file at all.
        folder_paths.folder_names_and_paths[key][1].update(folder_paths.supported_pt_extensions)


def list_model_files(key: str) -> list[str]:
    return folder_paths.get_filename_list(key)


def missing_model_file(key: str, name: str) -> str | None:
    """None when ``name`` is in a ``key`` folder, else a message naming the file, the folders and the fix."""
    if folder_paths.get_full_path(key, name) is not None:
        return None
    searched = ", ".join(folder_paths.get_folder_paths(key))
    return f"{name!r} is not in any {key} folder (searched: {searched}); put the file there or pick another."


def model_file_path(key: str, name: str) -> Path:
    problem = missing_model_file(key, name)
    if problem:
        raise FileNotFoundError(problem)
    return Path(folder_paths.get_full_path(key, name))


# -- devices and memory ---------------------------------------------------------------------
def motion_module_dtype() -> torch.dtype:
    """ComfyUI's UNet compute dtype: its storage dtype, or for fp8 storage the dtype it computes in."""
    dtype = comfy.model_management.unet_dtype()
    compute = comfy.model_management.unet_manual_cast(dtype, comfy.model_management.get_torch_device())
    return compute if compute is not None and dtype.itemsize == 1 else dtype


def weight_casting_layers(linear: Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]):
    """ComfyUI's layer classes (``Linear``, ``LayerNorm``, ``GroupNorm``) for a model its memory manager may load
    partially: in low-VRAM mode the weights that do not fit stay in system RAM and are cast onto the device per call,
    with weight patches (LoRAs) applied on the way. A Linear whose weights need none of that computes ``linear``."""
    ops = comfy.ops.disable_weight_init

    class Linear(ops.Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if self.comfy_cast_weights or self.weight_function or self.bias_function:
                return super().forward(x)
            comfy.ops.run_every_op()  # ComfyUI's interrupt check, as its own layers make it
            return linear(x, self.weight, self.bias)

    return types.SimpleNamespace(Linear=Linear, LayerNorm=ops.LayerNorm, GroupNorm=ops.GroupNorm)


def wrap_in_patcher(module: torch.nn.Module) -> ModelPatcher:
    """A ModelPatcher for a plain module, so ComfyUI's memory manager loads and offloads it."""
    return ModelPatcher(
        module,
        load_device=comfy.model_management.get_torch_device(),
        offload_device=comfy.model_management.unet_offload_device(),
    )


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """ComfyUI's best attention backend for this machine; q/k/v are [batch, tokens, heads*dim]."""
    return optimized_attention(q, k, v, heads)


# -- patching a model clone -----------------------------------------------------------------
def add_injection(patcher: ModelPatcher, key: str, inject: Callable, eject: Callable) -> None:
    """Run ``inject(patcher)`` after ComfyUI applies weight patches and ``eject(patcher)`` before it removes them."""
    patcher.set_injections(key, [comfy.patcher_extension.PatcherInjection(inject=inject, eject=eject)])


def add_outer_sample_wrapper(patcher: ModelPatcher, key: str, wrapper: Callable) -> None:
    """``wrapper(executor, noise, latent_image, sampler, sigmas, *args, **kwargs)`` runs around each sampling call."""
    patcher.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, key, wrapper)


def sampling_model_options(executor) -> dict:
    """The model options of the sampling call an OUTER_SAMPLE wrapper runs around (the guider's)."""
    return executor.class_obj.model_options


def context_window_length(model_options: dict) -> int | None:
    """Frames per window when core context windows are on (ContextWindowsManual), else None."""
    handler = model_options.get("context_handler")
    return getattr(handler, "context_length", None) if handler is not None else None


class _FrameBatchContextHandler(comfy.context_windows.IndexListContextHandler):
    """Core's context windows, with the step found from one sigma instead of the whole timestep batch.

    ComfyUI 0.3.75 matches ``sample_sigmas`` against the timestep tensor as a whole,
    which only broadcasts for batch-1 models (WAN); SD's frames-as-batch layout gives
    one identical sigma per frame and crashes there.
    """

    def set_step(self, timestep: torch.Tensor, model_options: dict) -> None:
        super().set_step(timestep.flatten()[:1], model_options)


def use_frame_batch_context_windows(model_options: dict) -> bool:
    """In one sampling call's own model options, swap core's frames-as-batch handler for the one above."""
    handler = model_options.get("context_handler")
    if type(handler) is not comfy.context_windows.IndexListContextHandler or handler.dim != 0:
        return False
    repaired = _FrameBatchContextHandler.__new__(_FrameBatchContextHandler)
    repaired.__dict__.update(handler.__dict__)
    model_options["context_handler"] = repaired
    return True


def add_diffusion_model_wrapper(patcher: ModelPatcher, key: str, wrapper: Callable) -> None:
    """``wrapper(executor, x, timesteps, context, y, control, transformer_options, **kw)`` runs around each UNet call."""
    patcher.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, key, wrapper)


def unet_resblock_norms(patcher: ModelPatcher) -> dict[str, torch.nn.GroupNorm]:
    """GroupNorms of the UNet outside its spatial transformers, by path (the form object patches take).

    Read with injections ejected (a loaded model may still hold another clone's layers) and
    through ``get_model_object``, so an object-patched path yields the module behind the patch.
    """
    with patcher.use_ejected():
        unet = diffusion_model(patcher)
        transformers = [name + "." for name, m in unet.named_modules() if isinstance(m, SpatialTransformer)]
        names = [name for name, m in unet.named_modules()
                 if isinstance(m, torch.nn.GroupNorm) and not name.startswith(tuple(transformers))]
    return {f"diffusion_model.{name}": patcher.get_model_object(f"diffusion_model.{name}") for name in names}


def add_object_patch(patcher: ModelPatcher, path: str, replacement: torch.nn.Module) -> None:
    """ComfyUI swaps ``path`` for ``replacement`` while the clone is loaded, and puts the original back after.

    The replacement starts with no load state of its own: ComfyUI records on each module whether
    it patched or lowvram-cast its weights, and a copy must not inherit that from the original.
    """
    for attribute in ("comfy_patched_weights", "prev_comfy_cast_weights"):
        replacement.__dict__.pop(attribute, None)
    for attribute in ("weight_function", "bias_function"):
        if attribute in replacement.__dict__:
            replacement.__dict__[attribute] = []
    patcher.add_object_patch(path, replacement)


def remove_patches_with_key(patcher: ModelPatcher, key: str, layer_type: type, is_ours: Callable) -> None:
    """Undo an earlier attach on this clone: keyed wrappers, our timestep-embed handler, our object patches."""
    for wrapper_type in (comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL):
        patcher.remove_wrappers_with_key(wrapper_type, key)
    patches = patcher.model_options.get("transformer_options", {}).get("patches", {})
    if "forward_timestep_embed_patch" in patches:
        patches["forward_timestep_embed_patch"] = [p for p in patches["forward_timestep_embed_patch"] if p[0] is not layer_type]
    for path in [path for path, obj in patcher.object_patches.items() if is_ours(obj)]:
        del patcher.object_patches[path]


def diffusion_model(patcher: ModelPatcher) -> torch.nn.Module:
    return patcher.model.diffusion_model


def unet_block_lists(unet: torch.nn.Module) -> dict[str, list[torch.nn.Module]]:
    """The UNet's block containers by role: 'input', 'middle', 'output' (each a TimestepEmbedSequential)."""
    return {"input": list(unet.input_blocks), "middle": [unet.middle_block], "output": list(unet.output_blocks)}


def is_spatial_transformer(layer: torch.nn.Module) -> bool:
    return isinstance(layer, SpatialTransformer)


def is_resblock(layer: torch.nn.Module) -> bool:
    return isinstance(layer, ResBlock)


def model_type_name(patcher: ModelPatcher) -> str:
    """'SD15', 'SDXL', ... : ComfyUI's name for the loaded model's config class."""
    return type(patcher.model.model_config).__name__


# -- sampling schedules ---------------------------------------------------------------------
def _schedule_config(beta_schedule: str, linear_start: float, linear_end: float):
    """The minimal model config ComfyUI's discrete model samplings read their schedule from."""
    return type("ScheduleConfig", (), {"sampling_settings": {
        "beta_schedule": beta_schedule, "linear_start": linear_start, "linear_end": linear_end}})()


def discrete_eps_sampling(beta_schedule: str, linear_start: float, linear_end: float) -> torch.nn.Module:
    """A ModelSamplingDiscrete (eps prediction) over a given beta schedule, in ComfyUI's schedule names."""

    class _Sampling(comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.EPS):
        pass

    return _Sampling(_schedule_config(beta_schedule, linear_start, linear_end))


def lcm_sampling(beta_schedule: str, linear_start: float, linear_end: float) -> torch.nn.Module:
    """AnimateLCM's schedule: ComfyUI's own LCM sampling over 50 distilled steps."""
    from comfy_extras.nodes_model_advanced import LCM, ModelSamplingDiscreteDistilled

    class _Sampling(ModelSamplingDiscreteDistilled, LCM):
        pass

    return _Sampling(_schedule_config(beta_schedule, linear_start, linear_end))


def set_model_sampling(patcher: ModelPatcher, sampling: torch.nn.Module) -> None:
    patcher.add_object_patch("model_sampling", sampling)


# -- weight patches -------------------------------------------------------------------------
def add_lora_patches(patcher: ModelPatcher, pairs: dict[str, tuple[torch.Tensor, torch.Tensor]], strength: float) -> int:
    """Patch ``weight_key <- weight_key + strength * up @ down`` through ComfyUI's LoRA machinery (no dense delta kept)."""
    lora, key_map = {}, {}
    for index, (weight_key, (up, down)) in enumerate(pairs.items()):
        name = f"motion_lora_{index}"
        lora[f"{name}.lora_up.weight"] = up
        lora[f"{name}.lora_down.weight"] = down
        key_map[name] = weight_key
    patches = comfy.lora.load_lora(lora, key_map, log_missing=True)
    applied = patcher.add_patches(patches, strength_patch=strength)
    return len(applied)


# -- frame attention and Text2Video-Zero ------------------------------------------------------
def set_attn1_patch(patcher: ModelPatcher, patch: Callable, restore: Callable, is_ours: Callable,
                    key: str, fold_option: str) -> None:
    """Add ``patch`` to the self-attention patch chain (``attn1_patch``), replacing an earlier one of ours.

    ``attn1_patch`` entries run in order on the hidden states before Q/K/V projection and
    chain with other packs' entries and with ``attn1`` replacements, unlike a replacement.
    ``restore`` goes first in ``attn1_output_patch``. Around each UNet call a wrapper sets
    ``transformer_options[fold_option]`` to the batch size when ``patch`` may change the
    batch layout between the two: when it is the last ``attn1_patch``, ``restore`` the first
    output patch and no ``attn1`` replacement exists (those would see the changed layout).
    """
    patches = patcher.model_options.setdefault("transformer_options", {}).setdefault("patches", {})
    for name in ("attn1_patch", "attn1_output_patch"):
        if name in patches:
            patches[name] = [p for p in patches[name] if not is_ours(p)]
    patcher.set_model_attn1_patch(patch)
    patches["attn1_output_patch"] = [restore, *patches.get("attn1_output_patch", [])]

    def layout_may_change(transformer_options: dict) -> bool:
        call_patches = transformer_options.get("patches", {})
        chain, outputs = call_patches.get("attn1_patch", []), call_patches.get("attn1_output_patch", [])
        replaced = transformer_options.get("patches_replace", {}).get("attn1")
        return bool(chain) and is_ours(chain[-1]) and bool(outputs) and is_ours(outputs[0]) and not replaced

    def wrapper(executor, x, timesteps, context, y, control, transformer_options, **kwargs):
        if layout_may_change(transformer_options):
            transformer_options = {**transformer_options, fold_option: x.shape[0]}
        return executor(x, timesteps, context, y, control, transformer_options, **kwargs)

    patcher.remove_wrappers_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, key)
    add_diffusion_model_wrapper(patcher, key, wrapper)


def add_frame_batch_context_repair(patcher: ModelPatcher, key: str) -> None:
    """Make core context windows work on SD's frames-as-batch latents while this clone samples."""

    def wrapper(executor, *args, **kwargs):
        use_frame_batch_context_windows(sampling_model_options(executor))
        return executor(*args, **kwargs)

    add_outer_sample_wrapper(patcher, key, wrapper)


def guider_model(guider) -> ModelPatcher:
    """The model a core GUIDER (CFGGuider, BasicGuider, ...) samples."""
    return guider.model_patcher


def ddim_sample(guider, latent: torch.Tensor, sigmas: torch.Tensor, seed: int, add_noise: bool) -> torch.Tensor:
    """What core SamplerCustomAdvanced does with sampler "ddim": LATENT samples in, LATENT samples out.

    ``add_noise``: start from noise drawn from ``seed`` (as RandomNoise does); otherwise
    ``latent`` already holds the noisy sample at ``sigmas[0]`` (as DisableNoise).
    """
    latent = comfy.sample.fix_empty_latent_channels(guider.model_patcher, latent)
    noise = seeded_noise(latent, seed) if add_noise else torch.zeros(latent.shape, dtype=latent.dtype, device="cpu")
    samples = guider.sample(noise, latent, comfy.samplers.sampler_object("ddim"), sigmas, seed=seed,
                            disable_pbar=True)
    return samples.to(comfy.model_management.intermediate_device())


def seeded_noise(latent: torch.Tensor, seed: int) -> torch.Tensor:
    """The noise core samplers draw for ``latent`` from ``seed`` (CPU generator)."""
    return comfy.sample.prepare_noise(latent, seed)


def discrete_schedule(patcher: ModelPatcher, scheduler: str, steps: int) -> tuple[torch.Tensor, torch.Tensor, Callable]:
    """(sigmas of ``scheduler`` for ``steps``, alphabar per training timestep [1000], sigma -> timestep).

    ComfyUI samples EPS models in sigma space, x = x0 + sigma eps, which is the DDPM
    x_ddpm = sqrt(alphabar) x0 + sqrt(1 - alphabar) eps divided by sqrt(alphabar), with
    sigma^2 = (1 - alphabar) / alphabar; so alphabar = 1 / (1 + sigma^2).
    """
    sampling = patcher.get_model_object("model_sampling")
    # Continuous schedules (EDM, CosXL) also subclass EPS and hold sigmas, but their timestep() is no training step.
    if not (isinstance(sampling, comfy.model_sampling.EPS) and isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete)):
        raise ValueError("Motion-Dynamics Latents needs a model with a discrete training schedule such as SD1.5 or SDXL; "
                         f"the guider's model samples with {type(sampling).__name__}")
    sigmas = comfy.samplers.calculate_sigmas(sampling, scheduler, steps).cpu()
    alphas_cumprod = 1.0 / (1.0 + sampling.sigmas.detach().double().cpu() ** 2)
    return sigmas, alphas_cumprod, lambda sigma: int(round(float(sampling.timestep(torch.tensor(sigma)))))


def latent_format_scale(patcher: ModelPatcher) -> tuple[Callable, Callable]:
    """(LATENT samples -> the sampler's x, and back): ComfyUI scales VAE latents inside sampling."""
    latent_format = patcher.get_model_object("latent_format")
    return latent_format.process_in, latent_format.process_out


def custom_sampler(function: Callable, **options) -> object:
    """A core SAMPLER (for SamplerCustom/SamplerCustomAdvanced) running ``function(model, x, sigmas, extra_args, callback, disable, **options)``."""
    return comfy.samplers.KSAMPLER(function, extra_options=options)


def set_anchored_chunk_windows(patcher: ModelPatcher, chunk_size: int, windows: Callable) -> None:
    """Core context windows over ``windows(frames) -> [[frame ids], ...]``, flat fuse, on SD's frames-as-batch layout."""
    schedule = comfy.context_windows.ContextSchedule("kinema_anchored_chunks", lambda frames, handler, options: windows(frames))
    fuse = comfy.context_windows.get_matching_fuse_method(comfy.context_windows.ContextFuseMethods.FLAT)
    patcher.model_options["context_handler"] = _FrameBatchContextHandler(schedule, fuse, context_length=chunk_size, dim=0)
    comfy.context_windows.create_prepare_sampling_wrapper(patcher)


class _WindowAwareControlNet(comfy.controlnet.ControlNet):
    """Core ControlNet whose calls inside a context window (or anchored chunk) see that window's control images.

    ComfyUI 0.3.75's context handler leaves control objects as they are, so the ControlNet
    matches its whole hint batch against the window's rows: the clip's first images, or with
    cond and uncond in one pass possibly the first frames for cond and the next ones for uncond.
    Only ``get_control`` and ``copy`` (to stay this class, as Apply ControlNet copies) differ;
    the forward itself is core's. With ``kinema_chunks`` set (a frame_attention.GuidanceChunks)
    it also tells that holder how many guidance chunks each call holds.
    """

    kinema_chunks = None  # set per instance when the ControlNet's self-attention needs the chunk count

    def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
        window = transformer_options.get("context_window")
        full_hint = self.cond_hint_original
        windowed = window is not None and full_hint is not None and full_hint.shape[0] > 1
        if windowed:
            # [frames, C, H, W] -> [window frames, C, H, W]; the resized cache is rebuilt for this window
            self.cond_hint_original, self.cond_hint = full_hint[window.index_list], None
        if self.kinema_chunks is not None:
            self.kinema_chunks.count = batched_number
        try:
            return super().get_control(x_noisy, t, cond, batched_number, transformer_options)
        finally:
            if self.kinema_chunks is not None:
                self.kinema_chunks.count = None
            if windowed:
                self.cond_hint_original, self.cond_hint = full_hint, None

    def copy(self):
        c = _WindowAwareControlNet(None, global_average_pooling=self.global_average_pooling, load_device=self.load_device,
                                   manual_cast_dtype=self.manual_cast_dtype)
        c.control_model, c.control_model_wrapped, c.kinema_chunks = self.control_model, self.control_model_wrapped, self.kinema_chunks
        self.copy_to(c)
        return c


def window_aware_controlnet(control_net) -> _WindowAwareControlNet:
    """A copy of a core ControlNet (sharing its weights) that gives each context window its own control images."""
    if type(control_net) not in (comfy.controlnet.ControlNet, _WindowAwareControlNet):
        raise TypeError(f"a {type(control_net).__name__} is not a plain ControlNet (ControlLoRA, T2I adapters and "
                        "DiT ControlNets are not supported); use a full SD1.5/SDXL ControlNet checkpoint.")
    ours = _WindowAwareControlNet(None, global_average_pooling=control_net.global_average_pooling,
                                  load_device=control_net.load_device, manual_cast_dtype=control_net.manual_cast_dtype)
    control_net.copy_to(ours)
    ours.control_model, ours.control_model_wrapped = control_net.control_model, control_net.control_model_wrapped
    ours.kinema_chunks = getattr(control_net, "kinema_chunks", None)
    return ours


def controlnet_with_self_attention(control_net, chunks, replacement: Callable) -> _WindowAwareControlNet:
    """A window-aware copy of a core ControlNet whose self-attention modules are ``replacement(original)`` while it runs.

    The swap is an object patch on a clone of the ControlNet's own ModelPatcher (undone by
    ComfyUI when another clone loads); the copy sets ``chunks.count`` around each call.
    """
    ours = window_aware_controlnet(control_net)
    ours.kinema_chunks = chunks
    ours.control_model_wrapped = control_net.control_model_wrapped.clone()
    patcher = ours.control_model_wrapped
    with patcher.use_ejected():
        names = [name for name, block in patcher.model.named_modules()
                 if isinstance(block, BasicTransformerBlock) and not block.disable_self_attn]
    for name in names:
        original = patcher.get_model_object(f"{name}.attn1")
        original = getattr(original, "inner", original)  # re-applying wraps the original, not our wrapper
        patcher.add_object_patch(f"{name}.attn1", replacement(original))
    return ours
