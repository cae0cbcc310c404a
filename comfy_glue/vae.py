"""VAE decode and encode of a core VAE mid-sampling, and ComfyUI's progress bar.

Checked on ComfyUI 0.3.75 and 0.8.0 (comfy.sd.VAE): for an image VAE (``latent_dim`` 2: SD1.5,
SDXL) ``decode`` takes latents [N, C, h, w] and returns images [N, H, W, 3] on the intermediate
device, already clamped to [0, 1] (its ``process_output``); ``encode`` takes images [N, H, W, 3]
in [0, 1] and returns latents [N, C, h, w] on the intermediate device: the encoder's mode
(``DiagonalGaussianRegularizer(sample=False)``), so nothing random is drawn. Video VAEs
(``latent_dim`` 3) work on 5-D tensors [B, C, T, h, w] and audio VAEs on 1-D latents: refused.
"""

from __future__ import annotations

import comfy.utils
import torch


def check_image_vae(vae, who: str) -> None:
    """Refuse a VAE that does not turn one latent into one image (video and audio VAEs), in a sentence naming ``who``."""
    dims = getattr(vae, "latent_dim", 2)  # every comfy.sd.VAE has it; a VAE-like object without it is taken as an image VAE
    if dims != 2:
        raise ValueError(f"{who}: the connected VAE works on {dims}-D latents (a video or audio VAE); it needs the image VAE "
                         "of an SD1.5 or SDXL checkpoint (latent_dim 2). Connect the VAE output of the checkpoint loader.")


def decode(vae, latents: torch.Tensor) -> torch.Tensor:
    """LATENT samples [N, C, h, w] -> IMAGE [N, H, W, 3] in [0, 1]."""
    return vae.decode(latents)


def encode(vae, images: torch.Tensor) -> torch.Tensor:
    """IMAGE [N, H, W, 3] in [0, 1] -> LATENT samples [N, C, h, w]."""
    return vae.encode(images)


def report_progress(done: int, total: int) -> None:
    """Show ``done`` of ``total`` on the running node's progress bar (ComfyUI's ProgressBar, as core's VAE nodes use it)."""
    comfy.utils.ProgressBar(total).update_absolute(done)
