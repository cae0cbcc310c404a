"""Build the workers a command line asks for, and apply the optional model stand-ins its caller supplies."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from .prompt_edits import substitute_missing_models
from .remote import RemoteComfy, ServerUnreachable
from .stand_ins import StandIns
from .workers import EmbeddedWorker, RemoteWorker
from .workflow_files import WorkflowError

log = logging.getLogger(__name__)
PACK_ROOT = Path(__file__).resolve().parent.parent


def parse_headers(lines: list[str]) -> dict[str, str]:
    headers = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise WorkflowError(f"--header {line!r}: expected 'NAME: VALUE'")
        headers[name.strip()] = value.strip()
    return headers


def make_workers(args: argparse.Namespace, host, home: Path, output: Path, comfyui: Path | None,
                 stand_ins: StandIns | None) -> list:
    """The workers the command line asks for; ``stand_ins``: the folders to mount when it asked for --stand-ins, else None."""
    if args.servers:
        return _remote_workers(args.servers, parse_headers(args.headers), args.per_server, not args.no_progress)
    model_dirs = stand_ins.model_dirs if stand_ins is not None else {}
    if args.ray:
        return _ray_workers(args.ray, args.ray_actors, home, comfyui_folder(comfyui), model_dirs)
    host = host or _boot_embedded(home, output, comfyui_folder(comfyui), model_dirs)
    host.show_step_progress(not args.no_progress)
    return [EmbeddedWorker(host)]


def comfyui_folder(given: Path | None) -> Path:
    """The ComfyUI to boot: the caller's, else COMFYUI_PATH."""
    if given is None and not os.environ.get("COMFYUI_PATH"):
        raise ValueError("no ComfyUI to run in this process: set COMFYUI_PATH to your ComfyUI folder "
                         "(scripts/batch.py sets it to the host it builds), or give --server URL")
    comfyui = Path(given or os.environ["COMFYUI_PATH"]).expanduser().resolve()
    if not (comfyui / "main.py").is_file():
        raise ValueError(f"{comfyui} is not a ComfyUI folder (no main.py there): point COMFYUI_PATH at the folder that holds "
                         "ComfyUI's main.py")
    return comfyui


def _remote_workers(urls: list[str], headers: dict[str, str], per_server: int, progress: bool) -> list[RemoteWorker]:
    reachable, problems = [], []
    for url in urls:
        try:
            RemoteComfy(url, headers, retries=0).get_json("/system_stats")
            reachable.append(url)
        except (ServerUnreachable, RuntimeError) as err:
            problems.append(str(err))
    if not reachable:
        raise ConnectionError("no ComfyUI server answers: " + "; ".join(problems))
    for problem in problems:
        log.warning("skipping a server: %s", problem)
    on_progress = _server_progress_bars(reachable) if progress else None
    return [RemoteWorker(url, headers, per_server, on_progress) for url in reachable]


def _server_progress_bars(urls: list[str]):
    """Sampler-step bars, one per server, fed from its /ws progress events."""
    from tqdm import tqdm

    bars = {url.rstrip("/"): tqdm(total=0, desc=url, unit="step", position=index + 1, leave=False) for index, url in enumerate(urls)}

    def on_progress(server: str, prompt_id: str | None, value: int, maximum: int) -> None:
        bar = bars[server]
        bar.total = maximum
        bar.n = value
        bar.refresh()

    return on_progress


def _ray_workers(address: str, count: int | None, home: Path, comfyui: Path, model_dirs: dict[str, list[Path]]) -> list:
    from .ray_workers import ActorSetup, start_actors

    setup = ActorSetup(pack_root=str(PACK_ROOT), comfyui=str(comfyui), work_root=str(home / "ray-work"),
                       model_dirs={key: [str(d) for d in dirs] for key, dirs in model_dirs.items()})
    return start_actors(None if address == "local" else address, setup, count)


def _boot_embedded(home: Path, output: Path, comfyui: Path, model_dirs: dict[str, list[Path]]):
    from .embedded import EmbeddedComfy, HostPaths, prepare_comfy_imports

    prepare_comfy_imports(comfyui)
    # ComfyUI saves into a staging area; a finished job's files are linked from there into OUTPUT
    paths = HostPaths(comfyui=comfyui, output=output / ".staging" / "comfyui", work=home / "work", model_dirs=model_dirs)
    return EmbeddedComfy(paths).boot()


def _combo_options(spec) -> list:
    """A combo's options: ``[[...], {...}]`` (V1 style) or ``["COMBO", {"options": [...]}]`` (V3)."""
    if not isinstance(spec, list | tuple) or not spec:
        return []
    if isinstance(spec[0], list):
        return spec[0]
    if len(spec) > 1 and isinstance(spec[1], dict):
        return spec[1].get("options", [])
    return []


def installed_files(object_info: dict) -> set[str]:
    """Every file name a host offers in a combo (its model lists), from its node definitions."""
    return {
        option
        for definition in object_info.values()
        for group in definition.get("input", {}).values()
        for spec in group.values()
        for option in _combo_options(spec)
        if isinstance(option, str)
    }


def resolve_stand_ins(prompt: dict, object_info: dict, stand_ins: StandIns) -> dict:
    """Model files the host does not have replaced by random real-layout stand-ins (written once)."""
    installed = installed_files(object_info)
    prompt, replaced = substitute_missing_models(prompt, installed.__contains__, stand_ins.names)
    stand_ins.write(list(replaced.values()))
    for real, stand_in in replaced.items():
        log.warning("%s is not installed: using the random-weight stand-in %s", real, stand_in)
    return prompt


def provide_sample_inputs(workers: list, stand_ins: StandIns) -> None:
    """The sample clip the shipped vid2vid workflows load, drawn into the embedded host's input folder."""
    for worker in workers:
        if isinstance(worker, EmbeddedWorker):
            stand_ins.sample_inputs(worker.host.input_directory())
