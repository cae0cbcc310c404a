#!/usr/bin/env python
"""Memory of all-frames attention (ControlVideo's fully cross-frame attention) by frame count, on CPU.

Run with a host's Python from the pack root:

    .kinema/hosts/0.8.0/venv/bin/python bench/frame_attention_memory.py [--frames 8 16 32] [--layer-size 256] [--step-size 128] [--attention pytorch]

Every self-attention of the full-size random SD1.5 UNet attends to all frames of its guidance
chunk (2 chunks, cfg > 1). Two routes: the chunk's frames folded into one query sequence
(nothing else sees the layout), and with another pack's attn1 patch after ours, where our
attn1 replacement attends from the projected keys instead. Measured in a fresh process per
figure (the kernel's high-water mark, VmHWM, reset after a warm-up; glibc's mmap threshold
fixed so freed tensors leave the resident set): the peak working memory above the resident
set of one attention layer (the UNet's last full-resolution transformer block: self-attention,
cross-attention and feed-forward, called as the UNet calls it) and of one UNet step, with
ComfyUI's pytorch attention (SDPA; ComfyUI's CPU default, sub-quadratic, sizes its chunks
by the free memory). Printed: each figure, the ratio of the largest frame count to the
smallest (linear: at most their ratio x 1.1), the memory each added frame costs (linear:
the same at every count) and the foreign-patch route over the fold route (goal: at most 1.1).
"""

from __future__ import annotations

import argparse
import sys
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402

CHUNKS = 2
ROUTES = ("fold", "foreign patch")
LAYER = ("output", 11, 0)  # SD1.5's last output block: full resolution, 320 channels
ATTENTION = {"pytorch": ["--use-pytorch-cross-attention"], "sub-quadratic": ["--use-quad-cross-attention"]}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--layer-size", type=int, default=256, help="image size in px for the one-layer figures")
    parser.add_argument("--step-size", type=int, default=128, help="image size in px for the UNet-step figures")
    parser.add_argument("--attention", choices=list(ATTENTION), default="pytorch",
                        help="ComfyUI's attention backend: pytorch (SDPA, memory-efficient on CPU too) or sub-quadratic (ComfyUI's "
                             "CPU default, which sizes its chunks by the free memory, so its peak follows the machine, not the frames)")
    parser.add_argument("--child", nargs=3, metavar=("SCOPE", "ROUTE", "FRAMES"), help=argparse.SUPPRESS)
    return parser.parse_args()


def all_frames_model(foreign_patch: bool):
    import comfy.sd

    from kinema.frame_attention import AllFramesStrategy
    from kinema.nodes.frame_attention_binding import apply_feature

    plain, *_ = comfy.sd.load_checkpoint_guess_config(str(_host.fixture_files()["sd15"]), output_vae=False, output_clip=False)
    model = apply_feature(plain, "controlvideo", AllFramesStrategy())
    if foreign_patch:
        model.set_model_attn1_patch(lambda n, context, value, extra_options: (n, context, value))  # after ours
    return model


def call_options(model, batch: int) -> dict:
    """A UNet call's transformer options as sampling and the binding's wrappers leave them (route decided)."""
    from kinema.comfy_glue.attention import attn1_patches
    from kinema.frame_attention import ROUTE_OPTION, is_frame_attention_patch, route

    options = {**model.model_options["transformer_options"], "wrappers": model.wrappers, "cond_or_uncond": list(range(CHUNKS))}
    facts = attn1_patches(options)
    return {**options, ROUTE_OPTION: route(batch, facts.chain, facts.output_chain, facts.replacements, is_frame_attention_patch)}


def runner(scope: str, model, frames: int, size: int):
    """A zero-argument callable doing one layer call or one UNet step."""
    import comfy.model_management
    import torch

    comfy.model_management.load_models_gpu([model])
    generator = torch.Generator().manual_seed(0)
    batch, latent = CHUNKS * frames, size // 8
    if scope == "layer":
        block = model.model.diffusion_model.output_blocks[LAYER[1]][1].transformer_blocks[LAYER[2]]
        hidden = torch.randn(batch, latent * latent, block.attn1.to_q.in_features, generator=generator)
        text = torch.randn(batch, 77, 768, generator=generator)
        options = {**call_options(model, batch), "block": LAYER[:2], "block_index": LAYER[2]}
        return lambda: block(hidden, context=text, transformer_options=options)
    x = torch.randn(batch, 4, latent, latent, generator=generator)
    text = torch.randn(CHUNKS, 77, 768, generator=generator).repeat_interleave(frames, dim=0)
    sigma = torch.full((batch,), 2.0)
    return lambda: model.model.apply_model(x, sigma, c_crossattn=text, transformer_options=call_options(model, batch))


def child(scope: str, route: str, frames: int, size: int, attention: str) -> None:
    _host.import_comfy(ATTENTION[attention])
    run = runner(scope, all_frames_model(route == "foreign patch"), frames, size)
    _host.report_peak(warm_up=run, make_run=lambda: run)  # warm-up: the same call, for its first-touch allocations


def measure(scope: str, route: str, frames: int, size: int, attention: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", scope, route, str(frames),
               f"--{scope}-size", str(size), "--attention", attention]
    result = _host.run_measuring_child(command, f"{scope}/{route}/{frames}")
    return {**result, "working": result["peak"] - result["before"]}


def main() -> None:
    args = parse_args()
    if args.child:
        scope, route, frames = args.child
        child(scope, route, int(frames), args.layer_size if scope == "layer" else args.step_size, args.attention)
        return
    print(f"machine: {_host.machine_line()}")
    print(f"ComfyUI attention backend: {args.attention} ({' '.join(ATTENTION[args.attention])})")
    mib = 2 ** 20
    for scope, size in (("layer", args.layer_size), ("step", args.step_size)):
        print(f"\nall-frames attention, one {scope} at {size} px, {CHUNKS} chunks: peak working memory above the resident set (MiB)")
        print(f"{'frames':>6} | " + " | ".join(f"{route:>14}" for route in ROUTES) + f" | {'foreign / fold':>14} | {'seconds (fold)':>14}")
        results = {frames: {route: measure(scope, route, frames, size, args.attention) for route in ROUTES} for frames in args.frames}
        for frames, by_route in results.items():
            ratio = by_route["foreign patch"]["working"] / max(by_route["fold"]["working"], 1)
            print(f"{frames:>6} | " + " | ".join(f"{by_route[route]['working'] / mib:>14.1f}" for route in ROUTES)
                  + f" | {ratio:>14.3f} | {by_route['fold']['seconds']:>14.2f}")
        low, high = min(args.frames), max(args.frames)
        for route in ROUTES:
            growth = results[high][route]["working"] / max(results[low][route]["working"], 1)
            counts = sorted(results)
            per_frame = [(results[b][route]["working"] - results[a][route]["working"]) / (b - a) / mib for a, b in pairwise(counts)]
            print(f"{route}: {high} frames / {low} frames = {growth:.2f} (linear: {high / low:.1f}; goal <= {high / low * 1.1:.1f}); "
                  "memory per added frame " + ", ".join(f"{a}->{b}: {m:.1f} MiB" for (a, b), m in zip(pairwise(counts), per_frame, strict=True))
                  + " (linear: equal; quadratic: doubling)")
        largest = results[high]
        print(f"foreign patch / fold at {high} frames: {largest['foreign patch']['working'] / max(largest['fold']['working'], 1):.3f} (goal <= 1.1)")
    print(f"machine after: {_host.machine_line()}")


if __name__ == "__main__":
    main()
