"""The pack inside a real ComfyUI server process: startup, an HTTP round trip, errors over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kinema.runner.media import describe_video
from kinema.runner.prompt_edits import override_inputs
from kinema.runner.remote import RemoteComfy
from kinema.runner.server_process import ComfyServer

PACK_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = PACK_ROOT / "workflows" / "api" / "animatediff_txt2vid_sd15.json"


@pytest.fixture(scope="module")
def server(comfy_host, model_files, home, tmp_path_factory):
    from fixtures import cache

    work = tmp_path_factory.mktemp("server")
    with ComfyServer(python=Path(sys.executable), comfyui=comfy_host.paths.comfyui, work=work,
                     model_dirs=cache.model_dirs(home)) as running:
        yield running


@pytest.mark.server
def test_quick_test_for_ci_exits_cleanly_with_the_pack_loaded(comfy_host, tmp_path):
    completed = subprocess.run(
        [sys.executable, "main.py", "--cpu", "--quick-test-for-ci", "--user-directory", str(tmp_path),
         "--database-url", "sqlite:///:memory:"],
        cwd=comfy_host.paths.comfyui, capture_output=True, text=True, timeout=600,
    )
    log = completed.stdout + completed.stderr
    assert completed.returncode == 0, log[-3000:]
    pack_lines = [line for line in log.splitlines() if "comfyui-kinema" in line]
    assert pack_lines, "the server log does not mention the pack at all"
    assert not [line for line in pack_lines if "IMPORT FAILED" in line or "Cannot import" in line], pack_lines


@pytest.mark.server
@pytest.mark.heavy
def test_workflow_round_trip_over_http(server, workflow_on_stand_ins, tmp_path):
    prompt = workflow_on_stand_ins(WORKFLOW)
    override_inputs(prompt, ("width", "height"), 64)
    override_inputs(prompt, ("steps",), 2)
    override_inputs(prompt, ("batch_size",), 8)
    client = RemoteComfy(server.url)
    result = client.run(prompt)
    assert result.success, result.describe_failure()
    entries = [e for out in result.outputs.values() for e in out.get("images", []) if e["filename"].endswith(".mp4")]
    assert len(entries) == 1, result.outputs
    video = client.download(entries[0], tmp_path)
    facts = describe_video(video)
    assert (facts.frames, facts.width, facts.height) == (8, 64, 64), facts
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.server
def test_validation_error_over_http_names_the_node(server, model_files):
    model_files["sd15"]
    prompt = {
        "1": {"class_type": "KinemaLoadMotionModule", "inputs": {"model_name": "not-here.ckpt"}},
        "2": {"class_type": "KinemaApplyMotionModule",
              "inputs": {"model": ["3", 0], "motion_model": ["1", 0], "scale": 1.0, "effect": 1.0, "beta_schedule": "autoselect"}},
        "3": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "kinema-random-sd15.safetensors"}},
        "4": {"class_type": "CheckpointSave", "inputs": {"model": ["2", 0], "clip": ["3", 1], "vae": ["3", 2], "filename_prefix": "x"}},
    }
    result = RemoteComfy(server.url).run(prompt)
    assert not result.success
    assert result.node_errors["1"]["class_type"] == "KinemaLoadMotionModule"
    assert "not-here.ckpt" in result.describe_failure()


@pytest.mark.server
def test_object_info_lists_our_nodes_with_tooltips(server):
    info = RemoteComfy(server.url).get_json("/object_info/KinemaApplyMotionModule")["KinemaApplyMotionModule"]
    assert info["description"]
    assert info["input"]["required"]["effect"][1]["tooltip"]


@pytest.mark.server
def test_every_ui_workflow_is_the_layout_of_its_api_twin(server):
    """UI files are authored from the API twins (scripts/workflow_ui.py); they must not drift apart."""
    from workflow_ui import ui_from_api

    object_info = RemoteComfy(server.url).get_json("/object_info")
    api_files = sorted((PACK_ROOT / "workflows" / "api").glob("*.json"))
    ui_files = sorted((PACK_ROOT / "workflows").glob("*.json"))
    assert [p.name for p in ui_files] == [p.name for p in api_files]
    for api_path in api_files:
        committed = json.loads((PACK_ROOT / "workflows" / api_path.name).read_text())
        assert committed == ui_from_api(json.loads(api_path.read_text()), object_info), api_path.name


def _without_option_lists(definition: dict) -> dict:
    """A node definition with its combo options left out: they list files, and the two hosts' input folders differ."""
    def spec_shape(spec):
        if isinstance(spec, list) and spec and isinstance(spec[0], list):
            return ["<options>", *spec[1:]]
        if isinstance(spec, list) and len(spec) > 1 and isinstance(spec[1], dict) and "options" in spec[1]:
            return [spec[0], {**spec[1], "options": "<options>"}, *spec[2:]]
        return spec

    inputs = {group: {name: spec_shape(spec) for name, spec in specs.items()} for group, specs in definition.get("input", {}).items()}
    return {**definition, "input": inputs}


@pytest.mark.server
def test_in_process_node_definitions_match_the_servers_object_info(server, comfy_host):
    """The batch runner converts UI workflows with definitions built in-process; they must be what /object_info serves."""
    served = RemoteComfy(server.url).get_json("/object_info")
    ours = json.loads(json.dumps(comfy_host.object_info()))  # tuples become lists, as over HTTP
    assert set(ours) == set(served)
    differing = [node_type for node_type in served if _without_option_lists(ours[node_type]) != _without_option_lists(served[node_type])]
    assert not differing, {node_type: (ours[node_type], served[node_type]) for node_type in differing[:2]}
