"""FLOAT inputs a node can use: finite and inside the range its schema declares, refused in a sentence otherwise.

ComfyUI (0.3.75, 0.8.0) checks a FLOAT widget with ``value < min`` and ``value > max``, which
NaN always passes, and skips even those for the inputs a node's ``validate_inputs`` names; a
NaN effect or strength then renders an all-black video counted as success. So every Kinema
node with FLOAT inputs names them in ``validate_inputs`` and returns ``float_problem(cls, ...)``
there (widget values, checked before anything runs; a linked one arrives as None), and wraps
``execute`` in ``checks_float_inputs`` for values that come through links.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

from .schema import io


def float_problem(node: type[io.ComfyNode], **values: float | None) -> str | None:
    """Why one of ``values`` (FLOAT inputs of ``node`` by name) cannot be used, or None; None values are skipped."""
    title, inputs = _float_inputs(node)
    for name, value in values.items():
        spec = inputs[name]
        low = -math.inf if spec.min is None else spec.min
        high = math.inf if spec.max is None else spec.max
        if value is None or (math.isfinite(value) and low <= value <= high):
            continue
        kind = "not a number" if math.isnan(value) else "infinite" if math.isinf(value) else "out of range"
        return (f"{title}: {name} is {value} ({kind}); it must be a number from {spec.min} to {spec.max}. "
                f"Set {name} to a number in that range (the default is {spec.default}).")
    return None


def checks_float_inputs(execute: Callable) -> Callable:
    """Wrap a node's ``execute`` (under @classmethod) to raise float_problem's sentence as a ValueError before it runs."""
    signature = inspect.signature(execute)

    @functools.wraps(execute)
    def checked(cls, *args, **kwargs):
        given = signature.bind_partial(cls, *args, **kwargs).arguments
        problem = float_problem(cls, **{name: given.get(name) for name in _float_inputs(cls)[1]})
        if problem:
            raise ValueError(problem)
        return execute(cls, *args, **kwargs)

    return checked


def _float_inputs(node: type[io.ComfyNode]) -> tuple[str, dict[str, io.Float.Input]]:
    # Read per call: ComfyUI hands validate_inputs and execute a fresh locked copy of the class each time.
    schema = node.define_schema()
    return schema.display_name, {item.id: item for item in schema.inputs if isinstance(item, io.Float.Input)}
