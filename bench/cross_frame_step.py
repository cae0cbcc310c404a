#!/usr/bin/env python
"""Cost of Text2Video-Zero cross-frame attention per UNet step, on CPU: time and peak memory.

Run with the host's Python from the pack root:

    .kinema/hosts/0.8.0/venv/bin/python bench/cross_frame_step.py [--sizes 64 128] [--repeats 7] [--memory-size 256]

One step = one ``apply_model`` call the way a sampler makes it with cfg > 1: 2 guidance
chunks x 8 frames (the reference's video length) = batch 16, ``cond_or_uncond`` in the
transformer options, weights loaded. Variants: the plain UNet, the UNet after Cross-Frame
Attention (anchor), and with attend_previous_frame. Steps alternate A B C A B C ... after
one warm-up each; the table gives medians and ratio = variant / plain (goal: anchor <= 1.05),
both of wall time and of this process's CPU time (user + system of all its threads), which
other load on a shared machine disturbs much less than wall time. The FLOP ratio
(``FlopCounterMode``: convs, matmuls, attention) is exact and load-free.

Memory: each variant runs in a fresh child process (RSS never shrinks inside one); after
one warm-up step the kernel's high-water mark (VmHWM) is reset and one more step is
taken; "step +" = that step's peak minus the RSS before it (goal: no increase over plain).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402
from animatediff_step import CHUNKS, count_flops  # noqa: E402

FRAMES = 8
RESULT = "RESULT "
VARIANTS = ("plain", "anchor", "anchor+previous")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes in px for the timing (latent = px / 8)")
    parser.add_argument("--repeats", type=int, default=7, help="timed steps of each variant per size (after one warm-up)")
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--memory-size", type=int, default=256, help="image size in px for the peak-memory children")
    parser.add_argument("--no-memory", action="store_true", help="time only")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    return parser.parse_args()


def interleaved_times(variants: dict, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of each zero-argument callable, round-robin after one warm-up of each."""
    for fn in variants.values():
        fn()
    wall, cpu = {name: [] for name in variants}, {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
    return {"wall": {n: statistics.median(v) for n, v in wall.items()}, "cpu": {n: statistics.median(v) for n, v in cpu.items()}}


def load_variants(names=VARIANTS) -> dict:
    import comfy.sd

    from kinema.frame_attention import FrameAttention
    from kinema.nodes.text2video_zero_nodes import CrossFrameAttention

    plain, *_ = comfy.sd.load_checkpoint_guess_config(str(_host.fixture_files()["sd15"]), output_vae=False, output_clip=False)
    out = {"plain": plain}
    if "anchor" in names:
        out["anchor"] = CrossFrameAttention.execute(plain, 0, False).args[0]
    if "anchor+previous" in names:
        out["anchor+previous"] = CrossFrameAttention.execute(plain, 0, True).args[0]
    for name, patcher in out.items():
        patches = patcher.model_options["transformer_options"].get("patches", {}).get("attn1_patch", [])
        if (name != "plain") != any(isinstance(p, FrameAttention) for p in patches):
            raise RuntimeError(f"{name}: the A/B is not what it claims (attn1 patches {patches})")
    return out


class Step:
    def __init__(self, frames: int, latent: int):
        import torch

        generator = torch.Generator().manual_seed(0)
        batch = CHUNKS * frames
        self.x = torch.randn(batch, 4, latent, latent, generator=generator)
        self.context = torch.randn(CHUNKS, 77, 768, generator=generator).repeat_interleave(frames, dim=0)
        self.sigma = torch.full((batch,), 2.0)

    def __call__(self, patcher):
        import comfy.model_management
        import torch

        comfy.model_management.load_models_gpu([patcher])
        # as a sampler calls it: the clone's wrappers and the guidance chunks in the transformer options
        options = {**patcher.model_options["transformer_options"], "wrappers": patcher.wrappers, "cond_or_uncond": list(range(CHUNKS))}
        with torch.inference_mode():
            return patcher.model.apply_model(self.x, self.sigma, c_crossattn=self.context, transformer_options=options)


def child(variant: str, size: int, frames: int) -> None:
    from animatediff_memory import PeakMeter

    _host.import_comfy()
    patcher = load_variants(("plain", variant) if variant != "plain" else ("plain",))[variant]
    step = Step(frames, size // 8)
    meter = PeakMeter()
    step(patcher)  # warm-up: loads weights, first-touch allocations
    before = meter.current()
    meter.reset()
    started = time.perf_counter()
    step(patcher)
    seconds = time.perf_counter() - started
    print(RESULT + json.dumps({"before": before, "peak": meter.peak(), "seconds": seconds, "method": meter.method}), flush=True)


def run_child(variant: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", variant, "--memory-size", str(args.memory_size),
               "--frames", str(args.frames)]
    completed = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT)]
    if completed.returncode or not lines:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"memory child for {variant} failed (exit {completed.returncode})")
    return json.loads(lines[-1][len(RESULT):])


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.child, args.memory_size, args.frames)
        return
    print(f"machine: {_host.machine_line()}")
    print(f"attention backend: {'; '.join(_host.import_comfy()) or 'n/a'}")
    variants = load_variants()
    print(f"\nstep time, batch {CHUNKS} x {args.frames} frames, median of {args.repeats} interleaved repeats; ratios to plain")
    print(f"{'px':>5} | {'variant':>16} | {'wall s':>7} | {'CPU s':>7} | {'wall ratio':>10} | {'CPU ratio':>9} | {'FLOP ratio':>10}")
    for size in args.sizes:
        step = Step(args.frames, size // 8)
        flops = {name: count_flops(lambda p=patcher, s=step: s(p))[0] for name, patcher in variants.items()}
        times = interleaved_times({name: (lambda p=patcher, s=step: s(p)) for name, patcher in variants.items()}, args.repeats)
        for name in VARIANTS:
            wall, cpu = times["wall"][name], times["cpu"][name]
            print(f"{size:>5} | {name:>16} | {wall:>7.3f} | {cpu:>7.3f} | {wall / times['wall']['plain']:>10.3f} | "
                  f"{cpu / times['cpu']['plain']:>9.3f} | {flops[name] / flops['plain']:>10.4f}")
    del variants
    if args.no_memory:
        return

    gib = 1024 ** 3
    print(f"\npeak RSS of one step at {args.memory_size} px, batch {CHUNKS} x {args.frames}, one fresh process per variant")
    results = {name: run_child(name, args) for name in VARIANTS}
    print(f"({results['plain']['method']})")
    print(f"{'variant':>16} | {'RSS before GiB':>14} | {'step peak GiB':>13} | {'step + MiB':>10} | {'step s':>7}")
    for name, r in results.items():
        print(f"{name:>16} | {r['before'] / gib:>14.3f} | {r['peak'] / gib:>13.3f} | {(r['peak'] - r['before']) / 2**20:>10.1f} | {r['seconds']:>7.2f}")
    plain = results["plain"]
    for name in VARIANTS[1:]:
        r = results[name]
        print(f"{name} / plain: step peak {r['peak'] / plain['peak']:.4f}, step working set "
              f"{(r['peak'] - r['before']) / max(plain['peak'] - plain['before'], 1):.3f}")
    print(f"machine after: {_host.machine_line()}")


if __name__ == "__main__":
    main()
