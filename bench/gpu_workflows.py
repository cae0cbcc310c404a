"""Shipped workflows on a CUDA GPU, as a user runs them: full-size random SD1.5 + v2 module, 512 px.

    COMFYUI_PATH=/path/to/ComfyUI python3 bench/gpu_workflows.py [--size 512] [--modes normal,novram] [--workflows a,b] [--steps N]

Kinema's CI has no GPU; this is the check to run where one is lent. Each memory mode runs in
a fresh process (ComfyUI reads its command line once): ``normal`` (models loaded whole) and
``novram`` (``--novram``: ComfyUI keeps the weights in system RAM and streams them in per
layer, motion LoRAs applied on the way, through Kinema's weight-casting layers). In each, the
shipped workflows run at the workflow's own steps and frames (the long video at 48 frames) on
random real-layout models written on first use. Printed per workflow and mode: success, wall
time, peak GPU memory, the motion model's compute dtype, the video's frames and size, and
whether the decoded video is finite; then the long video's latents are compared across the two
modes (streamed weights must give what loaded weights give). One JSON line per result.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _host import PACK_ROOT, comfyui_path, kinema_home

API = PACK_ROOT / "workflows" / "api"
WORKFLOWS = ("animatediff_txt2vid_sd15", "animatediff_long_video_sd15", "animatediff_cross_frame_sd15", "text2video_zero_txt2vid_sd15")
MODE_ARGS = {"normal": [], "novram": ["--novram"], "lowvram": ["--lowvram"]}
LONG_VIDEO_FRAMES = 48  # three windows of 16 with overlap 4, and then some
# --quick: a smoke run anywhere (CPU included), at the test suite's CPU sizes
QUICK = {"steps": 3, "batch_size": 8, "t0": 1, "t1": 2}


def loaded_motion_dtype() -> str | None:
    import comfy.model_management

    for loaded in comfy.model_management.current_loaded_models:
        if type(loaded.model.model).__name__ == "MotionModuleSet":
            return str(next(loaded.model.model.parameters()).dtype)
    return None


def child(mode: str, size: int, out: Path, quick: bool, workflows: list[str], steps: int | None) -> None:
    from _host import import_comfy

    import_comfy(MODE_ARGS[mode])
    import torch
    from safetensors.torch import load_file

    from fixtures import cache
    from fixtures.sample_inputs import ensure_sample_inputs
    from kinema.runner.embedded import EmbeddedComfy, HostPaths
    from kinema.runner.media import describe_video
    from kinema.runner.prompt_edits import override_inputs, substitute_missing_models

    work = Path(tempfile.mkdtemp(prefix=f"kinema-gpu-{mode}-"))
    host = EmbeddedComfy(HostPaths(comfyui=comfyui_path(), output=work / "output", work=work,
                                   model_dirs=cache.model_dirs(kinema_home()))).boot()
    ensure_sample_inputs(host.input_directory())  # the vid2vid and ControlVideo workflows' clip
    for name in workflows:
        prompt, replaced = substitute_missing_models(json.loads((API / f"{name}.json").read_text()), host.model_installed,
                                                     cache.stand_ins())
        cache.ensure_fixtures(kinema_home(), [cache.fixture_for_file(file) for file in replaced.values()])
        override_inputs(prompt, ("width", "height"), size)
        if name == "animatediff_long_video_sd15":
            override_inputs(prompt, ("batch_size",), LONG_VIDEO_FRAMES if not quick else 20)
            sampler = next(node_id for node_id, node in prompt.items() if node["class_type"] == "KSampler")
            prompt["90"] = {"class_type": "SaveLatent", "inputs": {"samples": [sampler, 0], "filename_prefix": f"gpu_{mode}_long"}}
        if steps is not None:
            override_inputs(prompt, ("steps",), steps)
        for input_name, value in (QUICK.items() if quick else ()):
            if input_name != "batch_size" or name != "animatediff_long_video_sd15":
                override_inputs(prompt, (input_name,), value)
        gpu = torch.cuda.is_available()
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        started = time.perf_counter()
        result = host.run(prompt)
        seconds = time.perf_counter() - started
        report = {"mode": mode, "workflow": name, "ok": result.success, "seconds": round(seconds, 1),
                  "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if gpu else None,
                  "motion_dtype": loaded_motion_dtype()}
        if not result.success:
            report["error"] = result.describe_failure()[-1500:]
        else:
            video = next(path for path in result.files if path.suffix == ".mp4")
            facts = describe_video(video)
            report.update(frames=facts.frames, width=facts.width, height=facts.height)
            latents = [host.output_directory() / entry.get("subfolder", "") / entry["filename"]
                       for output in result.outputs.values() for entry in output.get("latents", [])]
            if latents:
                samples = load_file(str(latents[0]))["latent_tensor"]
                report["latent_finite"] = bool(torch.isfinite(samples).all())
                torch.save(samples, out / f"long_{mode}.pt")
        print("KINEMA-GPU " + json.dumps(report), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--modes", default="normal,novram")
    parser.add_argument("--out", type=Path, default=Path(tempfile.mkdtemp(prefix="kinema-gpu-")))
    parser.add_argument("--quick", action="store_true", help="a smoke run at the test suite's CPU sizes (pass --size 64 too)")
    parser.add_argument("--workflows", default=",".join(WORKFLOWS), help="comma-separated, in order (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps for every workflow (default: each workflow's own)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.child:
        child(args.child, args.size, args.out, args.quick, args.workflows.split(","), args.steps)
        return
    import torch

    print(f"GPU: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none'}, torch {torch.__version__}, "
          f"ComfyUI at {comfyui_path()}", flush=True)
    for mode in args.modes.split(","):
        subprocess.run([sys.executable, __file__, "--child", mode, "--size", str(args.size), "--out", str(args.out),
                        "--workflows", args.workflows, *(["--quick"] if args.quick else []),
                        *(["--steps", str(args.steps)] if args.steps is not None else [])],
                       check=False, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    saved = {mode: args.out / f"long_{mode}.pt" for mode in args.modes.split(",")}
    if len([path for path in saved.values() if path.exists()]) > 1:
        first, *others = [torch.load(path, weights_only=True).float() for path in saved.values() if path.exists()]
        differences = [float((other - first).abs().max()) for other in others]
        print("KINEMA-GPU " + json.dumps({"long_video_max_abs_difference_between_modes": differences,
                                          "reference_scale": float(first.abs().max())}), flush=True)


if __name__ == "__main__":
    main()
