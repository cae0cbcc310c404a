"""Run ComfyUI workflows headless, in batches (see --help): sweeps, a resumable manifest,
remote ComfyUI servers, Ray.

    python3 scripts/batch.py workflows/ --sweep seed=1..3

Builds (or reuses) a ComfyUI host (scripts/host_setup.py) and the runner's extra (runner/requirements.txt),
then continues in the host's Python with this pack loaded. Set COMFYUI_PATH to use your
own ComfyUI and its models (with the folders its extra_model_paths.yaml lists). Random
stand-in models (scripts/fixtures) are handed to the runner, and mounted only with --stand-ins.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
IN_HOST = "KINEMA_BATCH_IN_HOST"


def relaunch_in_host() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import host_setup

    host = host_setup.ensure_host()
    host_setup.install_runner_requirements(host)
    env = host.generating_env()
    env[IN_HOST] = "1"
    os.execve(str(host.python), [str(host.python), __file__, *sys.argv[1:]], env)


def stand_ins(home: Path):
    """The random stand-ins of scripts/fixtures, as the runner takes them for --stand-ins (only then are they mounted)."""
    from fixtures import cache
    from kinema.runner.stand_ins import StandIns

    def write(file_names: list[str]) -> None:
        cache.ensure_fixtures(home, [cache.fixture_for_file(name) for name in file_names])

    def sample_inputs(input_folder: Path) -> None:
        from fixtures.sample_inputs import ensure_sample_inputs  # numpy: only in the host's Python

        ensure_sample_inputs(input_folder)

    return StandIns(model_dirs=cache.model_dirs(home), names=cache.stand_ins(), write=write, sample_inputs=sample_inputs)


def main() -> None:
    wants_help = bool({"-h", "--help"} & set(sys.argv[1:]))
    if os.environ.get(IN_HOST) != "1" and not wants_help:  # --help needs no host
        relaunch_in_host()
    import logging

    sys.path.insert(0, str(SCRIPTS))
    import host_setup
    from pack_import import import_pack

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    import_pack()
    from kinema.runner.cli import main as batch_main

    home = host_setup.kinema_home()
    sys.exit(batch_main(home=home, comfyui=host_setup.comfyui_path(), stand_ins=stand_ins(home)))


if __name__ == "__main__":
    main()
