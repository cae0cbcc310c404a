"""Shared set-up for the benchmarks: import the pack as ``kinema``, make ComfyUI importable, find the models.

Nothing here is measured. Paths follow the test suite: KINEMA_HOME (default
``<pack>/.kinema``) and COMFYUI_PATH (default ``$KINEMA_HOME/comfyui``).
"""

from __future__ import annotations

import logging
import os
import platform
import sys
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
