#!/usr/bin/env python
"""One AnimateDiff sampling step as users wait for it: inside core KSampler, inflated against plain, on CPU.

Run with the host's Python from the pack root (a quiet machine: the figures are wall times):

    .kinema/hosts/0.8.0/venv/bin/python bench/animatediff_sampler_step.py [--sizes 64 128] [--rounds 3]

One process boots the embedded ComfyUI with the pack, loads the random full-size SD1.5
checkpoint (core CheckpointLoaderSimple) and the random v2 motion module (Load + Apply
Motion Module), and encodes a prompt. Per size and round, core KSampler (euler, normal,
cfg 7, a 16-frame EmptyLatentImage, seed 1) runs with 2 and with 6 steps on the plain
MODEL and on the inflated one, interleaved (the order of plain and inflated alternates
from round to round). Per step = (t(6 steps) - t(2 steps)) / 4 of the node call: model
loading, the first step's set-up and the end of sampling are in both runs and cancel.
Minor page faults (getrusage) are taken the same way: pages the kernel had to supply
(and zero) per step, the cost of large temporaries that the allocator maps and unmaps
on every call. The table gives the median of the rounds.

The FLOP floor is the ratio of matmul, convolution and attention FLOPs of one inflated
UNet call to one plain call (bench/animatediff_step.count_flops): the slowdown the motion
modules would cost at the UNet's average FLOP rate.

The allocator's state matters: whether the UNet's large temporaries come from glibc's
heap or from freshly mapped (and zeroed) pages on every call depends on what the process
allocated and freed before. As this bench boots, the plain step faults 0.45-1.2 million
pages per step here (and the inflated step about as many); after a large .ckpt file has
been read with torch.load (another pack's motion module loader, in
bench/animatediff_vs_pack.py) the heap has room and the plain step faults none. So:

- without --allocators, every size runs in this process, with whatever allocator it has
  (the line "allocator" says what GLIBC_TUNABLES set);
- with --allocators default kinema, every size runs in a fresh process of its own, once
  with glibc's defaults and once with the malloc options of the processes Kinema starts
  (runner/allocator.py): a known state, the same for every run. The held column is the
  resident set after the rounds: what the options cost in memory kept for reuse.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402
from animatediff_memory import PeakMeter, call_node  # noqa: E402
from animatediff_step import Stepper, count_flops  # noqa: E402

FRAMES = 16
FEW, MANY = 2, 6  # steps of the two runs whose difference is timed
ALLOCATORS = ("default", "kinema")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes in px (latent = px / 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size (after one warm-up of each)")
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--allocators", nargs="+", choices=ALLOCATORS, default=[],
                        help="run each size in a fresh process per allocator: glibc's defaults, or the malloc options "
                             "of the processes Kinema starts (runner/allocator.py)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one size, reported to the parent
    return parser.parse_args()


def allocator_environment(allocator: str) -> dict[str, str]:
    """This process's environment without any malloc tunables, plus Kinema's for ``kinema``."""
    from pack_import import load_standalone

    options = load_standalone("runner/allocator.py")
    plain = {key: value for key, value in os.environ.items() if key not in ("GLIBC_TUNABLES", options.OPT_OUT)}
    return options.tuned_environment(plain) if allocator == "kinema" else plain


def measure_in_fresh_processes(args: argparse.Namespace) -> list[dict]:
    """Per allocator and size, the rows of a child process that measured only that size."""
    rows = []
    for allocator in args.allocators:
        for size in args.sizes:
            command = [sys.executable, __file__, "--child", "--sizes", str(size), "--rounds", str(args.rounds),
                       "--frames", str(args.frames)]
            row = _host.run_measuring_child(command, f"{allocator}/{size}px", env=allocator_environment(allocator))
            rows.append({**row, "allocator": allocator})
            print(f"  {allocator:>7} {size}px measured ({row['machine']})", flush=True)
    return rows


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


class Sampling:
    """KSampler runs of one size on the same prompt and latent."""

    def __init__(self, positive, negative, size: int, frames: int) -> None:
        self.positive, self.negative = positive, negative
        (self.latent,) = call_node("EmptyLatentImage", width=size, height=size, batch_size=frames)

    def samples(self, model, steps: int):
        """The latent of one KSampler node call (seed 1)."""
        import torch

        (samples,) = call_node("KSampler", model=model, seed=1, steps=steps, cfg=7.0, sampler_name="euler",
                               scheduler="normal", positive=self.positive, negative=self.negative,
                               latent_image=self.latent, denoise=1.0)
        if not torch.isfinite(samples["samples"]).all():
            raise RuntimeError("sampling gave non-finite latents: timings would not be representative")
        return samples["samples"]

    def run(self, model, steps: int) -> tuple[float, int]:
        """(seconds, minor faults) of one KSampler node call."""
        faults, started = minor_faults(), time.perf_counter()
        self.samples(model, steps)
        return time.perf_counter() - started, minor_faults() - faults

    def per_step(self, model) -> tuple[float, float]:
        """(seconds, minor faults) per step: the difference of a MANY-step and a FEW-step run, divided by the extra steps."""
        t_few, f_few = self.run(model, FEW)
        t_many, f_many = self.run(model, MANY)
        return (t_many - t_few) / (MANY - FEW), (f_many - f_few) / (MANY - FEW)


def interleaved_rounds(sampling: Sampling, models: dict, rounds: int) -> dict[str, dict[str, list[float]]]:
    """Per model, the seconds and minor faults per step of each round; the order of the models rotates per round."""
    names = list(models)
    results = {name: {"seconds": [], "faults": []} for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, faults = sampling.per_step(models[name])
            results[name]["seconds"].append(seconds)
            results[name]["faults"].append(faults)
    return results


def unet_flops(model, frames: int, size: int) -> int:
    """Matmul, convolution and attention FLOPs of one UNet call of ``model`` on 2 guidance chunks of ``frames``."""
    stepper = Stepper(frames, size // 8)
    stepper.load(model)
    flops, _ = count_flops(lambda: stepper.run(model))
    return flops


def print_rounds(rows: list[dict], name_width: int) -> None:
    """Every round's seconds and minor faults per step, per size and model (``row["results"]`` of each size)."""
    print("rounds (s/step; minor faults/step):")
    for row in rows:
        for name, result in row["results"].items():
            where = f"{row['allocator']} " if "allocator" in row else ""  # rows of fresh processes name their allocator
            print(f"  {where}{row['size']}px {name:<{name_width}} " + " ".join(f"{t:.3f}" for t in result["seconds"]) + ";  "
                  + " ".join(f"{f:,.0f}" for f in result["faults"]))


def measure_size(size: int, rounds: int, frames: int, models: dict, positive, negative) -> dict:
    sampling = Sampling(positive, negative, size, frames)
    for model in models.values():
        sampling.run(model, FEW)  # warm-up of each: first-call set-up is not a step
    results = interleaved_rounds(sampling, models, rounds)
    held_mib = PeakMeter.current() / 2**20  # before the FLOP count's own allocations
    flops = {name: unet_flops(model, frames, size) for name, model in models.items()}
    return {"size": size, "results": results, "flops": flops, "held_mib": held_mib, "machine": _host.machine_line()}


class Prepared(NamedTuple):
    host: object  # the booted kinema.runner.embedded.EmbeddedComfy
    files: dict[str, Path]
    plain: object  # MODEL of core CheckpointLoaderSimple
    inflated: object  # the same MODEL through Kinema's Load + Apply Motion Module
    positive: object
    negative: object


def boot_and_load() -> Prepared:
    """Boot the embedded ComfyUI with the pack; load the random SD1.5 checkpoint, inflate it with the random v2 module
    through Kinema's Load + Apply Motion Module (scale and effect 1, autoselected schedule) and encode a prompt."""
    _host.import_comfy()
    files = _host.fixture_files()
    from fixtures import cache
    from kinema.runner.embedded import EmbeddedComfy, HostPaths

    work = Path(tempfile.mkdtemp(prefix="kinema-bench-"))
    host = EmbeddedComfy(HostPaths(comfyui=_host.comfyui_path(), output=work / "output", work=work,
                                   model_dirs=cache.model_dirs(_host.kinema_home())))
    host.boot()
    host.show_step_progress(False)
    plain, clip, _ = call_node("CheckpointLoaderSimple", ckpt_name=files["sd15"].name)
    (motion,) = call_node("KinemaLoadMotionModule", model_name=files["mm_v2"].name)
    (inflated,) = call_node("KinemaApplyMotionModule", model=plain, motion_model=motion, scale=1.0, effect=1.0,
                            beta_schedule="autoselect")
    (positive,) = call_node("CLIPTextEncode", clip=clip, text="a sailing boat on a stormy sea, waves crashing")
    (negative,) = call_node("CLIPTextEncode", clip=clip, text="blurry, low quality")
    return Prepared(host, files, plain, inflated, positive, negative)


def measure_here(args: argparse.Namespace) -> list[dict]:
    """Every size in this process, on one boot of the host."""
    started = time.perf_counter()
    prepared = boot_and_load()
    models = {"plain": prepared.plain, "inflated": prepared.inflated}
    if not args.child:
        print(f"allocator: GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '(not set: glibc defaults)')}")
        print(f"ready in {time.perf_counter() - started:.0f} s")
    return [measure_size(size, args.rounds, args.frames, models, prepared.positive, prepared.negative) for size in args.sizes]


def print_table(rows: list[dict], rounds: int) -> None:
    print(f"Per sampling step inside KSampler, median of {rounds} interleaved rounds")
    print(f"{'allocator':>9} | {'size':>9} | {'plain s/step':>12} | {'inflated s/step':>15} | {'ratio':>7} | "
          f"{'FLOP floor':>10} | {'ratio/floor':>11} | {'plain faults/step':>17} | {'inflated faults/step':>20} | "
          f"{'held MiB':>8}")
    for row in rows:
        plain_r, inflated_r = row["results"]["plain"], row["results"]["inflated"]
        t_plain, t_inflated = statistics.median(plain_r["seconds"]), statistics.median(inflated_r["seconds"])
        floor = row["flops"]["inflated"] / row["flops"]["plain"]
        ratio = t_inflated / t_plain
        size = row["size"]
        print(f"{row.get('allocator', 'as is'):>9} | {size:>3}x{size:<3}px | {t_plain:>12.3f} | {t_inflated:>15.3f} | "
              f"{ratio:>6.3f}x | {floor:>9.3f}x | {ratio / floor:>11.3f} | {statistics.median(plain_r['faults']):>17,.0f} | "
              f"{statistics.median(inflated_r['faults']):>20,.0f} | {row['held_mib']:>8,.0f}")


def main() -> None:
    args = parse_args()
    if args.child:
        (row,) = measure_here(args)
        _host.report_child_result(row)
        return
    started = time.perf_counter()
    files = _host.fixture_files()
    print(f"machine: {_host.machine_line()}")
    print(f"models: {files['sd15'].name}, {files['mm_v2'].name}; core KSampler euler/normal cfg 7, {args.frames} frames; "
          f"per step = (t({MANY} steps) - t({FEW} steps)) / {MANY - FEW}")
    rows = measure_in_fresh_processes(args) if args.allocators else measure_here(args)
    print()
    print_table(rows, args.rounds)
    print()
    print_rounds(rows, 8)
    print(f"machine after: {_host.machine_line()}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
