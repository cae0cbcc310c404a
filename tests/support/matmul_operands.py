"""Which operands a CPU matrix product received: told apart by the shapes torch's profiler records."""

from __future__ import annotations

from collections.abc import Callable


def addmm_operand_shapes(run: Callable[[], object]) -> list[tuple[tuple[int, ...], ...]]:
    """Shapes of (bias, left, right) of every ``aten::addmm`` that ``run()`` called.

    ``F.linear`` on rows [R, K] with a weight [N, K] records ([N], [R, K], [K, N]); the
    weight-first product records ([N, 1], [N, K], [K, R])."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as recorded:
        run()
    return [tuple(tuple(shape) for shape in event.input_shapes[:3])
            for event in recorded.events() if event.name == "aten::addmm"]
