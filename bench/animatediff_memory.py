#!/usr/bin/env python
"""Peak resident memory of AnimateDiff sampling with core context windows, by frame count, on CPU.

Run with the host's Python from the pack root:

    .kinema/hosts/0.8.0/venv/bin/python bench/animatediff_memory.py [--frames 16 32 64 128] [--steps 2] [--no-decode]

Each frame count runs in a fresh child process (RSS never shrinks within a process),
one after the other. The child boots the embedded ComfyUI with the pack loaded and
calls the nodes a txt2vid workflow uses, in order: CheckpointLoaderSimple (random
full-size SD1.5), Load Motion Module (random v2) -> Apply Motion Module -> core
Context Windows (Manual) (length 16, overlap 4, standard_uniform, stride 1, pyramid
fuse) -> CLIPTextEncode x2 -> EmptyLatentImage (64x64 px, batch = frames) -> KSampler
(euler, cfg 7.5) -> VAEDecode. KSampler is the core node, so sampling takes the real
path (comfy.sample.sample -> CFGGuider -> the context handler -> calc_cond_batch).

The child measures the kernel's resident high-water mark (VmHWM, the counter behind
ru_maxrss) per phase, resetting it between phases through /proc/self/clear_refs
(psutil polling where that is not allowed): loading (checkpoint, motion module,
text encoding), sampling, VAE decode. The process peak is the largest of the three.
Context windows keep the UNet batch at 2 x 16 latents whatever the frame count, so
the sampling peak should hardly move with the frame count; VAE decode is ComfyUI's
own and decodes every frame at once when memory allows.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _host  # noqa: E402

RESULT = "KINEMA_BENCH_RESULT "
SIZE = 64
# every input the newest ContextWindowsManual requires; call_node passes a host only the ones it declares
CONTEXT = {"context_length": 16, "context_overlap": 4, "context_schedule": "standard_uniform", "context_stride": 1,
           "closed_loop": False, "fuse_method": "pyramid", "dim": 0, "freenoise": False, "cond_retain_index_list": "",
           "split_conds_to_windows": False, "latent_retain_index_list": "", "causal_window_fix": False}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 32, 64, 128])
    parser.add_argument("--steps", type=int, default=2, help="sampling steps (each runs every context window)")
    parser.add_argument("--size", type=int, default=SIZE, help="image size in px (latent = px / 8)")
    parser.add_argument("--no-decode", action="store_true", help="skip the VAE decode phase")
    parser.add_argument("--child", type=int, metavar="FRAMES", help=argparse.SUPPRESS)
    return parser.parse_args()


# -- peak RSS per phase ---------------------------------------------------------------------
def _status_kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M).group(1))


class PeakMeter:
    """Resident high-water mark of this process since ``reset()``, in bytes."""

    def __init__(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            _status_kib("VmHWM")
            self.method = "VmHWM with /proc/self/clear_refs reset"
        except (OSError, AttributeError):
            self.method = "psutil polling every 2 ms"
        self._poller = None

    @staticmethod
    def current() -> int:
        try:
            return _status_kib("VmRSS") * 1024
        except (OSError, AttributeError):
            import psutil

            return psutil.Process().memory_info().rss

    def reset(self) -> None:
        if self.method.startswith("VmHWM"):
            Path("/proc/self/clear_refs").write_text("5")
            return
        self._stop_poller()
        self._peak = self.current()
        self._running = True

        def poll():
            import psutil

            process = psutil.Process()
            while self._running:
                self._peak = max(self._peak, process.memory_info().rss)
                time.sleep(0.002)

        self._poller = threading.Thread(target=poll, daemon=True)
        self._poller.start()

    def _stop_poller(self) -> None:
        if self._poller is not None:
            self._running = False
            self._poller.join()
            self._poller = None

    def peak(self) -> int:
        if self.method.startswith("VmHWM"):
            return _status_kib("VmHWM") * 1024
        self._stop_poller()
        return max(self._peak, self.current())


# -- child: one frame count -----------------------------------------------------------------
def call_node(node_type: str, **inputs):
    """Run a node's function the way ComfyUI's executor does (V1 method or V3 classmethod); return its outputs."""
    import nodes

    cls = nodes.NODE_CLASS_MAPPINGS[node_type]
    declared = {name for group in cls.INPUT_TYPES().values() if isinstance(group, dict) for name in group}
    inputs = {name: value for name, value in inputs.items() if name in declared}
    if hasattr(cls, "EXECUTE_NORMALIZED"):
        return cls.PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(**inputs).args
    return getattr(cls(), cls.FUNCTION)(**inputs)


def child(frames: int, steps: int, size: int, decode: bool) -> None:
    import logging

    meter = PeakMeter()
    started = time.perf_counter()
    _host.import_comfy()
    files = _host.fixture_files()
    from fixtures import cache
    from kinema.runner.embedded import EmbeddedComfy, HostPaths

    work = Path(tempfile.mkdtemp(prefix="kinema-bench-"))
    EmbeddedComfy(HostPaths(comfyui=_host.comfyui_path(), output=work / "output", work=work,
                            model_dirs=cache.model_dirs(_host.kinema_home()))).boot()
    import torch

    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = Collect(level=logging.INFO)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.INFO)

    peaks = {"boot": meter.peak()}  # interpreter, torch, ComfyUI and the pack imported
    meter.reset()
    model, clip, vae = call_node("CheckpointLoaderSimple", ckpt_name=files["sd15"].name)
    peaks["checkpoint"] = meter.peak()
    meter.reset()
    (motion,) = call_node("KinemaLoadMotionModule", model_name=files["mm_v2"].name)
    (model,) = call_node("KinemaApplyMotionModule", model=model, motion_model=motion, scale=1.0, effect=1.0,
                         beta_schedule="autoselect")
    (model,) = call_node("ContextWindowsManual", model=model, **CONTEXT)
    peaks["motion"] = meter.peak()
    meter.reset()
    (positive,) = call_node("CLIPTextEncode", clip=clip, text="a sailing boat on a stormy sea, waves crashing")
    (negative,) = call_node("CLIPTextEncode", clip=clip, text="blurry, low quality")
    (latent,) = call_node("EmptyLatentImage", width=size, height=size, batch_size=frames)
    peaks["encode"] = meter.peak()
    load_seconds = time.perf_counter() - started

    # every UNet evaluation: its batch (2 guidance chunks x window frames when cond and uncond run together)
    batches: list[int] = []
    unet = model.model.diffusion_model
    hook = unet.register_forward_pre_hook(lambda module, args: batches.append(int(args[0].shape[0])))

    rss_before = meter.current()
    meter.reset()
    t0 = time.perf_counter()
    (samples,) = call_node("KSampler", model=model, seed=42, steps=steps, cfg=7.5, sampler_name="euler",
                           scheduler="normal", positive=positive, negative=negative, latent_image=latent, denoise=1.0)
    sample_seconds = time.perf_counter() - t0
    peaks["sampling"] = meter.peak()
    hook.remove()
    if not torch.isfinite(samples["samples"]).all():
        raise RuntimeError("sampling produced non-finite latents")

    peaks["decode"], decode_seconds = 0, 0.0
    rss_before_decode = meter.current()
    if decode:
        meter.reset()
        t0 = time.perf_counter()
        (images,) = call_node("VAEDecode", vae=vae, samples=samples)
        decode_seconds = time.perf_counter() - t0
        peaks["decode"] = meter.peak()
        if images.shape[0] != frames:
            raise RuntimeError(f"decoded {images.shape[0]} frames, expected {frames}")

    windows_log = [m for m in messages if "context windows" in m.lower()]
    print(RESULT + json.dumps({
        "frames": frames, "steps": steps, "size": size, "method": meter.method,
        "peaks": peaks, "rss_before_sampling": rss_before, "rss_before_decode": rss_before_decode,
        "unet_batches": batches, "windows_log": windows_log[:1],
        "load_s": load_seconds, "sample_s": sample_seconds, "decode_s": decode_seconds,
    }), flush=True)


# -- parent: one fresh process per frame count ----------------------------------------------
def run_child(frames: int, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(frames), "--steps", str(args.steps),
               "--size", str(args.size)] + (["--no-decode"] if args.no_decode else [])
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(RESULT)]
    if completed.returncode or not lines:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"child for {frames} frames failed (exit {completed.returncode})")
    result = json.loads(lines[-1][len(RESULT):])
    result["wall_s"] = time.perf_counter() - started
    return result


def main() -> None:
    args = parse_args()
    if args.child is not None:
        child(args.child, args.steps, args.size, not args.no_decode)
        return
    t_start = time.perf_counter()
    print(f"machine: {_host.machine_line()}")
    print(f"context windows: {CONTEXT}; {args.size}x{args.size} px; {args.steps} steps euler cfg 7.5; "
          f"one fresh process per frame count")
    results = []
    for frames in args.frames:
        result = run_child(frames, args)
        results.append(result)
        print(f"  {frames:>4} frames done in {result['wall_s']:.0f} s", flush=True)

    gib = 1024 ** 3
    print()
    print(f"RSS in GiB; each peak is the high-water mark of one phase ({results[0]['method']})")
    print(f"{'frames':>6} | {'checkpoint':>10} | {'motion mod':>10} | {'RSS before':>10} | {'sampling':>8} | "
          f"{'sampling +':>10} | {'decode':>6} | {'decode +':>8} | {'process':>7} | {'UNet calls/step x batch':>23} | "
          f"{'sample s':>8} | {'decode s':>8}")
    for r in results:
        p = r["peaks"]
        r["process"] = max(p.values())
        calls = len(r["unet_batches"]) // r["steps"]
        shapes = ",".join(str(b) for b in sorted(set(r["unet_batches"])))
        print(f"{r['frames']:>6} | {p['checkpoint'] / gib:>10.3f} | {p['motion'] / gib:>10.3f} | "
              f"{r['rss_before_sampling'] / gib:>10.3f} | {p['sampling'] / gib:>8.3f} | "
              f"{(p['sampling'] - r['rss_before_sampling']) / gib:>10.3f} | {p['decode'] / gib:>6.3f} | "
              f"{max(p['decode'] - r['rss_before_decode'], 0) / gib:>8.3f} | "
              f"{r['process'] / gib:>7.3f} | {f'{calls} x {shapes}':>23} | {r['sample_s']:>8.1f} | {r['decode_s']:>8.1f}")
    print("columns: peak while loading the checkpoint | while Load + Apply Motion Module + Context Windows | RSS "
          "when KSampler starts | peak during KSampler | that peak minus the RSS before it | peak during VAEDecode | "
          "that peak minus the RSS before it | process peak (largest phase, boot and text encoding included)")
    for r in results:
        if r["windows_log"]:
            print(f"  {r['frames']} frames, ComfyUI says: {r['windows_log'][0]}")
    first, last = results[0], results[-1]
    print()
    ratios = {"sampling peak": (first["peaks"]["sampling"], last["peaks"]["sampling"]),
              "sampling working set (peak - RSS before)": (first["peaks"]["sampling"] - first["rss_before_sampling"],
                                                           last["peaks"]["sampling"] - last["rss_before_sampling"]),
              "decode peak": (first["peaks"]["decode"], last["peaks"]["decode"]),
              "decode working set (peak - RSS before)": (first["peaks"]["decode"] - first["rss_before_decode"],
                                                         last["peaks"]["decode"] - last["rss_before_decode"]),
              "process peak": (first["process"], last["process"])}
    for label, (a, b) in ratios.items():
        if a > 0:
            print(f"{label}: peak({last['frames']}) / peak({first['frames']}) = {b / a:.4f}")
    print(f"machine after: {_host.machine_line()}")
    print(f"total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
