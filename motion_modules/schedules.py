"""The noise schedule each motion-module family was trained with (pure: the glue turns it into ComfyUI model sampling)."""

from __future__ import annotations

import dataclasses

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


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A training schedule: ``kind`` 'eps' (discrete, eps prediction) or 'lcm', over a beta schedule in ComfyUI's names."""

    kind: str
    beta_schedule: str
    linear_start: float
    linear_end: float


def resolve_schedule(choice: str, family: str) -> Schedule | None:
    """The schedule to sample a ``family`` module with for a ``beta_schedule`` choice; None keeps the model's own."""
    name = schedule_name(choice, family)
    if name == MODEL_DEFAULT:
        return None
    return Schedule(*SCHEDULES[name])
