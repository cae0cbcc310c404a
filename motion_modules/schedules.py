"""The noise schedule each motion-module family was trained with, as ComfyUI model sampling."""

from __future__ import annotations

from .. import comfy_glue

AUTOSELECT = "autoselect"
MODEL_DEFAULT = "model default"
# ComfyUI's "sqrt_linear" is diffusers' "linear": the schedule AnimateDiff was trained with.
SCHEDULES = {
    "sqrt_linear (AnimateDiff)": ("eps", "sqrt_linear", 0.00085, 0.012),
    "linear (AnimateDiff-SDXL)": ("eps", "sqrt_linear", 0.00085, 0.020),
    "lcm (AnimateLCM)": ("lcm", "sqrt_linear", 0.00085, 0.012),
}
SCHEDULE_CHOICES = [AUTOSELECT, MODEL_DEFAULT, *SCHEDULES]
FAMILY_SCHEDULE = {
    "v1": "sqrt_linear (AnimateDiff)",
    "v2": "sqrt_linear (AnimateDiff)",
    "v3": "sqrt_linear (AnimateDiff)",
    "diffusers": "sqrt_linear (AnimateDiff)",
    "sdxl": "linear (AnimateDiff-SDXL)",
    "animatelcm": "lcm (AnimateLCM)",
    "hotshotxl": MODEL_DEFAULT,  # HotShot-XL was trained on SDXL's own schedule
}


def schedule_name(choice: str, family: str) -> str:
    return FAMILY_SCHEDULE.get(family, MODEL_DEFAULT) if choice == AUTOSELECT else choice


def resolve_schedule(choice: str, info):
    """A ModelSampling object to patch in, or None to keep the model's own."""
    name = schedule_name(choice, info.family)
    if name == MODEL_DEFAULT:
        return None
    kind, beta_schedule, start, end = SCHEDULES[name]
    make = comfy_glue.lcm_sampling if kind == "lcm" else comfy_glue.discrete_eps_sampling
    return make(beta_schedule, start, end)
