"""Each motion-module family samples on the noise schedule it was trained with."""

from __future__ import annotations

import pytest
import torch


def _sampling(choice: str, family: str):
    """What Apply Motion Module patches in for this choice and family (None: the checkpoint's own)."""
    from kinema.comfy_glue.sampling import training_sampling
    from kinema.motion_modules.schedules import resolve_schedule

    schedule = resolve_schedule(choice, family)
    return None if schedule is None else training_sampling(schedule.kind, schedule.beta_schedule, schedule.linear_start,
                                                           schedule.linear_end)


def _sigmas_for_linear_betas(start: float, end: float) -> torch.Tensor:
    """diffusers' "linear" schedule (AnimateDiff's training schedule), as k-diffusion sigmas."""
    betas = torch.linspace(start, end, 1000, dtype=torch.float64)
    alphas_cumprod = torch.cumprod(1 - betas, 0)
    return ((1 - alphas_cumprod) / alphas_cumprod).sqrt().float()


@pytest.mark.parametrize(("family", "end"), [("v2", 0.012), ("v3", 0.012), ("v1", 0.012), ("sdxl", 0.020)])
def test_autoselect_uses_the_linear_training_schedule(comfy_host, family, end):
    from kinema.motion_modules.schedules import AUTOSELECT

    sampling = _sampling(AUTOSELECT, family)
    torch.testing.assert_close(sampling.sigmas.float(), _sigmas_for_linear_betas(0.00085, end), rtol=1e-4, atol=1e-6)


def test_animatelcm_gets_lcm_sampling_and_hotshot_keeps_the_checkpoint_schedule(comfy_host):
    from comfy_extras.nodes_model_advanced import LCM

    from kinema.motion_modules.schedules import AUTOSELECT, MODEL_DEFAULT

    assert isinstance(_sampling(AUTOSELECT, "animatelcm"), LCM)
    assert _sampling(AUTOSELECT, "hotshotxl") is None
    assert _sampling(MODEL_DEFAULT, "v2") is None
