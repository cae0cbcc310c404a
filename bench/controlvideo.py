#!/usr/bin/env python
"""ControlVideo on CPU: memory by frame count, the cost of all-frames attention and of the smoother, long videos.

Run with a host's Python from the pack root:

    .kinema/hosts/0.8.0/venv/bin/python bench/controlvideo.py [--frames 8 16 32] [--long 48 100] [--size 128]

The full-size random SD1.5 (CheckpointLoaderSimple's loader, its VAE included) with the
nodes a ControlVideo graph uses: Fully Cross-Frame Attention on the model, core's "ddim"
sampler or the Interleaved-Frame Smoother (optical flow, decode_batch 4), ControlVideo Long
Video for the hierarchical sampler; sampled through core's sample_custom (CFGGuider, cfg
12.5, two guidance chunks), the same noise for every frame. Printed, all from this one run:

1. Peak working memory (above the resident set after a one-frame warm-up; the kernel's
   VmHWM, each figure in a fresh process, glibc's mmap threshold fixed so freed tensors leave
   the resident set; ComfyUI's pytorch attention) of one sampling step and of a whole
   5-step smoother run (both smoothing passes fire, at steps 3 and 4) at each frame count,
   and the ratio of the largest to the smallest (linear: their ratio; goal for the step:
   at most that x 1.1).
2. Seconds of one step with all-frames attention over the plain model at 16 frames
   (median of 3, interleaved).
3. One smoother firing (decode, interpolate, encode) in UNet steps at 16 frames: the
   smoother run minus a plain DDIM run of the same 5 steps, halved, over one step.
4. Long videos: the peak of a 2-step hierarchical run at each --long length against a
   plain all-frames run of its largest pass (goal: the long video's peak stays at that
   level, not growing with its length).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402

CFG = 12.5
PYTORCH_ATTENTION = ["--use-pytorch-cross-attention"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--long", type=int, nargs="+", default=[48, 100], help="long-video lengths (hierarchical sampler)")
    parser.add_argument("--size", type=int, default=128, help="image size in px (latent = px / 8)")
    parser.add_argument("--child", nargs=2, metavar=("JOB", "FRAMES"), help=argparse.SUPPRESS)
    return parser.parse_args()


# -- in the child ---------------------------------------------------------------------------------
def load():
    import comfy.sd

    model, _, vae, _ = comfy.sd.load_checkpoint_guess_config(str(_host.fixture_files()["sd15"]), output_vae=True, output_clip=False)
    return model, vae


def sampler_of(job: str, vae):
    import comfy.samplers

    if job in ("smoother",):
        from kinema.nodes.controlvideo_smoother_nodes import InterleavedFrameSmoother

        return InterleavedFrameSmoother.execute(vae, 0.6, 0.62, 4).args[0]
    return comfy.samplers.sampler_object("ddim")


def model_of(job: str, model, frames: int):
    """The model a job samples; for the long video's reference figure, ``frames`` is the clip length whose largest pass it runs."""
    from kinema.controlvideo import hierarchical_layout
    from kinema.nodes.controlvideo_nodes import FullyCrossFrameAttention, HierarchicalLongVideo

    if job == "plain":
        return model, frames
    if job == "long":
        return HierarchicalLongVideo.execute(model, 0, "both key frames").args[0], frames
    if job == "largest-pass":
        return FullyCrossFrameAttention.execute(model).args[0], hierarchical_layout(frames).largest_pass
    return FullyCrossFrameAttention.execute(model).args[0], frames


STEPS = {"step": 1, "plain": 1, "smoother": 5, "ddim5": 5, "long": 2, "largest-pass": 2}


def run_job(job: str, model, vae, frames: int, size: int):
    """A zero-argument callable sampling ``frames`` frames as the job asks."""
    import comfy.model_management
    import comfy.sample
    import comfy.samplers
    import torch

    sampled, count = model_of(job, model, frames)
    sampler = sampler_of(job, vae)
    sigmas = comfy.samplers.calculate_sigmas(sampled.get_model_object("model_sampling"), "ddim_uniform", STEPS[job]).cpu()
    generator = torch.Generator().manual_seed(0)
    positive = [[torch.randn(1, 77, 768, generator=generator), {}]]
    negative = [[torch.randn(1, 77, 768, generator=generator), {}]]
    latent = torch.zeros(count, 4, size // 8, size // 8)
    # [1, 4, h, w] -> [F, 4, h, w]: ControlVideo's same noise for every frame
    noise = torch.randn(1, 4, size // 8, size // 8, generator=generator).repeat(count, 1, 1, 1)
    comfy.model_management.load_models_gpu([sampled])

    def run():
        with torch.inference_mode():
            return comfy.sample.sample_custom(sampled, noise, CFG, sampler, sigmas, positive, negative, latent,
                                              disable_pbar=True, seed=0)

    return run


def child(job: str, frames: int, size: int) -> None:
    _host.import_comfy(PYTORCH_ATTENTION)
    model, vae = load()
    # warm-up at one frame: weights loaded, first-touch allocations made, nothing sized by the frame count kept
    warm = run_job("plain" if job in ("plain", "ddim5") else "step", model, vae, 1, size)
    _host.report_peak(warm_up=warm, make_run=lambda: run_job(job, model, vae, frames, size))


# -- in the parent ----------------------------------------------------------------------------------
def measure(job: str, frames: int, size: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", job, str(frames), "--size", str(size)]
    result = _host.run_measuring_child(command, f"{job}/{frames}")
    return {**result, "working": (result["peak"] - result["before"]) / 2**20}


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.size)
        return
    from pack_import import import_pack

    import_pack()  # the core packages only: the parent never imports ComfyUI
    from kinema.controlvideo import hierarchical_layout

    print(f"machine: {_host.machine_line()}")
    print(f"{args.size} px, cfg {CFG} (2 guidance chunks), ComfyUI's pytorch attention; working memory in MiB")

    print("\n1. memory by frame count: one step | a 5-step smoother run (two firings)")
    memory = {frames: (measure("step", frames, args.size), measure("smoother", frames, args.size)) for frames in args.frames}
    for frames, (step, whole) in memory.items():
        print(f"{frames:>4} frames | step {step['working']:>8.1f} | sampling {whole['working']:>8.1f}")
    low, high = min(args.frames), max(args.frames)
    for index, name in enumerate(("step", "sampling")):
        growth = memory[high][index]["working"] / max(memory[low][index]["working"], 1e-9)
        goal = f"; goal <= {high / low * 1.1:.1f}" if name == "step" else ""
        print(f"{name}: {high} / {low} frames = {growth:.2f} (linear: {high / low:.1f}{goal})")

    print("\n2. one step at 16 frames, all-frames attention over the plain model (median of 3, interleaved)")
    times = {"step": [], "plain": []}
    for _ in range(3):
        for job in times:
            times[job].append(measure(job, 16, args.size)["seconds"])
    ratio = statistics.median(times["step"]) / statistics.median(times["plain"])
    print(f"all-frames {statistics.median(times['step']):.2f} s / plain {statistics.median(times['plain']):.2f} s = {ratio:.2f}")

    print("\n3. one smoother firing at 16 frames, in UNet steps (fully cross-frame model)")
    smoother, ddim = measure("smoother", 16, args.size)["seconds"], measure("ddim5", 16, args.size)["seconds"]
    per_step = ddim / STEPS["ddim5"]
    print(f"smoother run {smoother:.2f} s, plain DDIM run {ddim:.2f} s ({per_step:.2f} s per step): "
          f"one firing = {(smoother - ddim) / 2:.2f} s = {(smoother - ddim) / 2 / per_step:.2f} UNet steps")

    print("\n4. long videos (hierarchical sampler, 2 steps) against a fully cross-frame run of their largest pass")
    for length in args.long:
        layout = hierarchical_layout(length)
        long_run, largest = measure("long", length, args.size), measure("largest-pass", length, args.size)
        print(f"{length:>4} frames: {len(layout.key_frames)} key frames, largest pass {layout.largest_pass} frames | "
              f"long video {long_run['working']:>8.1f} | largest pass alone {largest['working']:>8.1f} | "
              f"ratio {long_run['working'] / max(largest['working'], 1e-9):.2f} (goal: about 1) | {long_run['seconds']:.1f} s")
    print(f"\nmachine after: {_host.machine_line()}")


if __name__ == "__main__":
    main()
