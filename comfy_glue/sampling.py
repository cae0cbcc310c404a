"""Sampling: guiders, core samplers, noise schedules and noise, as core's own nodes use them.

Checked on ComfyUI 0.3.75 and 0.8.0 (``ddim_like_sampler`` and ``sampler_latent_format`` on both too).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import comfy.model_management
import comfy.model_sampling
import comfy.sample
import comfy.samplers
import torch

from .patcher import ModelPatcher


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
    samples = guider.sample(noise, latent, comfy.samplers.sampler_object("ddim"), sigmas, seed=seed, disable_pbar=True)
    return samples.to(comfy.model_management.intermediate_device())


def seeded_noise(latent: torch.Tensor, seed: int) -> torch.Tensor:
    """The noise core samplers draw for ``latent`` from ``seed`` (CPU generator)."""
    return comfy.sample.prepare_noise(latent, seed)


@dataclasses.dataclass(frozen=True)
class DiscreteSchedule:
    """A discrete EPS training schedule in ComfyUI's sigma space (x = x0 + sigma eps)."""

    sigmas: torch.Tensor  # the sampler's sigmas for the requested steps, ending in 0
    training_sigmas: torch.Tensor  # [1000]: sigma of every training timestep
    timestep_of: Callable[[float], int]  # sigma -> training timestep


def discrete_schedule(patcher: ModelPatcher, scheduler: str, steps: int) -> DiscreteSchedule | None:
    """The clone's schedule for ``scheduler`` and ``steps``; None when the model samples a continuous schedule (EDM, CosXL ...)."""
    sampling = patcher.get_model_object("model_sampling")
    # Continuous schedules also subclass EPS and hold sigmas, but their timestep() is no training step.
    if not (isinstance(sampling, comfy.model_sampling.EPS) and isinstance(sampling, comfy.model_sampling.ModelSamplingDiscrete)):
        return None
    return DiscreteSchedule(
        sigmas=comfy.samplers.calculate_sigmas(sampling, scheduler, steps).cpu(),
        training_sigmas=sampling.sigmas.detach().cpu(),
        timestep_of=lambda sigma: int(round(float(sampling.timestep(torch.tensor(sigma))))),
    )


def model_sampling_name(patcher: ModelPatcher) -> str:
    return type(patcher.get_model_object("model_sampling")).__name__


def latent_format_scale(patcher: ModelPatcher) -> tuple[Callable, Callable]:
    """(LATENT samples -> the sampler's x, and back): ComfyUI scales VAE latents inside sampling."""
    latent_format = patcher.get_model_object("latent_format")
    return latent_format.process_in, latent_format.process_out


def custom_sampler(function: Callable, **options) -> object:
    """A core SAMPLER (for SamplerCustom/SamplerCustomAdvanced) running ``function(model, x, sigmas, extra_args, callback, disable, **options)``."""
    return comfy.samplers.KSAMPLER(function, extra_options=options)


def ddim_like_sampler(function: Callable, **options) -> object:
    """A SAMPLER running ``function`` as core's "ddim" runs sample_euler: with a noise mask (inpainting), the
    re-noised unmasked area takes noise seeded from seed + 1, not the sampling noise (``inpaint_options`` random)."""
    return comfy.samplers.KSAMPLER(function, extra_options=options, inpaint_options={"random": True})


def sampler_latent_format(model) -> tuple[Callable, Callable]:
    """Inside a SAMPLER's function: (VAE latents -> the sampler's x, and back) for the model being sampled.

    ``model`` is what KSAMPLER.sample hands the function: a KSamplerX0Inpaint whose ``inner_model``
    is the guider, whose ``inner_model`` is the BaseModel with ``process_latent_in/out`` (its
    latent_format's process_in/out).
    """
    base = getattr(getattr(model, "inner_model", None), "inner_model", None)
    if not (hasattr(base, "process_latent_in") and hasattr(base, "process_latent_out")):
        raise TypeError(f"Kinema sampler: the model handed to the sampler function is a {type(model).__name__}, not core's "
                        "KSamplerX0Inpaint over a guider; run this SAMPLER through SamplerCustom or SamplerCustomAdvanced.")
    return base.process_latent_in, base.process_latent_out


def _schedule_config(beta_schedule: str, linear_start: float, linear_end: float):
    """The minimal model config ComfyUI's discrete model samplings read their schedule from."""
    return type("ScheduleConfig", (), {"sampling_settings": {
        "beta_schedule": beta_schedule, "linear_start": linear_start, "linear_end": linear_end}})()


def training_sampling(kind: str, beta_schedule: str, linear_start: float, linear_end: float) -> torch.nn.Module:
    """A model sampling over a beta schedule in ComfyUI's names: ``kind`` 'eps' (ModelSamplingDiscrete, eps
    prediction) or 'lcm' (ComfyUI's own LCM sampling over 50 distilled steps, as core's ModelSamplingDiscrete node)."""
    if kind == "lcm":
        from comfy_extras.nodes_model_advanced import LCM, ModelSamplingDiscreteDistilled

        bases = (ModelSamplingDiscreteDistilled, LCM)
    else:
        bases = (comfy.model_sampling.ModelSamplingDiscrete, comfy.model_sampling.EPS)
    sampling_class = type("TrainingSampling", bases, {})
    return sampling_class(_schedule_config(beta_schedule, linear_start, linear_end))
