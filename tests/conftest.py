"""Shared fixtures: the embedded ComfyUI host (booted once per session) and model files.

The host is the real ComfyUI that scripts/run_tests.py builds and names in COMFYUI_PATH
(0.3.75 and 0.8.0, one pytest run each; or the user's own); random real-layout models are
written on first use into KINEMA_HOME/fixtures and reused by later runs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host_setup import comfyui_path, comfyui_version, kinema_home

PACK_ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = PACK_ROOT / "workflows"


@pytest.fixture(scope="session")
def home() -> Path:
    return kinema_home()


@pytest.fixture(scope="session")
def host_label() -> str:
    """The version of the ComfyUI under test (scripts/run_tests.py runs the host tiers once per host)."""
    return comfyui_version(comfyui_path())


@pytest.fixture(scope="session")
def host_inputs():
    """``host_inputs(object_info)``: node type -> the input names the host's definition declares (it ignores others)."""
    return lambda object_info: {node_type: {name for group in ("required", "optional") for name in spec["input"].get(group, {})}
                                for node_type, spec in object_info.items()}


@pytest.fixture(scope="session")
def for_host():
    """``for_host(prompt, declared)``: an API twin as this host reads it, without the inputs its nodes do not declare.

    The twins carry what the newest ComfyUI requires (ContextWindowsManual's freenoise ...
    causal_window_fix); older hosts ignore inputs they do not know.
    """
    return lambda prompt, declared: {
        node_id: {**node, "inputs": {k: v for k, v in node["inputs"].items() if k in declared.get(node["class_type"], set())}}
        for node_id, node in prompt.items()}


_BOOTED_HOST = pytest.StashKey[object]()


@pytest.fixture(scope="session")
def comfy_host(home: Path, tmp_path_factory, request):
    """ComfyUI booted in this process with the pack loaded and the fixture folders registered."""
    from fixtures import cache
    from kinema.runner.embedded import EmbeddedComfy, HostPaths, prepare_comfy_imports

    prepare_comfy_imports(comfyui_path())
    work = tmp_path_factory.mktemp("comfy-work")
    paths = HostPaths(comfyui=comfyui_path(), output=work / "output", work=work, model_dirs=cache.model_dirs(home))
    host = request.config.stash[_BOOTED_HOST] = EmbeddedComfy(paths).boot()
    return host


@pytest.fixture(scope="session")
def free_in_process_models(request):
    """``free_in_process_models()``: unload what this session's in-process host holds, if it booted one.

    The browser tier's server loads its own models; the host tiers before it leave SD1.5 and
    SDXL loaded in this process, and both together do not fit a 24 GB machine.
    """
    def free() -> None:
        host = request.config.stash.get(_BOOTED_HOST, None)
        if host is not None:
            host.release_models()

    return free


@pytest.fixture(scope="module")  # one module's tests share it; the next module loads its own
def sd15(model_files, comfy_host):
    """The random real-layout SD1.5 checkpoint's MODEL, loaded by ComfyUI's own loader."""
    import comfy.sd

    model, *_ = comfy.sd.load_checkpoint_guess_config(str(model_files["sd15"]), output_vae=False, output_clip=False)
    return model


@pytest.fixture(scope="session")
def call_node(comfy_host):
    """``call_node(node_type, **inputs)``: run a registered node as ComfyUI's executor does (V1 method or V3 classmethod),
    passing only the inputs this host declares (it ignores the others); returns its outputs."""
    import nodes

    def call(node_type: str, **inputs):
        cls = nodes.NODE_CLASS_MAPPINGS[node_type]
        declared = {name for group in cls.INPUT_TYPES().values() if isinstance(group, dict) for name in group}
        inputs = {name: value for name, value in inputs.items() if name in declared}
        if hasattr(cls, "EXECUTE_NORMALIZED"):
            return cls.PREPARE_CLASS_CLONE({}).EXECUTE_NORMALIZED(**inputs).args
        return getattr(cls(), cls.FUNCTION)(**inputs)

    return call


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
    "animatediff_deflicker_sd15": {"batch_size": 8, "steps": 5},  # 5 steps: the smoother fires at steps 3 and 4
    "controlvideo_canny_sd15": {"batch_size": 8, "steps": 5},
    "controlvideo_long_video_sd15": {"batch_size": 20, "steps": 2},  # key frames every 3 frames: 8 key frames, 7 clips
    "storydiffusion_comic_sd15": {"steps": 2},
    # full-size SDXL on CPU, 7 panels: one (plain) step runs the graph; test_story_photomaker.py samples consistent attention
    # on SDXL for 2 steps
    "storydiffusion_comic_sdxl": {"steps": 1},
    "storydiffusion_character_video_sd15": {"batch_size": 20, "steps": 2},  # two context windows read the identity bank
}


# ContextWindowsManual's inputs beyond length and overlap, as the newest ComfyUI requires them (freenoise from 0.8.0,
# the rest later; older hosts ignore inputs they do not know). No causal anchor frame: AnimateDiff gains nothing from it.
CONTEXT_WINDOW_INPUTS = {
    "context_schedule": "standard_uniform", "context_stride": 1, "closed_loop": False, "fuse_method": "pyramid", "dim": 0,
    "freenoise": False, "cond_retain_index_list": "", "split_conds_to_windows": False, "latent_retain_index_list": "",
    "causal_window_fix": False,
}


@pytest.fixture(scope="session")
def context_windows_node():
    """``context_windows_node(model_link, length, overlap, **inputs)``: an API ContextWindowsManual node."""
    return lambda model, length, overlap, **inputs: {"class_type": "ContextWindowsManual", "inputs": {
        "model": model, "context_length": length, "context_overlap": overlap, **CONTEXT_WINDOW_INPUTS, **inputs}}


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


# -- fresh processes and the runner's stand-ins --------------------------------------------------
RESULT_MARK = "KINEMA-RESULT "  # the line a run_python script reports on


@pytest.fixture(scope="session")
def run_python(tmp_path_factory):
    """``run_python(script, *args, env={...})``: a script in a fresh process of this Python; returns what it reported.

    ComfyUI keeps its folders, nodes and executor in module globals, so a boot with other
    folders or settings needs a process of its own. The script reports with
    ``print("KINEMA-RESULT " + json.dumps(...))``; it runs outside the checkout (no scripts/ or pack
    on sys.path unless it adds them) and writes no bytecode (it may import host trees through links).
    """
    import os
    import subprocess
    import sys

    def run(script: str, *args, env: dict[str, str] | None = None, timeout: float = 900) -> dict:
        completed = subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                                   cwd=tmp_path_factory.mktemp("process"), timeout=timeout,
                                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})
        reports = [line[len(RESULT_MARK):] for line in completed.stdout.splitlines() if line.startswith(RESULT_MARK)]
        assert completed.returncode == 0 and reports, f"exit {completed.returncode}\n{completed.stdout[-3000:]}\n{completed.stderr[-6000:]}"
        return json.loads(reports[-1])

    return run


@pytest.fixture(scope="session")
def stand_ins(home: Path):
    """What scripts/batch.py hands the runner for ``--stand-ins``: the fixture folders, names and writer."""
    from batch import stand_ins as provider

    return provider(home)
