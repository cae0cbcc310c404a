"""Run ComfyUI workflows headless, in batches (see --help): sweeps, a resumable manifest,
remote ComfyUI servers, Ray.

    python3 scripts/batch.py workflows/ --sweep seed=1..3

Builds (or reuses) the ComfyUI 0.3.75 host and the runner's extra (runner/requirements.txt),
then continues in the host's Python with this pack loaded. Set COMFYUI_PATH to use your
own ComfyUI and its models.
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
    env = host.env()
    env[IN_HOST] = "1"
    os.execve(str(host.python), [str(host.python), __file__, *sys.argv[1:]], env)


def main() -> None:
    wants_help = bool({"-h", "--help"} & set(sys.argv[1:]))
    if os.environ.get(IN_HOST) != "1" and not wants_help:  # --help needs no host
        relaunch_in_host()
    import logging

    sys.path.insert(0, str(SCRIPTS))
    from pack_import import import_pack

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    import_pack()
    from kinema.runner.cli import main as batch_main

    home = os.environ.get("KINEMA_HOME")
    sys.exit(batch_main(home=Path(home) if home else None))


if __name__ == "__main__":
    main()
