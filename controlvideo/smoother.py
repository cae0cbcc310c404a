"""ControlVideo's interleaved-frame smoother as a k-diffusion sampler: DDIM with two smoothing steps.

DDIM (eta 0) in ComfyUI's sigma space (x = x0 + sigma eps) is an Euler step,
x_next = x + (x - denoised) / sigma * (sigma_next - sigma) = denoised + sigma_next * eps_hat,
written here operation for operation as core's "ddim" sampler (``sample_euler``) writes it, so a
run where nothing fires is that sampler bit for bit. At a firing step the predicted x0 (denoised)
is decoded, frames are replaced by interpolations (``interleave.replacements``) and encoded
again, and the step re-aims at the new x0' with the same noise, x_next = x0' + sigma_next * eps_hat
with eps_hat = (x - denoised) / sigma the guided prediction: the reference's
sqrt(abar_prev) x0' + sqrt(1 - abar_prev) eps_hat divided by sqrt(abar_prev). It is computed as the
Euler step plus (x0' - denoised) on the replaced frames, so every other frame keeps the plain step
exactly and a replacement equal to the prediction changes nothing.

Deliberate differences from the reference:
- only the frames a firing reads are decoded and only the replaced ones encoded, in batches of
  ``decode_batch``; the reference decodes and re-encodes the whole clip, so its untouched frames
  also take a (lossy) VAE round trip;
- the new latent is the encoder's mode (what ComfyUI's VAE encode returns), not a draw from it;
- the whole latent batch is one clip (the reference loops over the videos of a batch).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import torch

from .batches import plan_batches
from .interleave import OFF, PHASES, Replacement, firing_steps, replacements

log = logging.getLogger(__name__)
WHO = "Interleaved-Frame Smoother"


@dataclasses.dataclass(frozen=True)
class Firing:
    """One smoothing step: at sampler step ``step`` the ``phase`` frames are replaced, in this order."""

    step: int
    phase: str
    replacements: tuple[Replacement, ...]

    def describe(self) -> str:
        pairs = " ".join(f"{r.target}<-({r.first},{r.second})" for r in self.replacements)
        return f"step {self.step}, {self.phase} frames: {pairs or 'none (clip too short)'}"


def log_firing(firing: Firing) -> None:
    """The default recorder: one INFO line per firing; the record carries the Firing as ``kinema_firing``."""
    log.info("%s: %s", WHO, firing.describe(), extra={"kinema_firing": firing})


def same_space(model) -> tuple[Callable, Callable]:
    """The default latent format: the sampler's x is already what the VAE takes."""
    return (lambda latents: latents), (lambda latents: latents)


@dataclasses.dataclass(frozen=True)
class InterleavedSmootherDDIM:
    """Called as a k-diffusion sampler: ``(model, x, sigmas, extra_args, callback, disable)``; x is [frames, C, h, w]."""

    decode: Callable[[torch.Tensor], torch.Tensor]  # VAE latents [n, C, h, w] -> images [n, H, W, 3] in [0, 1]
    encode: Callable[[torch.Tensor], torch.Tensor]  # images [n, H, W, 3] -> VAE latents [n, C, h, w]
    interpolate: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # interpolation.Interpolator: midpoints of pairs
    odd_at: float = 0.6  # fraction of the schedule where odd frames are replaced (step 30 of 50)
    even_at: float = 0.62  # ... and where even frames are (step 31 of 50)
    decode_batch: int = 4  # frames per VAE call and pairs per interpolator call
    latent_format: Callable[[object], tuple[Callable, Callable]] = same_space  # model -> (VAE -> sampler x, sampler x -> VAE)
    progress: Callable[[int, int], None] | None = None  # (done, total) frames decoded + interpolated + encoded in a firing
    recorder: Callable[[Firing], None] = log_firing  # told of each firing before it runs

    def __call__(self, model, x, sigmas, extra_args=None, callback=None, disable=None):
        extra_args = {} if extra_args is None else extra_args
        steps = len(sigmas) - 1
        plan = firing_steps(steps, self.odd_at, self.even_at)
        self._warn_unreached(steps, plan)
        s_in = x.new_ones([x.shape[0]])
        for i in range(steps):
            denoised = model(x, sigmas[i] * s_in, **extra_args)
            if callback is not None:
                callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigmas[i], "denoised": denoised})
            x = x + (x - denoised) / sigmas[i] * (sigmas[i + 1] - sigmas[i])  # sample_euler's step, same operations
            if i in plan:
                self._smooth(model, x, denoised, Firing(i, plan[i], replacements(x.shape[0], plan[i])))
        return x

    def _smooth(self, model, x: torch.Tensor, denoised: torch.Tensor, firing: Firing) -> None:
        """Adds x0' - denoised to the replaced frames of ``x`` (the step just taken), batch by batch.

        Every read comes from ``denoised``, which is never written: all replacements see the prediction.
        """
        self.recorder(firing)
        if not firing.replacements:
            return
        if x.ndim != 4:
            raise ValueError(f"{WHO}: the latents have shape {list(x.shape)}; the smoother works on image latents "
                             "[frames, C, h, w] (SD1.5 or SDXL), one frame per batch entry.")
        to_sampler, to_vae = self.latent_format(model)
        batches = plan_batches(firing.replacements, self.decode_batch)
        total = sum(len(batch.decode) for batch in batches) + 2 * len(firing.replacements)
        done = 0

        def advance(units: int) -> None:
            nonlocal done
            done += units
            if self.progress is not None:
                self.progress(done, total)

        images: dict[int, torch.Tensor] = {}  # frame -> decoded image [H, W, 3], only what the current batch reads
        for batch in batches:
            reads = {frame for pair in batch.pairs for frame in (pair.first, pair.second)}
            images = {frame: image for frame, image in images.items() if frame in reads}
            for start in range(0, len(batch.decode), self.decode_batch):
                frames = list(batch.decode[start:start + self.decode_batch])
                images.update(zip(frames, self._decode(to_vae(denoised[frames])).unbind(0), strict=True))
                advance(len(frames))
            # [n, H, W, 3] each: the pairs of this batch
            first = torch.stack([images[pair.first] for pair in batch.pairs])
            second = torch.stack([images[pair.second] for pair in batch.pairs])
            middle = self._interpolate(first, second)
            advance(len(batch.pairs))
            targets = torch.tensor([pair.target for pair in batch.pairs], device=x.device)
            current = denoised.index_select(0, targets)  # [n, C, h, w]
            encoded = to_sampler(self._encode(middle, current.shape)).to(current)
            x.index_add_(0, targets, encoded - current)
            advance(len(batch.pairs))

    def _decode(self, latents: torch.Tensor) -> torch.Tensor:
        images = self.decode(latents)
        if images.ndim != 4 or images.shape[0] != latents.shape[0] or images.shape[-1] != 3:
            raise ValueError(f"{WHO}: the VAE decoded {latents.shape[0]} latents into shape {list(images.shape)}; the smoother "
                             f"needs one RGB image per latent, [{latents.shape[0]}, H, W, 3]. Connect the checkpoint's SD1.5 or SDXL VAE.")
        return images

    def _interpolate(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        middle = self.interpolate(first, second)
        if middle.shape != first.shape:
            name = getattr(self.interpolate, "name", type(self.interpolate).__name__)
            raise ValueError(f"{WHO}: the interpolator {name!r} returned shape {list(middle.shape)} for {first.shape[0]} pairs of "
                             f"frames {list(first.shape)}; an interpolator must return one frame per pair, of the frames' shape.")
        return middle

    def _encode(self, images: torch.Tensor, expected: torch.Size) -> torch.Tensor:
        latents = self.encode(images)
        if latents.shape != expected:
            raise ValueError(f"{WHO}: the VAE encoded the interpolated frames into latents of shape {list(latents.shape)}, but the "
                             f"sampled latents are {list(expected)}. Connect the VAE of the checkpoint being sampled.")
        return latents

    def _warn_unreached(self, steps: int, plan: dict[int, str]) -> None:
        for phase, fraction in zip(PHASES, (self.odd_at, self.even_at), strict=True):
            if fraction < OFF and phase not in plan.values():
                log.warning("%s: the %s-frame pass (%s_frames_at=%s) falls past the last of the %d steps and is skipped; "
                            "use more steps or a lower fraction (%s turns a pass off on purpose).", WHO, phase, phase, fraction, steps, OFF)
