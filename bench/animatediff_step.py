#!/usr/bin/env python
"""Time one UNet step of the inflated (AnimateDiff) SD1.5 UNet against the plain UNet, on CPU.

Run with the host's Python from the pack root:

    .kinema/hosts/0.8.0/venv/bin/python bench/animatediff_step.py [--sizes 64 128] [--repeats 7] [--module-repeats 7]

One step = one ``apply_model`` call the way a sampler makes it with cfg > 1: a batch
of 2 guidance chunks (cond, uncond) x 16 frames = 32 latents, ``cond_or_uncond`` in
the transformer options, weights already loaded. The models are the full-size
random-weight SD1.5 checkpoint and v2 motion module of the test fixtures (fp32, the
dtype ComfyUI runs on CPU).

Plain and inflated steps are measured interleaved (A B A B ...) after one warm-up of
each, so drift from other load on the machine hits both alike; the table gives the
median of the repeats and ratio = inflated / plain. The FLOP floor is the ratio of
matmul/conv/attention FLOPs (``torch.utils.flop_counter.FlopCounterMode``) of the same
two calls: the slowdown the motion modules would cost if they ran at the UNet's
average FLOP rate. measured / floor > 1 is time beyond that: overhead (copies,
elementwise ops, attention) and the lower FLOP rate of linear GEMMs compared with
the UNet's convolutions on CPU (FLOPs by operator are printed to check this).

A second table times the 21 motion modules alone on the activations they receive
in that step, once with torch's ``scaled_dot_product_attention`` (the network's
default) and once with ComfyUI's ``optimized_attention`` (what ``comfy_glue.attention.attention_for``
routes to), and the bare attention calls of both, so one can see whether the
attention backend matters on CPU.

What users wait for is the step inside a sampler (bench/animatediff_sampler_step.py).
A direct call like this one has timed the plain UNet slower than the sampler's own step
in one process and as fast in another: not the call but the state of glibc's allocator
differed, which decides whether the UNet's temporaries come from its heap or from
freshly mapped pages on every call (the sampler bench prints the minor page faults per
step that tell the two apart). Compare figures of the two only from the same state.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402

FRAMES = 16
CHUNKS = 2  # cond + uncond


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="image sizes in px (latent = px / 8)")
    parser.add_argument("--repeats", type=int, default=7, help="timed steps of each model per size (after one warm-up)")
    parser.add_argument("--module-repeats", type=int, default=7, help="timed passes of the motion modules per backend")
    parser.add_argument("--frames", type=int, default=FRAMES)
    return parser.parse_args()


# -- one UNet step, as a sampler makes it ---------------------------------------------------
class Stepper:
    def __init__(self, frames: int, latent: int):
        import torch

        batch = CHUNKS * frames
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(batch, 4, latent, latent, generator=generator)
        self.context = torch.randn(CHUNKS, 77, 768, generator=generator).repeat_interleave(frames, dim=0)
        self.sigma = torch.full((batch,), 2.0)

    @staticmethod
    def load(patcher) -> None:
        """What the sampler does before its steps: ComfyUI loads the patcher (and injects the motion slots)."""
        import comfy.model_management

        comfy.model_management.load_models_gpu([patcher])

    def run(self, patcher):
        import torch

        options = {**patcher.model_options["transformer_options"], "cond_or_uncond": list(range(CHUNKS)),
                   "wrappers": patcher.wrappers}  # as sampling merges the clone's wrappers in
        with torch.inference_mode():
            return patcher.model.apply_model(self.x, self.sigma, c_crossattn=self.context, transformer_options=options)

    def timed(self, patcher) -> float:
        self.load(patcher)  # switching between the clones is ComfyUI's work, not the step's: not timed
        started = time.perf_counter()
        self.run(patcher)
        return time.perf_counter() - started


def count_flops(fn) -> tuple[int, dict[str, int]]:
    """Matmul, conv and attention FLOPs of ``fn()``, total and by operator (CPU SDPA and oneDNN's linear product
    too: torch has no formula for them).

    Raises if ``fn()`` returns a tensor with non-finite values (random weights must still give sane activations).
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    from kinema.motion_modules.onednn_linear import ONEDNN_LINEAR

    def cpu_sdpa(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs):
        return sdpa_flop_count(query_shape, key_shape, value_shape)

    def onednn_linear(x_shape, weight_shape, *args, out_shape=None, **kwargs):
        out_features, in_features = weight_shape
        return 2 * math.prod(x_shape[:-1]) * in_features * out_features  # as torch counts F.linear's addmm

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    if ONEDNN_LINEAR is not None:  # the motion modules' product on x86-64 CPUs
        mapping[ONEDNN_LINEAR.overloadpacket] = onednn_linear
    with torch.inference_mode(), FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        result = fn()
    if isinstance(result, torch.Tensor) and not torch.isfinite(result).all():
        raise RuntimeError("the UNet output is not finite: timings would not be representative")
    by_op = {str(op).split(".")[-1]: n for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return counter.get_total_flops(), by_op


def motion_slot_count(patcher) -> int:
    """Motion-module hooks on the loaded UNet's layers (one per module while an inflated clone is loaded)."""
    from kinema.comfy_glue.patcher import diffusion_model

    return sum(hook.__qualname__.startswith("hook_slots.") for module in diffusion_model(patcher).modules()
               for hook in module._forward_hooks.values())


# -- motion modules alone -------------------------------------------------------------------
def capture_module_inputs(stepper: Stepper, inflated, motion_set) -> list[tuple]:
    """(module, x, frames, scale, effect) for every motion-module call of one inflated step."""
    from kinema.motion_modules.network import MotionModule

    calls = []

    def hook(module, args, kwargs):
        calls.append((module, args[0].clone(), kwargs["frames"], kwargs.get("scale", 1.0), kwargs.get("effect", 1.0)))

    handles = [m.register_forward_pre_hook(hook, with_kwargs=True) for m in motion_set.modules() if isinstance(m, MotionModule)]
    try:
        stepper.load(inflated)
        stepper.run(inflated)
    finally:
        for handle in handles:
            handle.remove()
    return calls


def run_modules(calls, attention) -> None:
    import torch

    with torch.inference_mode():
        for module, x, frames, scale, effect in calls:
            module(x, frames=frames, scale=scale, effect=effect, attention=attention)


def attention_inputs(calls) -> list[tuple]:
    """Random q, k, v of the shapes each temporal attention sees: [(b h w), f, c], two attentions per module."""
    import torch

    generator = torch.Generator().manual_seed(0)
    out = []
    for module, x, frames, _, _ in calls:
        bf, c, h, w = x.shape
        heads = module.temporal_transformer.transformer_blocks[0].attention_blocks[0].heads
        for _ in module.temporal_transformer.transformer_blocks[0].attention_blocks:
            q, k, v = (torch.randn(bf // frames * h * w, frames, c, generator=generator) for _ in range(3))
            out.append((q, k, v, heads))
    return out


def run_attention(inputs, attention) -> None:
    import torch

    with torch.inference_mode():
        for q, k, v, heads in inputs:
            attention(q, k, v, heads)


def interleaved(variants: dict, repeats: int) -> dict[str, float]:
    """Median seconds of each zero-argument callable, measured round-robin after one warm-up of each.

    The fastest repeat of each is returned too, as ``"<name> min"``.
    """
    for fn in variants.values():
        fn()
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    return {**{name: statistics.median(values) for name, values in times.items()},
            **{f"{name} min": min(values) for name, values in times.items()}}


def measure_size(size: int, args: argparse.Namespace, plain, inflated, motion_set) -> tuple[tuple, tuple]:
    import comfy.ldm.modules.attention as comfy_attention

    from kinema.comfy_glue.attention import attention_for
    from kinema.motion_modules.network import sdpa_attention

    stepper = Stepper(args.frames, size // 8)
    stepper.load(inflated)
    slots_inflated = motion_slot_count(inflated)
    flops_inflated, ops_inflated = count_flops(lambda: stepper.run(inflated))
    stepper.load(plain)
    slots_plain = motion_slot_count(plain)
    flops_plain, ops_plain = count_flops(lambda: stepper.run(plain))
    if slots_plain or slots_inflated != len(motion_set.modules_by_name()):
        raise RuntimeError(f"motion slots: plain {slots_plain}, inflated {slots_inflated}: the A/B is not plain vs inflated")

    started = time.perf_counter()
    stepper.timed(plain)  # warm-up of each
    stepper.timed(inflated)
    times = {"plain": [], "inflated": []}
    for _ in range(args.repeats):  # A B A B ...
        times["plain"].append(stepper.timed(plain))
        times["inflated"].append(stepper.timed(inflated))
    medians = {name: statistics.median(values) for name, values in times.items()}
    step_row = (size, medians["plain"], medians["inflated"], flops_plain, flops_inflated, times, time.perf_counter() - started,
                ops_plain, ops_inflated)

    calls = capture_module_inputs(stepper, inflated, motion_set)
    flops_modules, _ = count_flops(lambda: run_modules(calls, attention_for({})))
    attn_in = attention_inputs(calls)
    modules = interleaved({
        "sdpa": lambda: run_modules(calls, sdpa_attention),
        "comfy": lambda: run_modules(calls, attention_for({})),
    }, args.module_repeats)
    attention = interleaved({
        "sdpa": lambda: run_attention(attn_in, sdpa_attention),
        "comfy": lambda: run_attention(attn_in, attention_for({})),
        # other ComfyUI backends: its own SDPA wrapper, and what optimized_attention_for_device(small_input=True) gives on CPU
        "attention_pytorch": lambda: run_attention(attn_in, comfy_attention.attention_pytorch),
        "attention_basic": lambda: run_attention(attn_in, comfy_attention.attention_basic),
    }, args.module_repeats)
    return step_row, (size, len(calls), modules, attention, flops_modules)


def main() -> None:
    args = parse_args()
    t_start = time.perf_counter()
    attention_log = _host.import_comfy()
    files = _host.fixture_files()

    import comfy.ldm.modules.attention as comfy_attention
    import comfy.model_management
    import comfy.sd

    from kinema.comfy_glue.layers import motion_module_dtype, weight_casting_layers
    from kinema.comfy_glue.patcher import wrap_in_patcher
    from kinema.motion_modules.formats import load_motion_module
    from kinema.motion_modules.injection import MotionSettings
    from kinema.nodes.motion_attach import attach_motion_modules

    print(f"machine: {_host.machine_line()}")
    print(f"ComfyUI attention: optimized_attention = {comfy_attention.optimized_attention.__name__}"
          f"  (log: {' | '.join(attention_log) or 'none'})")

    plain, *_ = comfy.sd.load_checkpoint_guess_config(str(files["sd15"]), output_vae=False, output_clip=False)
    # layers and dtype as the Load Motion Module node has them
    motion_set, info = load_motion_module(files["mm_v2"], weight_casting_layers())
    motion_set = motion_set.to(motion_module_dtype())
    inflated = attach_motion_modules(plain, wrap_in_patcher(motion_set), MotionSettings(pe_length=info.pe_length))
    print(f"models: {files['sd15'].name} (unet {plain.model_dtype()}), {files['mm_v2'].name} "
          f"({info.family}, {len(motion_set.modules_by_name())} modules, {next(motion_set.parameters()).dtype}); "
          f"batch {CHUNKS} chunks x {args.frames} frames; loaded in {time.perf_counter() - t_start:.0f} s")

    step_rows, module_rows = [], []
    for size in args.sizes:
        step_row, module_row = measure_size(size, args, plain, inflated, motion_set)
        step_rows.append(step_row)
        module_rows.append(module_row)

    print()
    print(f"One UNet step, batch {CHUNKS} x {args.frames} frames, median of {args.repeats} interleaved repeats")
    print(f"{'size':>9} | {'plain s/step':>12} | {'inflated s/step':>15} | {'measured ratio':>14} | "
          f"{'FLOP floor ratio':>16} | {'measured/floor':>14}")
    for size, t_plain, t_inflated, f_plain, f_inflated, *_ in step_rows:
        measured, floor = t_inflated / t_plain, f_inflated / f_plain
        print(f"{size:>3}x{size:<3}px | {t_plain:>12.3f} | {t_inflated:>15.3f} | {measured:>13.3f}x | "
              f"{floor:>15.3f}x | {measured / floor:>14.3f}")
    print()
    print("raw repeats (s) and FLOPs:")
    for size, _, _, f_plain, f_inflated, times, seconds, ops_plain, ops_inflated in step_rows:
        print(f"  {size}px plain    {' '.join(f'{t:.3f}' for t in times['plain'])}   {f_plain / 1e12:.3f} TFLOP")
        paired = statistics.median(b / a for a, b in zip(times["plain"], times["inflated"], strict=True))
        print(f"  {size}px inflated {' '.join(f'{t:.3f}' for t in times['inflated'])}   {f_inflated / 1e12:.3f} TFLOP")
        for label, ops in (("plain", ops_plain), ("inflated", ops_inflated)):
            print(f"  {size}px {label} GFLOP by op: " + ", ".join(f"{op} {n / 1e9:.1f}" for op, n in sorted(ops.items())))
        print(f"  {size}px median of the paired ratios {paired:.3f}x, ratio of the minima "
              f"{min(times['inflated']) / min(times['plain']):.3f}x   ({seconds:.0f} s for this size)")

    print()
    print(f"Motion modules alone on the step's activations (median of {args.module_repeats}); "
          f"'comfy' = optimized_attention = {comfy_attention.optimized_attention.__name__}")
    print(f"{'size':>9} | {'calls':>5} | {'modules sdpa s':>14} | {'modules comfy s':>15} | {'comfy/sdpa':>10} | "
          f"{'attn sdpa s':>11} | {'attn comfy s':>12} | {'comfy/sdpa':>10} | {'modules GFLOP':>13} | {'infl-plain s':>12}")
    for (size, n, modules, attention, f_modules), row in zip(module_rows, step_rows, strict=True):
        print(f"{size:>3}x{size:<3}px | {n:>5} | {modules['sdpa']:>14.3f} | {modules['comfy']:>15.3f} | "
              f"{modules['comfy'] / modules['sdpa']:>9.3f}x | {attention['sdpa']:>11.4f} | {attention['comfy']:>12.4f} | "
              f"{attention['comfy'] / attention['sdpa']:>9.3f}x | {f_modules / 1e9:>13.1f} | {row[2] - row[1]:>12.3f}")
    print("fastest repeats (s): " + "; ".join(
        f"{size}px modules sdpa {m['sdpa min']:.3f} comfy {m['comfy min']:.3f}, attention sdpa {a['sdpa min']:.4f} "
        f"comfy {a['comfy min']:.4f}" for size, _, m, a, _ in module_rows))
    print("bare attention with other ComfyUI backends (median s): " + "; ".join(
        f"{size}px attention_pytorch {a['attention_pytorch']:.4f}, attention_basic {a['attention_basic']:.4f}"
        for size, _, _, a, _ in module_rows))
    print("infl-plain = median inflated step - median plain step: what the motion modules cost inside a step")
    print()
    print(f"machine after: {_host.machine_line()}")
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
