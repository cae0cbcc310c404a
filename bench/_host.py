"""Shared set-up for the benchmarks: import the pack as ``kinema``, make ComfyUI importable, find the models.

Nothing here is measured. Paths follow the test suite: KINEMA_HOME (default
``<pack>/.kinema``) and COMFYUI_PATH (default: the newest host's ComfyUI, ``$KINEMA_HOME/hosts/VERSION/comfyui``).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent


SCRIPTS = PACK_ROOT / "scripts"
if str(SCRIPTS) not in sys.path:
    sys.path.insert(0, str(SCRIPTS))

from host_setup import comfyui_path, kinema_home  # noqa: E402


def import_comfy(argv: list[str] | None = None) -> list[str]:
    """Import the pack and ComfyUI's attention module; return ComfyUI's INFO log lines about attention."""
    from pack_import import import_pack

    import_pack()
    from kinema.runner.embedded import LogCollector, prepare_comfy_imports

    prepare_comfy_imports(comfyui_path(), argv)
    root = logging.getLogger()
    collect, saved = LogCollector(logging.INFO), root.level
    root.addHandler(collect)
    root.setLevel(logging.INFO)
    try:
        import comfy.ldm.modules.attention  # noqa: F401  (logs its backend choice on first import)
    finally:
        root.removeHandler(collect)
        root.setLevel(saved)
    return [m for m in collect.messages if "attention" in m.lower()]


def fixture_files() -> dict[str, Path]:
    """The random real-layout SD1.5 checkpoint and v2 motion module (written on first use)."""
    from fixtures import cache

    return cache.ensure_fixtures(kinema_home(), ["sd15", "mm_v2"])


def machine_line() -> str:
    import torch

    try:
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "load average n/a"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {load}")


CHILD_RESULT = "RESULT "  # the line a measuring child prints its JSON result on


def report_child_result(result: dict) -> None:
    """In a measuring child: hand ``result`` to the parent."""
    print(CHILD_RESULT + json.dumps(result), flush=True)


def report_peak(warm_up, make_run) -> None:
    """In a measuring child: ``warm_up()``, then the peak memory above the resident set and the seconds of the call
    ``make_run()`` returns (made after the warm-up's resident set is read), reported to the parent."""
    import torch
    from animatediff_memory import PeakMeter

    meter = PeakMeter()
    with torch.inference_mode():
        warm_up()
        before = meter.current()
        run = make_run()
        meter.reset()
        started = time.perf_counter()
        out = run()
    seconds = time.perf_counter() - started
    if not torch.isfinite(out).all():
        raise RuntimeError("non-finite output")
    report_child_result({"before": before, "peak": meter.peak(), "seconds": seconds})


def run_measuring_child(command: list[str], what: str, env: dict[str, str] | None = None) -> dict:
    """Run a measuring child and return its result. By default its glibc mmap threshold is fixed, so every large tensor
    is mapped and unmapped with its life (by default glibc raises the threshold after frees and keeps later tensors in
    its heap, which the resident set then holds on to: a peak taken after a warm-up would miss what the heap already
    held); ``env`` replaces that environment."""
    env = env if env is not None else {**os.environ, "MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(CHILD_RESULT)]
    if completed.returncode or not lines:
        sys.stderr.write(completed.stdout[-4000:] + completed.stderr[-4000:])
        raise SystemExit(f"child {what} failed (exit {completed.returncode})")
    return json.loads(lines[-1][len(CHILD_RESULT):])
