"""Each motion-module family samples on the noise schedule it was trained with."""

from __future__ import annotations

import dataclasses

import pytest
import torch


@dataclasses.dataclass(frozen=True)
class _Info:
    family: str


def _sigmas_for_linear_betas(start: float, end: float) -> torch.Tensor:
    """diffusers' "linear" schedule (AnimateDiff's training schedule), as k-diffusion sigmas."""
    betas = torch.linspace(start, end, 1000, dtype=torch.float64)
    alphas_cumprod = torch.cumprod(1 - betas, 0)
    return ((1 - alphas_cumprod) / alphas_cumprod).sqrt().float()


@pytest.mark.parametrize(("family", "end"), [("v2", 0.012), ("v3", 0.012), ("v1", 0.012), ("sdxl", 0.020)])
def test_autoselect_uses_the_linear_training_schedule(comfy_host, family, end):
    from kinema.motion_modules.schedules import AUTOSELECT, resolve_schedule

    sampling = resolve_schedule(AUTOSELECT, _Info(family))
    torch.testing.assert_close(sampling.sigmas.float(), _sigmas_for_linear_betas(0.00085, end), rtol=1e-4, atol=1e-6)


def test_animatelcm_gets_lcm_sampling_and_hotshot_keeps_the_checkpoint_schedule(comfy_host):
    from comfy_extras.nodes_model_advanced import LCM

    from kinema.motion_modules.schedules import AUTOSELECT, MODEL_DEFAULT, resolve_schedule

    assert isinstance(resolve_schedule(AUTOSELECT, _Info("animatelcm")), LCM)
    assert resolve_schedule(AUTOSELECT, _Info("hotshotxl")) is None
    assert resolve_schedule(MODEL_DEFAULT, _Info("v2")) is None
