#!/usr/bin/env python
"""GFLOP/s of the motion modules' projections on CPU: F.linear, the weight-first product and a oneDNN 1x1 convolution.

Run with the host's Python from the pack root (a quiet machine):

    .kinema/hosts/0.8.0/venv/bin/python bench/linear_gflops.py [--repeats 9]

The shapes are those a v2 module's linear layers meet in one sampling step of 2 guidance
chunks x 16 frames: rows = tokens of one pass (capped, as the network caps them, so the
GEGLU projection stays under network.CHUNK_BYTES), in and out features of the square
projections (C -> C), the GEGLU projection (C -> 8C) and the feed-forward output (4C -> C),
at the latent sizes of 64 and 128 px. Each shape is timed interleaved (F.linear,
weight-first, 1x1 convolution, F.linear, ...) after a warm-up; the table gives the median
GFLOP/s, the minor page faults per call, and which product the motion modules use there.

The weight-first product, ``(W @ x.T).T`` copied back to row-major, is
``few_row_linear.weight_first_linear``: the motion modules take it where
``few_row_linear.weight_on_the_left`` says so (few rows against the weight), F.linear elsewhere.

The alternative, ``conv_linear`` below, is the same product as a 1x1 convolution over a
channels-last view of the rows (no copy), which torch hands to oneDNN. The motion modules
used it until this table and bench/animatediff_sampler_step.py showed that it does not pay
inside a sampling step: oneDNN reorders the weight into its blocked layout on every call,
a weight-sized temporary that glibc maps and unmaps when it is large, so the convolution
pays per call for what it gains per row, and loses on the few-row passes of small latents.
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


def conv_linear(x, weight, bias):
    """``F.linear(x, weight, bias)`` for x [M, K] as a oneDNN 1x1 convolution (the alternative measured)."""
    import torch.nn.functional as F

    rows, in_features = x.shape
    # [M, K] -> [1, M, 1, K] -> [1, K, M, 1]: the same memory, now a channels-last image
    image = x.view(1, rows, 1, in_features).permute(0, 3, 1, 2)
    out = F.conv2d(image, weight.view(*weight.shape, 1, 1), bias)
    # [1, N, M, 1] channels-last -> [1, M, 1, N] (contiguous) -> [M, N]
    return out.permute(0, 2, 3, 1).reshape(rows, weight.shape[0])


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

    from kinema.motion_modules.few_row_linear import weight_first_linear, weight_on_the_left
    from kinema.motion_modules.network import CHUNK_BYTES

    print(f"machine: {_host.machine_line()}")
    print(f"{'size':>6} | {'rows':>5} | {'in':>5} | {'out':>6} | {'F.linear GFLOP/s':>16} | {'weight-first':>12} | "
          f"{'1x1 conv':>8} | {'WF/F':>5} | {'conv/F':>6} | {'F faults':>8} | {'conv faults':>11} | used")
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for size in args.sizes:
            for rows, k, n in shapes(size, CHUNK_BYTES):
                x = torch.randn(rows, k, generator=generator)
                weight, bias = torch.randn(n, k, generator=generator) * 0.02, torch.zeros(n)
                variants = {"F": lambda x=x, w=weight, b=bias: F.linear(x, w, b),
                            "WF": lambda x=x, w=weight, b=bias: weight_first_linear(x, w, b),
                            "conv": lambda x=x, w=weight, b=bias: conv_linear(x, w, b)}
                for fn in variants.values():
                    fn()
                results = {name: [] for name in variants}
                for _ in range(args.repeats):  # interleaved: drift hits both alike
                    for name, fn in variants.items():
                        results[name].append(measure(fn))
                seconds = {name: statistics.median(t for t, _ in r) for name, r in results.items()}
                faults = {name: statistics.median(f for _, f in r) for name, r in results.items()}
                flops = 2 * rows * k * n
                used = "weight-first" if weight_on_the_left(x, weight) else "F.linear"
                print(f"{size:>4}px | {rows:>5} | {k:>5} | {n:>6} | {flops / seconds['F'] / 1e9:>16.0f} | "
                      f"{flops / seconds['WF'] / 1e9:>12.0f} | {flops / seconds['conv'] / 1e9:>8.0f} | "
                      f"{seconds['F'] / seconds['WF']:>4.2f}x | {seconds['F'] / seconds['conv']:>5.2f}x | "
                      f"{faults['F']:>8.0f} | {faults['conv']:>11.0f} | {used}")
    print(f"machine after: {_host.machine_line()}")


if __name__ == "__main__":
    main()
