#!/usr/bin/env python
"""Kinema's AnimateDiff beside another pack's, as users meet them: one process, the same weights, core KSampler.

Run with the host's Python from the pack root, naming your own checkout of the other pack
(nothing of it is vendored here; a quiet machine: the figures are wall times):

    .kinema/hosts/0.8.0/venv/bin/python bench/animatediff_vs_pack.py \\
        --other-pack ~/ComfyUI/custom_nodes/ComfyUI-AnimateDiff-Evolved [--sizes 64 128] [--rounds 3]

One process boots the embedded ComfyUI with Kinema, then loads the other pack from that
path the way ComfyUI loads a custom node folder. The random full-size SD1.5 checkpoint is
loaded once (core CheckpointLoaderSimple) and inflated twice with the same random v2 motion
module file: through Kinema's Load + Apply Motion Module and through the other pack's
loader (RECIPES: its node and inputs), both with the schedule the module was trained with.

- Memory held: the resident set each pack adds with its loader nodes and a first 2-step
  KSampler call (weights read lazily count once touched), after the same call on the plain
  MODEL; glibc's free heap handed back before each reading.
- Same latent: core KSampler (euler, normal, cfg 7, seed 1, 2 steps, a 16-frame
  EmptyLatentImage) on both inflated MODELs; the largest difference relative to the
  latent's largest value must stay at float rounding (--tolerance).
- Per step: as bench/animatediff_sampler_step.py, (t(6 steps) - t(2 steps)) / 4 of the
  KSampler call and minor page faults the same way, plain / Kinema / other interleaved
  (the order rotates per round), median of the rounds.
- Peak memory: the resident high-water mark above the resident set before one 2-step
  KSampler call of each MODEL (glibc's free heap handed back first, so the baseline holds
  no freed pages a later peak could reuse unseen).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402
from animatediff_memory import PeakMeter, call_node  # noqa: E402
from animatediff_sampler_step import (  # noqa: E402
    FEW,
    FRAMES,
    Sampling,
    boot_and_load,
    interleaved_rounds,
    print_rounds,
    unet_flops,
)

MIB = 1 << 20


def _evolved_loader(plain, module_name: str):
    (inflated,) = call_node("ADE_AnimateDiffLoaderGen1", model=plain, model_name=module_name,
                            beta_schedule="autoselect")
    return inflated


# Node type the other pack adds -> (its name in the tables, how it inflates a MODEL with a module file)
RECIPES = {
    "ADE_AnimateDiffLoaderGen1": ("AnimateDiff-Evolved", _evolved_loader),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other-pack", type=Path, required=True,
                        help="folder of the other pack's checkout (e.g. custom_nodes/ComfyUI-AnimateDiff-Evolved)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes in px (latent = px / 8)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size (after one warm-up of each)")
    parser.add_argument("--frames", type=int, default=FRAMES)
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest |Kinema - other| / largest |latent| accepted as the same latent")
    args = parser.parse_args()
    if not (args.other_pack / "__init__.py").is_file():
        parser.error(f"--other-pack {args.other_pack}: no __init__.py there; name the pack's folder "
                     "(the one ComfyUI's custom_nodes would hold)")
    return args


def load_other_pack(folder: Path) -> tuple[str, object]:
    """Load the pack as ComfyUI's start-up does (core functions restored after it); return (name, inflate)."""
    import hook_breaker_ac10a0
    import nodes

    before = set(nodes.NODE_CLASS_MAPPINGS)
    hook_breaker_ac10a0.save_functions()
    try:
        loaded = asyncio.run(nodes.load_custom_node(str(folder.resolve())))
    finally:
        hook_breaker_ac10a0.restore_functions()
    added = set(nodes.NODE_CLASS_MAPPINGS) - before
    if not loaded or not added:
        raise SystemExit(f"--other-pack {folder}: ComfyUI could not load it (its log above says why)")
    for node_type, (name, inflate) in RECIPES.items():
        if node_type in added:
            return name, inflate
    raise SystemExit(f"--other-pack {folder}: it adds none of the loader nodes this bench knows "
                     f"({', '.join(RECIPES)}); add its recipe to RECIPES in {Path(__file__).name}")


def resident_after(run) -> int:
    """The resident set in bytes after ``run()``, with glibc's free heap handed back."""
    from kinema.runner.embedded import hand_back_free_heap

    run()
    hand_back_free_heap()
    return PeakMeter.current()


def same_latent(sampling: Sampling, kinema, other, tolerance: float) -> tuple[float, bool]:
    """(largest |difference| / largest |latent|, within tolerance) of FEW-step KSampler runs on the two MODELs."""
    ours, theirs = (sampling.samples(model, FEW) for model in (kinema, other))
    relative = float((ours - theirs).abs().max() / ours.abs().max())
    return relative, relative <= tolerance


def peak_above(sampling: Sampling, model) -> int:
    """Resident high-water mark above the resident set before, of one FEW-step KSampler call."""
    from kinema.runner.embedded import hand_back_free_heap

    meter = PeakMeter()
    hand_back_free_heap()
    before = meter.current()
    meter.reset()
    sampling.run(model, FEW)
    return meter.peak() - before


def measure_size(size: int, args, models: dict, prepared) -> dict:
    sampling = Sampling(prepared.positive, prepared.negative, size, args.frames)
    for model in models.values():
        sampling.run(model, FEW)  # warm-up of each: first-call set-up is not a step
    relative, same = same_latent(sampling, models["Kinema"], list(models.values())[-1], args.tolerance)
    results = interleaved_rounds(sampling, models, args.rounds)
    peaks = {name: peak_above(sampling, model) for name, model in models.items()}
    # Kinema's floor: the other pack adds its modules inside its sampling wrapper, out of reach of a direct UNet call
    floor = unet_flops(models["Kinema"], args.frames, size) / unet_flops(models["plain"], args.frames, size)
    return {"size": size, "results": results, "peaks": peaks, "floor": floor, "relative": relative, "same": same}


def print_tables(rows: list[dict], names: list[str], held: dict, args) -> None:
    other = names[-1]
    print()
    print("Memory each pack's loader nodes and first sampling call added to the resident set: "
          + ", ".join(f"{name} {held[name] / MIB:,.0f} MiB" for name in names[1:]))
    print()
    print(f"Per sampling step inside KSampler, median of {args.rounds} interleaved rounds; peak = resident high-water "
          f"mark above the resident set before a {FEW}-step call")
    header = " | ".join(f"{name + ' s/step':>22} | {'ratio':>6}" for name in names[1:])
    print(f"{'size':>9} | {'plain s/step':>12} | {header} | {'floor':>6} | {other + '/Kinema':>24} | "
          + " | ".join(f"{name + ' peak MiB':>22}" for name in names))
    for row in rows:
        step = {name: statistics.median(row["results"][name]["seconds"]) for name in names}
        cells = " | ".join(f"{step[name]:>22.3f} | {step[name] / step['plain']:>5.3f}x" for name in names[1:])
        peaks = " | ".join(f"{row['peaks'][name] / MIB:>22,.0f}" for name in names)
        print(f"{row['size']:>3}x{row['size']:<3}px | {step['plain']:>12.3f} | {cells} | {row['floor']:>5.3f}x | "
              f"{step[other] / step['Kinema']:>23.3f}x | {peaks}")
    print()
    print(f"Same latent ({FEW} steps, seed 1): largest |Kinema - {other}| / largest |latent|, tolerance {args.tolerance:g}")
    for row in rows:
        print(f"  {row['size']}px: {row['relative']:.2e} {'same' if row['same'] else 'DIFFERENT'}")
    print()
    print_rounds(rows, 22)


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    prepared = boot_and_load()
    first = Sampling(prepared.positive, prepared.negative, args.sizes[0], args.frames)
    plain_resident = resident_after(lambda: first.run(prepared.plain, FEW))
    kinema_resident = resident_after(lambda: first.run(prepared.inflated, FEW))
    other_name, other_inflate = load_other_pack(args.other_pack)
    other = other_inflate(prepared.plain, prepared.files["mm_v2"].name)
    held = {"Kinema": kinema_resident - plain_resident,
            other_name: resident_after(lambda: first.run(other, FEW)) - kinema_resident}
    models = {"plain": prepared.plain, "Kinema": prepared.inflated, other_name: other}
    names = list(models)
    print(f"machine: {_host.machine_line()}")
    print(f"other pack: {other_name} from {args.other_pack.resolve()}")
    print(f"models: {prepared.files['sd15'].name}, {prepared.files['mm_v2'].name}; core KSampler euler/normal cfg 7, "
          f"{args.frames} frames; ready in {time.perf_counter() - started:.0f} s")
    rows = [measure_size(size, args, models, prepared) for size in args.sizes]
    print_tables(rows, names, held, args)
    print(f"machine after: {_host.machine_line()}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if not all(row["same"] for row in rows):
        raise SystemExit(f"{other_name} and Kinema gave different latents for the same seed and schedule (above)")


if __name__ == "__main__":
    main()
