"""Which CPU matrix products a call ran, with their operands' shapes, as torch's profiler records them."""

from __future__ import annotations

from collections.abc import Callable

# F.linear's products (with and without bias) and oneDNN's linear product
PRODUCT_OPS = ("aten::addmm", "aten::mm", "mkldnn::_linear_pointwise")


def matrix_products(run: Callable[[], object]) -> list[tuple[str, tuple[tuple[int, ...], ...]]]:
    """(operator, shapes of its first three inputs) of every matrix product ``run()`` called.

    ``F.linear`` on rows [R, K] with a weight [N, K] and a bias records
    ("aten::addmm", ([N], [R, K], [K, N])); ``onednn_linear`` records
    ("mkldnn::_linear_pointwise", ([R, K], [N, K], [N]))."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as recorded:
        run()
    return [(event.name, tuple(tuple(shape) for shape in event.input_shapes[:3]))
            for event in recorded.events() if event.name in PRODUCT_OPS]
