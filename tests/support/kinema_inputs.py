"""Every widget input of every registered Kinema node, and ComfyUI's own validation of one node at given values.

Used by the tests that push each input past its limits (tests/host/test_node_input_checks.py) and by the
hostile-corpus summary, which counts those cases. Needs a booted host (``import nodes``).
"""

from __future__ import annotations

import asyncio


def kinema_inputs() -> list[tuple[str, str, object, dict]]:
    """(node type, input name, kind, options) of every widget input of every registered Kinema node."""
    import nodes

    found = []
    for node_type, cls in sorted(nodes.NODE_CLASS_MAPPINGS.items()):
        if node_type.startswith("Kinema"):
            for group in ("required", "optional"):
                for name, (kind, *rest) in cls.INPUT_TYPES().get(group, {}).items():
                    found.append((node_type, name, kind, rest[0] if rest else {}))
    return found


def _choices(kind: object, options: dict) -> list | None:
    """A combo's options (V1: the kind is the list; V3: COMBO with "options"), None for any other input."""
    return kind if isinstance(kind, list) else options.get("options", []) if kind == "COMBO" else None


def defaults(node_type: str) -> dict:
    """The node's widget inputs at their defaults (first choice of a combo); sockets stay unconnected."""
    values = {}
    for _, name, kind, options in (item for item in kinema_inputs() if item[0] == node_type):
        choices = _choices(kind, options)
        if choices:
            values[name] = options.get("default", choices[0])
        elif "default" in options:
            values[name] = options["default"]
    return values


def validation_errors(node_type: str, **inputs) -> list[dict]:
    """ComfyUI's per-node validation errors for the node at its defaults and ``inputs`` (unconnected sockets not counted)."""
    import execution

    prompt = {"1": {"class_type": node_type, "inputs": {**defaults(node_type), **inputs}}}
    _, errors, _ = asyncio.run(execution.validate_inputs("kinema-inputs", prompt, "1", {}))
    return [error for error in errors if error["type"] != "required_input_missing"]


def out_of_range() -> list[tuple[str, str, object]]:
    """(node type, input, value) one step below the minimum and above the maximum of every bounded number."""
    cases = []
    for node_type, name, kind, options in kinema_inputs():
        if kind in ("INT", "FLOAT"):
            step = options.get("step", 1)
            cases += [(node_type, name, options["min"] - step)] if "min" in options else []
            cases += [(node_type, name, options["max"] + step)] if "max" in options else []
    return cases


def unknown_choices() -> list[tuple[str, str, object]]:
    return [(node_type, name, "no such choice") for node_type, name, kind, options in kinema_inputs()
            if _choices(kind, options) is not None]
