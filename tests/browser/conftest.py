"""The real ComfyUI web frontend in headless Chromium, against one shared real server.

The server serves the frontend package pinned in scripts/host-requirements.txt (no
--front-end-root). Its only model folders hold links named like the released files the
shipped workflows use (v1-5-pruned-emaonly.safetensors, mm_sd_v15_v2.ckpt ...), each
pointing at the random real-layout stand-in, so the UI workflows load unmodified.
Scripts in driver/ drive the page with playwright-core (scripts/browser_setup.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host_setup import comfyui_path
from kinema.runner.remote import RemoteComfy
from kinema.runner.server_process import ComfyServer

PACK_ROOT = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).resolve().parent / "driver"
API_WORKFLOWS = PACK_ROOT / "workflows" / "api"
# A fresh user folder is a new user to the frontend, which then opens the template browser over the graph.
SEEDED_SETTINGS = {"Comfy.TutorialCompleted": True}
PAGE_TIMEOUT_MS = 90_000
SAMPLE_CLIP_FRAMES = 4


# Workflows the page loads, converts and screenshots but does not queue, and why.
NOT_QUEUED = {
    "animatediff_txt2vid_sdxl": "the full-size SDXL stand-in (7 GB in fp16, ~3.5B parameters, held in fp32 on CPU) would "
    "sit next to the SD1.5 models in the one shared server on a 24 GB machine; the page's prompt must equal "
    "its API twin, which tests/host/test_workflows.py executes headless",
    "storydiffusion_comic_sdxl": "the same full-size SDXL stand-in; tests/host/test_storydiffusion.py executes its API twin headless",
}


def _released_files_queued() -> set[str]:
    """Released model names that the queued workflows ask for and that a stand-in exists for."""
    from fixtures import cache

    stand_ins = cache.stand_ins()
    return {
        value
        for path in API_WORKFLOWS.glob("*.json")
        if path.stem not in NOT_QUEUED
        for node in json.loads(path.read_text()).values()
        for value in node["inputs"].values()
        if isinstance(value, str) and value in stand_ins
    }


def _cached(home: Path, key: str) -> bool:
    """The stand-in is written, at its writer's current version (the rule of fixtures.cache.ensure_fixtures)."""
    from fixtures import cache

    path = cache.fixture_path(home, key)
    stamp = path.with_name(path.name + ".version")
    return path.exists() and stamp.exists() and stamp.read_text() == str(cache.FIXTURES[key].version)


def link_released_names(models: Path, released: set[str], write_fixtures) -> dict[str, list[Path]]:
    """models/<folder key>/<released name> -> its stand-in; return the folder map for the server."""
    from fixtures import cache

    stand_ins = cache.stand_ins()
    keys = sorted(cache.fixture_for_file(stand_ins[name]) for name in released)
    paths = write_fixtures(keys)
    for key, target in paths.items():
        fixture = cache.FIXTURES[key]
        link = models / fixture.folder_key / fixture.stands_for
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    return {key: [models / key] for key in sorted({cache.FIXTURES[k].folder_key for k in keys})}


@pytest.fixture(scope="session")
def browser_tools(home):
    if os.environ.get("KINEMA_SKIP_BROWSER_TESTS"):
        pytest.skip("KINEMA_SKIP_BROWSER_TESTS is set")
    from browser_setup import find_browser_tools

    return find_browser_tools(home)


@pytest.fixture(scope="session")
def not_queued() -> dict[str, str]:
    return NOT_QUEUED


@pytest.fixture(scope="package")
def declared_inputs(frontend_server, host_inputs) -> dict[str, set[str]]:
    """Node type -> the input names the server's definition declares (it ignores any other input it is sent)."""
    return host_inputs(RemoteComfy(frontend_server.url).get_json("/object_info"))


@pytest.fixture(scope="package")  # stopped after tests/browser: its models hold GBs of RAM
def frontend_server(browser_tools, home, tmp_path_factory, request, free_in_process_models):
    from fixtures import cache
    from fixtures.sample_inputs import ORBIT_VIDEO, write_orbit_video

    def write_fixtures(keys):
        if all(_cached(home, k) for k in keys):
            return {k: cache.fixture_path(home, k) for k in keys}
        model_files = request.getfixturevalue("model_files")  # writing needs ComfyUI importable: boot it only then
        return {k: model_files[k] for k in keys}

    work = tmp_path_factory.mktemp("frontend-server")
    settings = work / "user" / "default" / "comfy.settings.json"
    settings.parent.mkdir(parents=True)  # --user-directory must exist before the server starts
    settings.write_text(json.dumps(SEEDED_SETTINGS))
    model_dirs = link_released_names(work / "models", _released_files_queued(), write_fixtures)
    # The vid2vid workflow's clip, by the name it ships with; 4 frames instead of 16 keep it quick on CPU.
    write_orbit_video(work / "input" / ORBIT_VIDEO, frames=SAMPLE_CLIP_FRAMES)
    free_in_process_models()
    with ComfyServer(python=Path(sys.executable), comfyui=comfyui_path(), work=work, model_dirs=model_dirs) as server:
        yield server


@pytest.fixture(scope="package")
def run_in_page(browser_tools, frontend_server, tmp_path_factory):
    """``run_in_page("check_workflow.cjs", job)``: run a driver script on the page, return its JSON result."""
    jobs = tmp_path_factory.mktemp("page-jobs")
    env = dict(os.environ, NODE_PATH=str(browser_tools.node_modules))

    def run(script: str, job: dict, timeout: float = 600) -> dict:
        job = {"url": frontend_server.url, "chromium": str(browser_tools.chromium), "timeoutMs": PAGE_TIMEOUT_MS, **job}
        job_file = jobs / f"{len(list(jobs.iterdir()))}-{script}.json"
        job_file.write_text(json.dumps(job))
        done = subprocess.run(
            [str(browser_tools.node), str(DRIVER / script), str(job_file)], capture_output=True, text=True, timeout=timeout, env=env
        )
        if done.returncode != 0:
            pytest.fail(
                f"{script} failed on {job.get('workflowPath')}:\n{done.stderr[-4000:]}\n"
                f"server log tail:\n{frontend_server.log_text()[-3000:]}"
            )
        return json.loads(done.stdout.strip().splitlines()[-1])

    return run
