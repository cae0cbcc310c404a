"""Where t0 and t1 sit in a DDIM schedule of any length.

The reference counts t0 and t1 from the clean end of a 50-step schedule: t1 = 47 means
"after timesteps[:-48]", i.e. after 2 of 50 steps (t = 941 for SD1.5); t0 = 44 after 5 steps
(t = 881). The same counting works for any step count as long as 0 <= t0 < t1 < steps.
"""

from __future__ import annotations

import dataclasses

REFERENCE_STEPS = 50


@dataclasses.dataclass(frozen=True)
class MotionSchedule:
    steps: int
    t1_step: int  # sampler steps that take x_T down to t1 (the start step of the final pass)
    t0_step: int  # sampler steps that take x_T down to t0


def motion_schedule(steps: int, t0: int, t1: int) -> MotionSchedule:
    if not 0 <= t0 < t1 < steps:
        scaled_t0, scaled_t1 = round(44 * steps / REFERENCE_STEPS), round(47 * steps / REFERENCE_STEPS)
        hint = (f" For {steps} steps the reference's positions scale to t0={scaled_t0}, t1={scaled_t1}."
                if 0 <= scaled_t0 < scaled_t1 < steps else " Use more steps (the reference uses 50).")
        raise ValueError(
            f"Motion-Dynamics Latents: need 0 <= t0 < t1 < steps, got t0={t0}, t1={t1}, steps={steps}; "
            f"t0 and t1 count steps from the clean end of the schedule.{hint}"
        )
    return MotionSchedule(steps=steps, t1_step=steps - t1 - 1, t0_step=steps - t0 - 1)
