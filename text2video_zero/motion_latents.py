"""Motion-dynamics initial latents: one seed, frame 1 denoised alone, warped and re-noised copies.

The ComfyUI-facing parts (sampling frame 1, the noise schedule, latent scaling) come in as
callables, so this module stays plain PyTorch and the node stays thin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from .motion import warp_frames
from .renoise import alphabar_of_sigma, reference_alpha, renoise
from .schedule import motion_schedule


@dataclasses.dataclass(frozen=True)
class MotionSettings:
    steps: int = 50
    t0: int = 44
    t1: int = 47
    motion_x: float = 12.0
    motion_y: float = 12.0
    exact_alpha: bool = False  # False: the reference's alpha product (one index off)
    reference_chunk_size: int = 0  # > 0: fresh noise repeats as in the reference's re-seeded long-video loop


@dataclasses.dataclass(frozen=True)
class SamplingHooks:
    """How to talk to the sampler: all tensors are LATENT samples (VAE scale) unless named x."""

    sample: Callable[[torch.Tensor, torch.Tensor, bool], torch.Tensor]  # (latent, sigmas, add_noise) -> latent
    sigmas: torch.Tensor  # the full DDIM schedule for settings.steps, ending in 0
    alphas_cumprod: torch.Tensor  # [1000] per training timestep
    timestep_of: Callable[[float], int]  # sigma -> training timestep
    to_x: Callable[[torch.Tensor], torch.Tensor]  # LATENT samples -> sampler x
    from_x: Callable[[torch.Tensor], torch.Tensor]


def motion_dynamics_latents(empty: torch.Tensor, seed: int, settings: MotionSettings, hooks: SamplingHooks) -> torch.Tensor:
    """[F, C, h, w] latents at t1 for all frames (frame 1 exactly as the sampler left it; frames 2..F re-noised)."""
    schedule = motion_schedule(settings.steps, settings.t0, settings.t1)
    frames = empty.shape[0]
    first = empty[:1]
    # x_T -> x_t1 -> x_t0 for frame 1 alone (guided DDIM, eta 0)
    x1_t1 = hooks.sample(first, hooks.sigmas[:schedule.t1_step + 1], True)
    if frames == 1:
        return x1_t1
    x1_t0 = hooks.sample(x1_t1, hooks.sigmas[schedule.t1_step:schedule.t0_step + 1], False)

    sigma_t1, sigma_t0 = float(hooks.sigmas[schedule.t1_step]), float(hooks.sigmas[schedule.t0_step])
    alpha = reference_alpha(hooks.alphas_cumprod, hooks.timestep_of(sigma_t0), hooks.timestep_of(sigma_t1), settings.exact_alpha)
    # Sampler x is x_ddpm / sqrt(alphabar) (ComfyUI's EPS sigma space).
    abar_t0, abar_t1 = alphabar_of_sigma(sigma_t0), alphabar_of_sigma(sigma_t1)
    x_t0 = hooks.to_x(x1_t0.float())
    # [1, C, h, w] -> [F-1, C, h, w]: frames 2..F move by global frame ids 1..F-1
    warped = warp_frames(x_t0.expand(frames - 1, -1, -1, -1), range(1, frames), settings.motion_x, settings.motion_y)
    eps = fresh_noise(first.shape, frames, seed, settings.reference_chunk_size)
    x_ddpm_t1 = renoise(warped * abar_t0 ** 0.5, alpha, eps)
    rest = hooks.from_x(x_ddpm_t1 / abar_t1 ** 0.5)
    # [1 + (F-1), C, h, w]
    return torch.cat([x1_t1, rest.to(x1_t1.dtype)])


def fresh_noise(frame_shape: torch.Size, frames: int, seed: int, reference_chunk_size: int = 0) -> torch.Tensor:
    """[F-1, C, h, w] re-noising draws for frames 2..F, in the reference's order: after the draw that made x_T.

    ``reference_chunk_size`` S > 0 reproduces the reference's long-video loop, which re-seeds the
    generator for every chunk [0] + ids (see ``anchored_chunks``): the frame at global id k >= 1
    sits at position k mod (S-1) of its chunk's draws, so its noise repeats every S-1 frames.
    """
    generator = torch.Generator().manual_seed(seed)
    torch.randn(frame_shape, generator=generator)  # x_T of frame 1, drawn by the sampler
    if reference_chunk_size <= 0:
        return torch.randn((frames - 1, *frame_shape[1:]), generator=generator)
    if reference_chunk_size < 2:
        raise ValueError(f"reference_chunk_size {reference_chunk_size} must be 0 (off) or at least 2 (the anchor plus one frame)")
    per_chunk = reference_chunk_size - 1
    stream = torch.randn((per_chunk, *frame_shape[1:]), generator=generator)
    # [S-1, C, h, w] -> [F-1, C, h, w]: frame k takes draw k mod (S-1)
    return stream[torch.arange(1, frames) % per_chunk]
