"""Shared fixtures: the embedded ComfyUI host (booted once per session) and model files.

The host is the real ComfyUI 0.3.75 that scripts/run_tests.py builds (or the user's,
via COMFYUI_PATH); random real-layout models are written on first use into
KINEMA_HOME/fixtures and reused by later runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host_setup import comfyui_path, kinema_home

PACK_ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = PACK_ROOT / "workflows"


@pytest.fixture(scope="session")
def home() -> Path:
    return kinema_home()


@pytest.fixture(scope="session")
def comfy_host(home: Path, tmp_path_factory):
    """ComfyUI booted in this process with the pack loaded and the fixture folders registered."""
    from fixtures import cache
    from kinema.runner.embedded import EmbeddedComfy, HostPaths, prepare_comfy_imports

    prepare_comfy_imports(comfyui_path())
    work = tmp_path_factory.mktemp("comfy-work")
    paths = HostPaths(comfyui=comfyui_path(), output=work / "output", work=work, model_dirs=cache.model_dirs(home))
    return EmbeddedComfy(paths).boot()


class _LazyModelFiles:
    """``model_files["sd15"]`` writes that fixture on first use (SDXL alone is 7 GB: never all at once)."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __getitem__(self, name: str) -> Path:
        from fixtures import cache

        return cache.ensure_fixtures(self.home, [name])[name]


@pytest.fixture(scope="session")
def model_files(home: Path, comfy_host) -> _LazyModelFiles:
    """Random real-layout fixtures by key (needs ComfyUI importable for the SD layouts)."""
    return _LazyModelFiles(home)


# CPU-sized runs of the shipped workflows (64x64 px, a few steps), and per workflow what keeps
# it small but meaningful: long videos still span several context windows.
CPU_RUN_OVERRIDES = {
    "animatediff_long_video_sd15": {"batch_size": 48, "steps": 2},
    "animatediff_txt2vid_sdxl": {"batch_size": 8, "steps": 2},  # full-size SDXL on CPU: keep it small
    "text2video_zero_txt2vid_sd15": {"steps": 4, "t0": 1, "t1": 2},  # t0 < t1 < steps, counted from the clean end
    "text2video_zero_controlnet_sd15": {"steps": 2},
    "animatediff_cross_frame_sd15": {"batch_size": 8, "steps": 2},
}


@pytest.fixture(scope="session")
def cpu_run_overrides():
    """``cpu_run_overrides(stem)``: input name -> value for a CPU-sized run of a shipped workflow."""
    return lambda stem: {"width": 64, "height": 64, "steps": 3, **CPU_RUN_OVERRIDES.get(stem, {})}


def load_workflow(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def workflow_on_stand_ins(comfy_host, model_files):
    """``workflow_on_stand_ins(path)``: the API prompt with uninstalled released files replaced by written fixtures."""
    from fixtures import cache
    from fixtures.sample_inputs import ensure_sample_inputs
    from kinema.runner.prompt_edits import substitute_missing_models

    def resolve(path: Path) -> dict:
        ensure_sample_inputs(comfy_host.input_directory())
        prompt, replaced = substitute_missing_models(load_workflow(path), comfy_host.model_installed, cache.stand_ins())
        for stand_in in replaced.values():
            model_files[cache.fixture_for_file(stand_in)]
        return prompt

    return resolve


@pytest.fixture(scope="session")
def run_small(comfy_host, workflow_on_stand_ins):
    """Run an API workflow on the stand-in models, shrunk for CPU: ``run_small(path, size=64, steps=3)``."""
    from kinema.runner.prompt_edits import override_inputs

    def run(path: Path, size: int = 64, steps: int = 3, **overrides):
        prompt = workflow_on_stand_ins(path)
        override_inputs(prompt, ("width", "height"), size)
        override_inputs(prompt, ("steps",), steps)
        for name, value in overrides.items():
            override_inputs(prompt, (name,), value)
        return comfy_host.run(prompt), prompt

    return run
