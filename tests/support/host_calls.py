"""Calls into a real ComfyUI UNet and ControlNet as sampling makes them, for host tests (ComfyUI imported on use)."""

from __future__ import annotations

import torch


def unet(patcher, x: torch.Tensor, cond_or_uncond: list[int], **extra_options) -> torch.Tensor:
    """One UNet evaluation as a sampler makes it: patches loaded, the clone's wrappers and cond_or_uncond in the options."""
    import comfy.model_management

    comfy.model_management.load_models_gpu([patcher])
    chunks = len(cond_or_uncond)
    text = torch.randn(2, 77, 768, generator=torch.Generator().manual_seed(0))
    context = text[cond_or_uncond].repeat_interleave(x.shape[0] // chunks, 0)
    options = {**patcher.model_options["transformer_options"], "wrappers": patcher.wrappers,
               "cond_or_uncond": cond_or_uncond, **extra_options}
    with torch.inference_mode():
        return patcher.model.apply_model(x, torch.full((x.shape[0],), 3.0), c_crossattn=context, transformer_options=options).float()


def frames_in(count: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(count, 4, 8, 8, generator=torch.Generator().manual_seed(seed))


def control_outputs(control_net, sd15, x: torch.Tensor, chunks: int, options: dict | None = None,
                    hints: torch.Tensor | None = None) -> torch.Tensor:
    """Every tensor a ControlNet hands the UNet for ``x``, as [batch, -1] (what Apply ControlNet + sampling do).

    ``options``: the call's transformer options (e.g. a context window); ``hints``: IMAGE [N, 64, 64, 3], else random ones per frame.
    """
    import comfy.model_management

    if hints is None:
        hints = torch.rand(x.shape[0] // chunks, 64, 64, 3, generator=torch.Generator().manual_seed(4))
    applied = control_net.copy().set_cond_hint(hints.movedim(-1, 1), 1.0)
    applied.pre_run(sd15.model, lambda percent: sd15.model.model_sampling.percent_to_sigma(percent))
    comfy.model_management.load_models_gpu(applied.get_models())
    text = torch.randn(1, 77, 768, generator=torch.Generator().manual_seed(0)).expand(x.shape[0], -1, -1)
    try:
        with torch.inference_mode():
            out = applied.get_control(x, torch.full((x.shape[0],), 3.0), {"c_crossattn": text}, chunks, options or {})
    finally:
        applied.cleanup()
    return torch.cat([t.flatten(1) for part in out.values() for t in part if t is not None], dim=1).float()
