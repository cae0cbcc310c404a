#!/usr/bin/env python
"""GFLOP/s of the motion modules' projections on CPU: F.linear (the BLAS) against oneDNN's linear product.

Run with the host's Python from the pack root (a quiet machine):

    .kinema/hosts/0.8.0/venv/bin/python bench/linear_gflops.py [--repeats 9]

The shapes are those a v2 module's linear layers meet in one sampling step of 2 guidance
chunks x 16 frames: rows = tokens of one pass (capped, as the network caps them, so the
GEGLU projection stays under network.CHUNK_BYTES), in and out features of the square
projections (C -> C), the GEGLU projection (C -> 8C) and the feed-forward output (4C -> C),
at the latent sizes of 64 and 128 px. Each shape is timed interleaved (F.linear, oneDNN,
F.linear, ...) after a warm-up; the table gives the median GFLOP/s, the minor page faults
per call, and which product the motion modules use there (``onednn_linear.uses_onednn``).

oneDNN's product is ``onednn_linear.linear``: ``mkldnn::_linear_pointwise`` on the weight as
it is, the bias added inside the product. Up to commit 73ad7c1 the modules used a
weight-first product for few-row passes and F.linear elsewhere, and before that a oneDNN
1x1 convolution; this table (then with those columns) is how each was chosen and left.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402

FRAMES, CHUNKS = 16, 2
LEVELS = ((320, 1), (640, 2), (1280, 4), (1280, 8))  # channels, latent downscale of the level's motion modules


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved timings of each variant per shape")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes in px (latent = px / 8)")
    return parser.parse_args()


def shapes(size: int, chunk_bytes: int) -> list[tuple[int, int, int]]:
    """(rows, in, out) of each distinct projection of one step at ``size`` px."""
    found = []
    for channels, downscale in LEVELS:
        side = max(1, size // 8 // downscale)
        sequences = CHUNKS * side * side
        per_pass = max(1, chunk_bytes // (FRAMES * 8 * channels * 4))  # sequences per pass, as network.py caps them
        rows = min(sequences, per_pass) * FRAMES
        for features in ((channels, channels), (channels, 8 * channels), (4 * channels, channels)):
            if (rows, *features) not in found:
                found.append((rows, *features))
    return found


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(fn) -> tuple[float, int]:
    """(seconds, minor page faults) of one call of ``fn()``."""
    before, started = minor_faults(), time.perf_counter()
    fn()
    return time.perf_counter() - started, minor_faults() - before


def main() -> None:
    args = parse_args()
    _host.import_comfy()
    import torch
    import torch.nn.functional as F

    from kinema.motion_modules.network import CHUNK_BYTES
    from kinema.motion_modules.onednn_linear import ONEDNN_LINEAR, onednn_product, uses_onednn

    if ONEDNN_LINEAR is None:
        raise SystemExit("this torch has no oneDNN linear product (mkldnn::_linear_pointwise): nothing to compare")
    print(f"machine: {_host.machine_line()}")
    print(f"{'size':>6} | {'rows':>5} | {'in':>5} | {'out':>6} | {'F.linear GFLOP/s':>16} | {'oneDNN GFLOP/s':>14} | "
          f"{'oneDNN/F':>8} | {'F faults':>8} | {'oneDNN faults':>13} | used")
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for size in args.sizes:
            for rows, k, n in shapes(size, CHUNK_BYTES):
                x = torch.randn(rows, k, generator=generator)
                weight, bias = torch.randn(n, k, generator=generator) * 0.02, torch.zeros(n)
                variants = {"F": lambda x=x, w=weight, b=bias: F.linear(x, w, b),
                            "oneDNN": lambda x=x, w=weight, b=bias: onednn_product(x, w, b)}
                for fn in variants.values():
                    fn()
                results = {name: [] for name in variants}
                for _ in range(args.repeats):  # interleaved: drift hits both alike
                    for name, fn in variants.items():
                        results[name].append(measure(fn))
                seconds = {name: statistics.median(t for t, _ in r) for name, r in results.items()}
                faults = {name: statistics.median(f for _, f in r) for name, r in results.items()}
                flops = 2 * rows * k * n
                used = "oneDNN" if uses_onednn(x, weight, bias) else "F.linear"
                print(f"{size:>4}px | {rows:>5} | {k:>5} | {n:>6} | {flops / seconds['F'] / 1e9:>16.0f} | "
                      f"{flops / seconds['oneDNN'] / 1e9:>14.0f} | {seconds['F'] / seconds['oneDNN']:>7.2f}x | "
                      f"{faults['F']:>8.0f} | {faults['oneDNN']:>13.0f} | {used}")
    print(f"machine after: {_host.machine_line()}")


if __name__ == "__main__":
    main()
