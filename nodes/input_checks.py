"""Widget values a node can use, checked against its own schema and refused in a sentence otherwise.

ComfyUI (0.3.75, 0.8.0) skips its own range and option checks for every input a node's
``validate_inputs`` names, and for all of them when that takes ``**kwargs``; it checks a
number with ``value < min`` and ``value > max``, which NaN always passes (a NaN effect or
strength renders an all-black video counted as success); and 0.3.75 never checks a V3
combo's value against its options. So every Kinema node whose ``validate_inputs`` names
inputs returns ``input_problem(cls, ...)`` for them (widget values, before anything runs; a
linked one arrives as None), every node with a fixed list of options names those, and
``execute`` is wrapped in ``checks_inputs`` for numbers that come through links.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

from .schema import io


def _number_problem(title: str, name: str, value: object, spec, whole: bool) -> str | None:
    low = -math.inf if spec.min is None else spec.min
    high = math.inf if spec.max is None else spec.max
    kind = "a whole number" if whole else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float):
        problem = f"{value!r} is not {kind}"
    elif math.isnan(value):
        problem = f"{value} (not a number)"
    elif math.isinf(value):
        problem = f"{value} (infinite)"
    elif whole and value != int(value):
        problem = f"{value} (not a whole number)"
    elif not low <= value <= high:
        problem = f"{value} (out of range)"
    else:
        return None
    return (f"{title}: {name} is {problem}; it must be {kind} from {spec.min} to {spec.max}. "
            f"Set {name} to {kind} in that range (the default is {spec.default}).")


def input_problem(node: type[io.ComfyNode], **values: object) -> str | None:
    """Why one of ``values`` (widget inputs of ``node`` by name) cannot be used, or None; None values are skipped."""
    return _first_problem(*_widget_inputs(node), values)


def _first_problem(title: str, inputs: dict, values: dict) -> str | None:
    for name, value in values.items():
        spec = inputs.get(name)
        if value is None or spec is None:
            continue
        if isinstance(spec, io.Float.Input | io.Int.Input):
            problem = _number_problem(title, name, value, spec, whole=isinstance(spec, io.Int.Input))
        elif isinstance(spec, io.Combo.Input) and value not in list(spec.options):
            problem = (f"{title}: {name} {value!r} is not one of its options ({', '.join(map(str, spec.options))}); "
                       "pick one of those (a workflow from another version of Kinema may name an option that changed).")
        else:
            problem = None
        if problem:
            return problem
    return None


def checks_inputs(execute: Callable) -> Callable:
    """Wrap a node's ``execute`` (under @classmethod) to raise input_problem's sentence as a ValueError before it runs."""
    signature = inspect.signature(execute)

    @functools.wraps(execute)
    def checked(cls, *args, **kwargs):
        given = signature.bind_partial(cls, *args, **kwargs).arguments
        title, inputs = _widget_inputs(cls)
        numbers = {name: given.get(name) for name, spec in inputs.items() if isinstance(spec, io.Float.Input | io.Int.Input)}
        problem = _first_problem(title, inputs, numbers)
        if problem:
            raise ValueError(problem)
        return execute(cls, *args, **kwargs)

    return checked


def _widget_inputs(node: type[io.ComfyNode]) -> tuple[str, dict[str, io.Input]]:
    # Read per call: ComfyUI hands validate_inputs and execute a fresh locked copy of the class each time.
    schema = node.define_schema()
    kinds = (io.Float.Input, io.Int.Input, io.Combo.Input)
    return schema.display_name, {item.id: item for item in schema.inputs if isinstance(item, kinds)}
