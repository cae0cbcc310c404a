#!/usr/bin/env python
"""StoryDiffusion's consistent self-attention: step time in the write and read phases, the bank's size, peak memory.

Run with a host's Python from the pack root:

    .kinema/hosts/0.8.0/venv/bin/python bench/storydiffusion.py [--size 128] [--id-length 3] [--panels 4] [--steps 10] [--repeats 5]

The full-size random SD1.5 in the embedded ComfyUI with ComfyUI's pytorch attention, one
character with ``--id-length`` identity images. One step is one ``apply_model`` call as a
sampler makes it inside a sampling run: 2 guidance chunks (cond, uncond), the clone's wrappers,
``cond_or_uncond``, the run's state (seed and banks) and the step's sigma within the schedule
(``normal``, ``--steps`` steps) in the transformer options. Both gates are 1.0, so consistent
attention acts in every taking-part layer (decoder self-attention at 1/32 and 1/16 of the
image) at every step from step 1 on; sa32 = sa64 = 0.5. Printed, all from this one run:

1. Step time, consistent / plain, in the write phase (the batch of the character's identity
   images: Consistent Self-Attention with keep_bank) and the read phase (a batch of panels
   reading the bank: Consistent Character on that bank), at step 1: median wall and CPU
   seconds of ``--repeats`` interleaved repeats (write consistent, write plain, read
   consistent, read plain, ...) after one warm-up each, and the ratios.
2. The bank after a whole write run of ``--steps`` steps (``Bank.nbytes``) against
   ``expected_bank_bytes`` (the formula, from the rates' expected share of tokens) at sa 0.5,
   and at sa 1.0 over the first 2 steps, where the count is exact.
3. Peak memory of a write run then a read run (``--steps`` steps each) with the bank on the
   CPU and with ``bank_on_cpu`` off (on the device): each in a fresh process, the peak of the
   resident set above the one after a warm-up (the kernel's VmHWM, glibc's mmap threshold
   fixed so freed tensors leave the resident set), and on CUDA torch's peak allocation too.
   On a CPU-only machine the device is the CPU: both placements keep the bank in the same
   memory, so the figures should match; the comparison means something on a GPU. These
   processes run first, while the parent holds no model.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402

PYTORCH_ATTENTION = ["--use-pytorch-cross-attention"]
COND_OR_UNCOND = [1, 0]  # the guidance chunks of one call: cond, then uncond
SEED = 0
SA = 0.5  # sa32 and sa64
GATE = 1.0  # gate_early and gate_late: consistent attention in every taking-part layer at every step >= 1
TIMED_STEP = 1  # step 0 is plain attention by design
EXACT_CHECK_STEPS = 2  # the sa 1.0 bank check: exact at any step count
BANK_LIMIT_GB = 8.0
CHARACTER = "Mira"
CHARACTERS = f"[{CHARACTER}] a young woman with short red hair, green coat"
PLACEMENTS = {"cpu": True, "device": False}  # --child placement -> bank_on_cpu


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=128, help="image size in px (latent = px / 8)")
    parser.add_argument("--id-length", type=int, default=3, help="identity images of the character (the write batch, per chunk)")
    parser.add_argument("--panels", type=int, default=4, help="panels reading the bank (the read batch, per chunk)")
    parser.add_argument("--steps", type=int, default=10, help="steps of the schedule, of the bank's write run and of each memory run")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps of each variant (after one warm-up)")
    parser.add_argument("--child", choices=list(PLACEMENTS), help=argparse.SUPPRESS)
    return parser.parse_args()


# -- shared by the parent and the children -----------------------------------------------------------
def load_plain():
    import comfy.sd

    plain, *_ = comfy.sd.load_checkpoint_guess_config(str(_host.fixture_files()["sd15"]), output_vae=False, output_clip=False)
    return plain


def compute_dtype(patcher):
    """The dtype the UNet computes in, which the banked hidden states have."""
    model = patcher.model
    return getattr(model, "manual_cast_dtype", None) or model.get_dtype()


def story(args: argparse.Namespace):
    from kinema.storydiffusion import parse_story

    lines = [f"[{CHARACTER}] identity image {i + 1}" for i in range(args.id_length)]
    lines += [f"[{CHARACTER}] panel {i + 1} #Panel {i + 1}." for i in range(args.panels)]
    return parse_story(CHARACTERS, "\n".join(lines), args.id_length)


def story_models(plain, args: argparse.Namespace, sa: float = SA, bank_on_cpu: bool = True, keep_bank: bool = True):
    """(write model, its bank, read model): Consistent Self-Attention on the story and Consistent Character on its bank."""
    import torch

    from kinema.nodes.storydiffusion_nodes import ConsistentCharacter, ConsistentSelfAttentionNode

    write, character_bank = ConsistentSelfAttentionNode.execute(plain, story(args), sa, sa, GATE, GATE, 1, keep_bank, bank_on_cpu,
                                                                BANK_LIMIT_GB).args
    if not keep_bank:
        return write, None, None
    identity_latent = {"samples": torch.zeros(args.id_length, 4, args.size // 8, args.size // 8)}
    read = ConsistentCharacter.execute(plain, character_bank, identity_latent, CHARACTER).args[0]
    return write, character_bank.bank, read


class Calls:
    """UNet calls of one sampling run: the write batch (identity images) or the read batch (panels) at a step."""

    def __init__(self, plain, args: argparse.Namespace):
        import comfy.model_management
        import comfy.samplers
        import torch

        self.device = comfy.model_management.get_torch_device()
        self.sigmas = comfy.samplers.calculate_sigmas(plain.get_model_object("model_sampling"), "normal", args.steps).float().cpu()
        generator = torch.Generator().manual_seed(0)
        chunks, latent = len(COND_OR_UNCOND), args.size // 8
        text = torch.randn(2, 77, 768, generator=generator)  # one prompt per guidance kind (0 cond, 1 uncond)
        self.x, self.context = {}, {}
        for phase, frames in (("write", args.id_length), ("read", args.panels)):
            self.x[phase] = torch.randn(chunks * frames, 4, latent, latent, generator=generator).to(self.device)
            self.context[phase] = text[COND_OR_UNCOND].repeat_interleave(frames, 0).to(self.device)

    @staticmethod
    def load(patcher) -> None:
        import comfy.model_management

        comfy.model_management.load_models_gpu([patcher])

    def __call__(self, patcher, phase: str, step: int):
        """One UNet call at ``step`` (the model loaded: ``load``)."""
        import torch

        from kinema.frame_attention import RUN_OPTION, RunState
        from kinema.nodes.frame_attention_binding import model_patch

        x = self.x[phase]
        patch = model_patch(patcher)
        options = {**patcher.model_options["transformer_options"], "wrappers": patcher.wrappers, "cond_or_uncond": list(COND_OR_UNCOND),
                   "sigmas": self.sigmas[step:step + 1].to(self.device), "sample_sigmas": self.sigmas,
                   RUN_OPTION: RunState(seed=SEED, banks=patch.banks if patch is not None else {})}
        with torch.inference_mode():
            out = patcher.model.apply_model(x, self.sigmas[step].expand(x.shape[0]).to(self.device), c_crossattn=self.context[phase],
                                            transformer_options=options)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return out


# -- in a child ------------------------------------------------------------------------------------
def child(placement: str, args: argparse.Namespace) -> None:
    """Peak memory of a write run then a read run (``--steps`` each), the bank kept as ``placement`` says."""
    _host.import_comfy(PYTORCH_ATTENTION)
    import torch

    plain = load_plain()
    calls = Calls(plain, args)
    cuda = torch.cuda.is_available()
    extra: dict = {}

    def warm_up():
        # weights loaded and first-touch allocations made at both batch sizes, and consistent attention's path run once,
        # without a bank (anything banked here would stay resident and hide the bank's growth from the peak)
        calls.load(plain)
        calls(plain, "write", TIMED_STEP)
        calls(plain, "read", TIMED_STEP)
        write, _, _ = story_models(plain, args, keep_bank=False)
        calls.load(write)
        return calls(write, "write", TIMED_STEP)

    def make_run():
        write, bank, read = story_models(plain, args, bank_on_cpu=PLACEMENTS[placement])
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            extra["cuda_before"] = torch.cuda.memory_allocated()

        def run():
            calls.load(write)
            for step in range(args.steps):
                calls(write, "write", step)
            calls.load(read)
            for step in range(args.steps):
                out = calls(read, "read", step)
            extra["bank_bytes"] = bank.nbytes
            return out

        return run

    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        _host.report_peak(warm_up=warm_up, make_run=make_run)
    line = next(line for line in reversed(captured.getvalue().splitlines()) if line.startswith(_host.CHILD_RESULT))
    if cuda:
        extra["cuda_peak"] = torch.cuda.max_memory_allocated()
    _host.report_child_result({**json.loads(line[len(_host.CHILD_RESULT):]), **extra, "device": str(calls.device)})


# -- in the parent ----------------------------------------------------------------------------------
def interleaved_times(variants: dict, repeats: int) -> dict[str, dict[str, float]]:
    """Median wall and CPU seconds of each (patcher, phase) variant, round-robin after one warm-up of each; the model is
    loaded (ComfyUI's load_models_gpu) outside the timed region."""
    calls = variants.pop("calls")
    for patcher, phase in variants.values():
        calls.load(patcher)
        calls(patcher, phase, TIMED_STEP)
    wall, cpu = {name: [] for name in variants}, {name: [] for name in variants}
    for _ in range(repeats):
        for name, (patcher, phase) in variants.items():
            calls.load(patcher)
            started, started_cpu = time.perf_counter(), time.process_time()
            calls(patcher, phase, TIMED_STEP)
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - started_cpu)
    return {"wall": {n: statistics.median(v) for n, v in wall.items()}, "cpu": {n: statistics.median(v) for n, v in cpu.items()}}


def check_ab(calls: Calls, plain, models: dict) -> None:
    """The consistent models must change the output (else the A/B measures nothing)."""
    import torch

    for phase, model in models.items():
        calls.load(plain)
        reference = calls(plain, phase, TIMED_STEP)
        calls.load(model)
        if torch.allclose(calls(model, phase, TIMED_STEP), reference, atol=1e-4):
            raise RuntimeError(f"{phase} phase: the consistent model gives the plain output; the A/B is not what it claims")


def bank_row(plain, calls: Calls, args: argparse.Namespace, sa: float, steps: int, element_bytes: int) -> tuple:
    """(measured bytes, entries, expected bytes) of the bank after a write run over the schedule's first ``steps`` steps."""
    from kinema.storydiffusion import SD15_LAYERS, expected_bank_bytes

    write, bank, _ = story_models(plain, args, sa=sa)
    calls.load(write)
    for step in range(steps):
        calls(write, "write", step)
    expected = expected_bank_bytes(SD15_LAYERS, {32: sa, 16: sa}, args.size, args.size, steps, args.id_length,
                                   guidance_chunks=len(COND_OR_UNCOND), element_bytes=element_bytes)
    return bank.nbytes, len(bank), expected


def measure_memory(placement: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", placement, "--size", str(args.size),
               "--id-length", str(args.id_length), "--panels", str(args.panels), "--steps", str(args.steps)]
    return _host.run_measuring_child(command, f"memory/{placement}")


def main() -> None:
    args = parse_args()
    if args.child:
        child(args.child, args)
        return
    started = time.perf_counter()
    print(f"machine: {_host.machine_line()}")
    # the memory children first, while this process holds no model (two full-size UNets at once would crowd the machine)
    memory = {placement: measure_memory(placement, args) for placement in PLACEMENTS}
    attention = _host.import_comfy(PYTORCH_ATTENTION)
    import comfy.model_management
    import torch

    try:
        import comfyui_version

        version = comfyui_version.__version__
    except ImportError:
        version = "unknown"
    plain = load_plain()
    calls = Calls(plain, args)
    dtype = compute_dtype(plain)
    element_bytes = torch.empty((), dtype=dtype).element_size()
    chunks = len(COND_OR_UNCOND)
    print(f"host: ComfyUI {version} ({_host.comfyui_path()}), attention: {'; '.join(attention) or 'n/a'}")
    print(f"device: {calls.device} ({comfy.model_management.get_torch_device_name(calls.device)}), UNet dtype {dtype} "
          f"({element_bytes} bytes)")
    print(f"full-size random SD1.5, {args.size} px (latent {args.size // 8}), {chunks} guidance chunks, schedule 'normal' of "
          f"{args.steps} steps; write batch {chunks} x {args.id_length} identity images, read batch {chunks} x {args.panels} "
          f"panels; sa32 = sa64 = {SA}, gate_early = gate_late = {GATE} (consistent attention in every taking-part layer "
          f"from step 1 on)")

    write, _, read = story_models(plain, args)
    calls.load(write)
    calls(write, "write", TIMED_STEP)  # bank the identity tokens of the timed step for the read phase
    check_ab(calls, plain, {"write": write, "read": read})
    print(f"\n1. one UNet step at step {TIMED_STEP}, consistent / plain: median of {args.repeats} interleaved repeats")
    times = interleaved_times({"calls": calls, "write consistent": (write, "write"), "write plain": (plain, "write"),
                               "read consistent": (read, "read"), "read plain": (plain, "read")}, args.repeats)
    print(f"{'phase':>6} | {'batch':>5} | {'plain s':>8} | {'consistent s':>12} | {'wall ratio':>10} | {'CPU ratio':>9}")
    for phase, frames in (("write", args.id_length), ("read", args.panels)):
        wall, cpu = times["wall"], times["cpu"]
        print(f"{phase:>6} | {chunks * frames:>5} | {wall[phase + ' plain']:>8.3f} | {wall[phase + ' consistent']:>12.3f} | "
              f"{wall[phase + ' consistent'] / wall[phase + ' plain']:>10.3f} | "
              f"{cpu[phase + ' consistent'] / cpu[phase + ' plain']:>9.3f}")
    del write, read

    print(f"\n2. the bank after a write run ({args.id_length} identity images, {chunks} chunks, {element_bytes}-byte elements) "
          "against expected_bank_bytes(SD15_LAYERS, ...)")
    print(f"{'sa':>4} | {'steps':>5} | {'entries':>7} | {'measured bytes':>14} | {'expected bytes':>14} | {'measured MiB':>12} | "
          f"{'measured / expected':>19}")
    for sa, steps in ((SA, args.steps), (1.0, EXACT_CHECK_STEPS)):
        measured, entries, expected = bank_row(plain, calls, args, sa, steps, element_bytes)
        print(f"{sa:>4} | {steps:>5} | {entries:>7} | {measured:>14} | {expected:>14.0f} | {measured / 2**20:>12.3f} | "
              f"{measured / expected:>19.4f}")
    print("(at sa < 1 the sampled token count is random, so the ratio scatters around 1; at sa 1.0 every token is banked and "
          "it is exact)")
    del plain, calls

    mib = 2**20
    print(f"\n3. peak memory of a write run then a read run ({args.steps} steps each), one fresh process per bank placement "
          "(run before the sections above)")
    results = memory
    device = results["device"]["device"]
    print(f"bank placement | {'RSS before MiB':>14} | {'peak MiB':>9} | {'peak - before MiB':>17} | {'bank MiB':>8} | {'run s':>7}"
          + (f" | {'CUDA peak - before MiB':>22}" if "cuda_peak" in results["cpu"] else ""))
    for placement, r in results.items():
        where = "CPU" if placement == "cpu" else f"device ({device})"
        line = (f"{where:>14} | {r['before'] / mib:>14.1f} | {r['peak'] / mib:>9.1f} | {(r['peak'] - r['before']) / mib:>17.1f} | "
                f"{r['bank_bytes'] / mib:>8.2f} | {r['seconds']:>7.1f}")
        if "cuda_peak" in r:
            line += f" | {(r['cuda_peak'] - r['cuda_before']) / mib:>22.1f}"
        print(line)
    cpu_run, device_run = results["cpu"], results["device"]
    print(f"device / CPU, resident peak above before: "
          f"{(device_run['peak'] - device_run['before']) / max(cpu_run['peak'] - cpu_run['before'], 1):.3f}")
    if "cuda_peak" in device_run:
        print(f"device / CPU, CUDA peak allocation above before: "
              f"{(device_run['cuda_peak'] - device_run['cuda_before']) / max(cpu_run['cuda_peak'] - cpu_run['cuda_before'], 1):.3f}")
    if not device.startswith("cuda"):
        print(f"(the device is {device} here: with bank_on_cpu off the bank stays where the model runs, which is the CPU too, so "
              "both runs keep it in the same memory and should match; the comparison is meaningful on a GPU, where the bank "
              "on the device shows in the CUDA peak and not in the resident set)")
    print(f"\nmachine after: {_host.machine_line()}; the whole run took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
