"""Every Kinema widget input past its limits is refused by ComfyUI's prompt validation, before anything runs.

ComfyUI checks a FLOAT widget with ``value < min`` / ``value > max``, which NaN passes: a NaN
effect rendered an all-black video counted as success. It also skips its own range and option
checks for the inputs a node validates itself, and 0.3.75 never checks a V3 combo's options: so
every bounded number just outside its range and every unknown choice is tried too (nodes/input_checks.py).
Nothing here samples or loads a model.
"""

from __future__ import annotations

import math

import pytest
from kinema_inputs import kinema_inputs, out_of_range, unknown_choices, validation_errors

NOT_FINITE = (math.nan, math.inf, -math.inf)


def _custom_errors(node_type: str, **inputs) -> list[str]:
    """The node's own validation messages for these inputs, as ComfyUI's per-node validation collects them."""
    return [error["details"] for error in validation_errors(node_type, **inputs) if error["type"] == "custom_validation_failed"]


def test_every_kinema_float_input_refuses_nan_and_infinity_with_the_range_and_fix(comfy_host):
    found = [(node_type, name, options) for node_type, name, kind, options in kinema_inputs() if kind == "FLOAT"]
    assert len(found) >= 14, found  # motion modules, LoRA, smoother, StoryDiffusion, Text2Video-Zero
    unrefused = []
    for node_type, name, options in found:
        assert _custom_errors(node_type) == [], f"{node_type}: its defaults are refused"
        for value in NOT_FINITE:
            errors = _custom_errors(node_type, **{name: value})
            said = next((text for text in errors if f"{name} is {value}" in text), "")
            if not (str(options["max"]) in said and "Set " in said):
                unrefused.append(f"{node_type}.{name}={value}: {errors}")
    assert not unrefused, "\n".join(unrefused)


def test_a_nan_effect_and_an_infinite_strength_are_refused_by_prompt_validation(comfy_host, model_files):
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model_files["sd15"].name}},
        "2": {"class_type": "KinemaLoadMotionModule", "inputs": {"model_name": model_files["mm_v2"].name}},
        "5": {"class_type": "KinemaLoadMotionLora", "inputs": {"lora_name": model_files["motion_lora_v2"].name, "strength": "inf"}},
        "3": {"class_type": "KinemaApplyMotionModule",
              "inputs": {"model": ["1", 0], "motion_model": ["2", 0], "scale": 1.0, "effect": math.nan,
                         "beta_schedule": "autoselect", "motion_lora": ["5", 0]}},
        "4": {"class_type": "CheckpointSave", "inputs": {"model": ["3", 0], "clip": ["1", 1], "vae": ["1", 2], "filename_prefix": "x"}},
    }
    result = comfy_host.validate(prompt)  # what run() and the server do first; it never executes, even if this regresses
    assert not result.success and result.error["type"] == "prompt_outputs_failed_validation", result.error
    effect, strength = (str(result.node_errors[node]["errors"]) for node in ("3", "5"))
    assert ("Apply Motion Module (Kinema): effect is nan (not a number); it must be a number from 0.0 to 1.0. "
            "Set effect to a number in that range (the default is 1.0).") in effect, effect
    assert "Load Motion LoRA (Kinema): strength is inf (infinite); it must be a number from -10.0 to 10.0" in strength, strength


@pytest.mark.parametrize("node_type,inputs", [
    ("KinemaApplyMotionModule", {"model": None, "motion_model": None, "scale": 1.0, "effect": math.nan, "beta_schedule": "autoselect"}),
    ("KinemaBackgroundSmoothing", {"masks": None, "strength": 0.6, "motion_x": -math.inf, "motion_y": 0.0}),
])
def test_a_linked_value_is_refused_when_the_node_runs(call_node, node_type, inputs):
    # A link (e.g. a math node's output) is not validated by ComfyUI: the node refuses it before doing anything.
    with pytest.raises(ValueError, match=r"is (nan \(not a number\)|-inf \(infinite\)); it must be a number from"):
        call_node(node_type, **inputs)


def _refused(node_type: str, name: str, value) -> bool:
    """Whether validation refuses input ``name`` at ``value``: ComfyUI's own range or list check, or the node's, naming it."""
    for error in validation_errors(node_type, **{name: value}):
        if error["type"] == "custom_validation_failed":
            said = str(error.get("details", "")).partition(" - ")[2]
            if name in said or str(value) in said:
                return True
        elif error.get("extra_info", {}).get("input_name") == name:
            return True
    return False


def test_every_bounded_number_of_every_kinema_node_is_refused_just_outside_its_range(comfy_host):
    cases = out_of_range()
    assert len(cases) >= 60, cases
    assert not [node_type for node_type in {case[0] for case in cases} if validation_errors(node_type)], "defaults must pass"
    accepted = [f"{node_type}.{name}={value!r}" for node_type, name, value in cases if not _refused(node_type, name, value)]
    assert not accepted, f"{len(accepted)} of {len(cases)} out-of-range values pass validation:\n" + "\n".join(accepted)


def test_every_choice_of_every_kinema_node_refuses_an_unknown_value(comfy_host):
    cases = unknown_choices()
    assert len(cases) >= 10, cases
    accepted = [f"{node_type}.{name}={value!r}" for node_type, name, value in cases if not _refused(node_type, name, value)]
    assert not accepted, f"{len(accepted)} of {len(cases)} unknown choices pass validation:\n" + "\n".join(accepted)
