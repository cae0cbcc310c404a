"""NaN and infinity in any Kinema FLOAT input are refused by ComfyUI's own prompt validation, before anything runs.

ComfyUI checks a FLOAT widget with ``value < min`` / ``value > max``, which NaN passes: a NaN
effect rendered an all-black video counted as success. Nothing here samples or loads a model.
"""

from __future__ import annotations

import asyncio
import math

import pytest

NOT_FINITE = (math.nan, math.inf, -math.inf)


def _kinema_float_inputs() -> list[tuple[str, str, dict]]:
    """(node type, input name, its options) of every FLOAT input of every registered Kinema node."""
    import nodes

    found = []
    for node_type, cls in sorted(nodes.NODE_CLASS_MAPPINGS.items()):
        if node_type.startswith("Kinema"):
            for group in ("required", "optional"):
                found += [(node_type, name, spec[1]) for name, spec in cls.INPUT_TYPES().get(group, {}).items() if spec[0] == "FLOAT"]
    return found


def _widget_values(node_type: str) -> dict:
    """The node's widget inputs at their defaults (first choice of a combo); sockets stay unconnected."""
    import nodes

    values = {}
    for group in ("required", "optional"):
        for name, (kind, *rest) in nodes.NODE_CLASS_MAPPINGS[node_type].INPUT_TYPES().get(group, {}).items():
            options = rest[0] if rest else {}
            if isinstance(kind, list) or kind == "COMBO":
                choices = kind if isinstance(kind, list) else options.get("options", [])
                if choices:
                    values[name] = options.get("default", choices[0])
            elif "default" in options:
                values[name] = options["default"]
    return values


def _custom_errors(node_type: str, **inputs) -> list[str]:
    """The node's own validation messages for these inputs, as ComfyUI's per-node validation collects them."""
    import execution

    prompt = {"1": {"class_type": node_type, "inputs": {**_widget_values(node_type), **inputs}}}
    _, errors, _ = asyncio.run(execution.validate_inputs("float-inputs", prompt, "1", {}))
    return [error["details"] for error in errors if error["type"] == "custom_validation_failed"]


def test_every_kinema_float_input_refuses_nan_and_infinity_with_the_range_and_fix(comfy_host):
    found = _kinema_float_inputs()
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
