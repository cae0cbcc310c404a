"""Edits applied to an API prompt before it runs: model stand-ins and input overrides.

Shipped workflows name the released files users have (``v1-5-pruned-emaonly.safetensors``,
``mm_sd_v15_v2.ckpt`` ...). Where such a file is not installed, the demo and the tests
run the same workflow on a random-weight stand-in with the same layout.
"""

from __future__ import annotations

import copy
from collections.abc import Callable


def substitute_missing_models(
    prompt: dict, is_installed: Callable[[str], bool], stand_ins: dict[str, str]
) -> tuple[dict, dict[str, str]]:
    """Return a copy of an API prompt with uninstalled released files replaced by stand-ins, and what was replaced."""
    resolved = copy.deepcopy(prompt)
    replaced = {}
    for node in resolved.values():
        for name, value in node.get("inputs", {}).items():
            if isinstance(value, str) and value in stand_ins and not is_installed(value):
                node["inputs"][name] = stand_ins[value]
                replaced[value] = stand_ins[value]
    return resolved, replaced


def override_inputs(prompt: dict, names: tuple[str, ...], value) -> int:
    """Set every literal input with one of these names (e.g. all seeds) to ``value``; return how many.

    Linked inputs (``[node_id, index]``) are left alone: they are wires, not values.
    """
    count = 0
    for node in prompt.values():
        inputs = node.get("inputs", {})
        for name in names:
            if name in inputs and not isinstance(inputs[name], list):
                inputs[name] = value
                count += 1
    return count
