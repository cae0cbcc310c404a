"""Every shipped UI workflow, as a user meets it: dragged into the real ComfyUI page and queued from there.

Per workflow, in one Chromium session (driver/check_workflow.cjs): the app loads it with no
node type it does not know and keeps every widget value, its own graphToPrompt() gives
exactly the committed API twin, and, queued from the page (shrunk for CPU), that prompt
reaches execution_success and writes its video. A screenshot of the fitted graph goes to
KINEMA_HOME/output/<ComfyUI version>/browser/.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from kinema.runner.prompt_edits import override_inputs
from kinema.runner.remote import RemoteComfy

PACK_ROOT = Path(__file__).resolve().parents[2]
UI_WORKFLOWS = sorted((PACK_ROOT / "workflows").glob("*.json"))
# Shrunk after the graphToPrompt comparison, before queueing: 64 px, 1 step, 4 frames on CPU;
# the long videos (AnimateDiff's, StoryDiffusion's character video) get 6 frames in windows of 4 (overlap 2), so core
# context windows still slide; a comic's story keeps its panels (one per story line);
# Text2Video-Zero needs t0 < t1 < steps, and its ControlNet variant samples from a 2-step DDIM schedule;
# ControlVideo's long video still splits 4 frames (key frames 0, 2, 3, then the clip 0, 2, 1).
SHRINK = {"width": 64, "height": 64, "steps": 1, "batch_size": 4}
SHRINK_FOR = {
    "animatediff_long_video_sd15": {"batch_size": 6, "context_length": 4, "context_overlap": 2},
    "text2video_zero_txt2vid_sd15": {"steps": 3, "t0": 1, "t1": 2},
    "text2video_zero_controlnet_sd15": {"steps": 2},
    "storydiffusion_character_video_sd15": {"batch_size": 6, "context_length": 4, "context_overlap": 2},
}


def type_problems(name: str, result: dict) -> list[str]:
    """Node types the frontend could not create, with the node ids that use them."""
    lines = [
        f"{name}: node {node['id']} has type {node['type']!r}, unknown to the frontend (a red 'missing node' box)"
        for node in result["unknownNodes"]
    ]
    if result["reportedMissingTypes"]:
        lines.append(f"{name}: the app reported missing node types {result['reportedMissingTypes']} to afterConfigureGraph")
    return lines


def same_value(want, got) -> bool:
    """JSON equality where 1 and 1.0 match (the page writes 1.0 as 1) but false and 0 do not."""
    return want == got and (isinstance(want, bool) == isinstance(got, bool))


def prompt_differences(name: str, expected: dict, actual: dict, declared: dict[str, set[str]]) -> list[str]:
    """Input-by-input differences between the committed API twin and the page's prompt.

    Inputs the page adds that the node's server definition does not declare (frontend-only
    widgets such as Load Video's ``video-preview``) are not differences: the server drops them.
    Nor are twin inputs this host's node does not declare: the twins carry the inputs newer
    ComfyUI requires (e.g. ContextWindowsManual's causal_window_fix), which older hosts ignore.
    """
    lines = []
    for node_id in sorted(set(expected) | set(actual), key=lambda n: int(n) if n.isdigit() else n):
        if node_id not in actual:
            lines.append(f"{name}: node {node_id} ({expected[node_id]['class_type']}) is missing from the page's prompt")
            continue
        if node_id not in expected:
            lines.append(f"{name}: node {node_id} ({actual[node_id].get('class_type')}) is in the page's prompt, not in the API twin")
            continue
        want, got = expected[node_id], {"inputs": {}, **actual[node_id]}
        label = f"{name}: node {node_id} ({want['class_type']})"
        if want["class_type"] != got.get("class_type"):
            lines.append(f"{label}: class_type expected {want['class_type']!r}, page has {got.get('class_type')!r}")
        for key in sorted(set(want["inputs"]) | set(got["inputs"])):
            if key not in got["inputs"]:
                if key in declared.get(want["class_type"], set()):
                    lines.append(f"{label} input {key}: expected {want['inputs'][key]!r}, the page's prompt has no such input")
            elif key not in want["inputs"]:
                if key in declared.get(got.get("class_type"), set()):
                    lines.append(f"{label} input {key}: not in the API twin, page has {got['inputs'][key]!r}")
            elif not same_value(want["inputs"][key], got["inputs"][key]):
                lines.append(f"{label} input {key}: expected {want['inputs'][key]!r}, page has {got['inputs'][key]!r}")
    return lines


def widget_value_problems(name: str, ui: dict, saved: dict[str, list], undeclared: dict[str, int]) -> list[str]:
    """Widget values of the UI file that the loaded page no longer holds (it may append its own widgets' values).

    ``undeclared``: per node id, how many of its values belong to inputs this host does not
    declare (newer ComfyUI's, at the end of the list); an older page may drop those.
    """
    lines = []
    for node in ui["nodes"]:
        want, got = node.get("widgets_values") or [], saved.get(str(node["id"]), [])
        want = want[: max(len(got), len(want) - undeclared.get(str(node["id"]), 0))]
        for index, value in enumerate(want):
            kept = got[index] if index < len(got) else "<nothing>"
            if not same_value(value, kept):
                lines.append(f"{name}: node {node['id']} ({node['type']}) widget value {index}: file has {value!r}, page keeps {kept!r}")
    return lines


def run_problems(name: str, run: dict, server_log: str) -> list[str]:
    """Why a prompt queued from the page did not succeed, from the POST answer or the execution event."""
    if run["status"] != 200:
        return [f"{name}: POST /api/prompt answered {run['status']}: {json.dumps(run['body'])[:2000]}"]
    event = run["event"]
    if event["type"] == "execution_success":
        return []
    where = f"node {event.get('node_id')} ({event.get('node_type')})" if event.get("node_id") else "the server"
    return [
        f"{name}: prompt {run['promptId']} ended with {event['type']} at {where}: {event.get('exception_message', '')}\n"
        f"server log tail:\n{server_log[-3000:]}"
    ]


def _shrunk(prompt: dict, overrides: dict) -> dict:
    shrunk = copy.deepcopy(prompt)
    for input_name, value in overrides.items():
        override_inputs(shrunk, (input_name,), value)
    return shrunk


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.parametrize("ui_path", UI_WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_loads_converts_and_runs_in_the_real_page(ui_path, run_in_page, frontend_server, not_queued, declared_inputs, home,
                                                           host_label):
    name = ui_path.stem
    twin = json.loads((PACK_ROOT / "workflows" / "api" / ui_path.name).read_text())
    screenshot = home / "output" / host_label / "browser" / f"{name}.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    queue = name not in not_queued
    overrides = {**SHRINK, **SHRINK_FOR.get(name, {})}
    result = run_in_page(
        "check_workflow.cjs",
        {
            "workflowPath": str(ui_path),
            "name": name,
            "screenshot": str(screenshot),
            "queue": queue,
            "overrides": overrides,
            "runTimeoutMs": 480_000,
        },
    )

    assert not type_problems(name, result), "\n".join(type_problems(name, result))
    assert result["nodeCount"] == len(twin), f"{name}: the page made {result['nodeCount']} nodes, the API twin has {len(twin)}"
    undeclared = {node_id: sum(key not in declared_inputs.get(node["class_type"], set()) for key in node["inputs"])
                  for node_id, node in twin.items()}
    lost = widget_value_problems(name, json.loads(ui_path.read_text()), result["savedWidgets"], undeclared)
    assert not lost, "the loaded page does not hold the workflow's widget values:\n" + "\n".join(lost)
    differences = prompt_differences(name, twin, result["prompt"], declared_inputs)
    assert not differences, "graphToPrompt() in the page differs from the committed API twin:\n" + "\n".join(differences)
    assert not result["problems"], f"{name}: the page reported errors:\n" + "\n".join(result["problems"])
    assert screenshot.stat().st_size > 10_000, f"{name}: screenshot {screenshot} is empty"
    if not queue:
        return

    assert result["shrunk"], f"{name}: none of the widgets {sorted(overrides)} was found to shrink for CPU"
    failures = run_problems(name, result["run"], frontend_server.log_text())
    assert not failures, "\n".join(failures)
    sent = prompt_differences(name, _shrunk(twin, overrides), result["run"]["sentPrompt"], declared_inputs)
    assert not sent, "the prompt the page queued is not the API twin with the CPU shrink applied:\n" + "\n".join(sent)
    finished = RemoteComfy(frontend_server.url).wait(result["run"]["promptId"], deadline_seconds=30)
    if '"SaveVideo"' not in json.dumps(twin):  # a comic: its pages
        pages = [f for f in finished.files if f.suffix == ".png" and "_page" in f.name]
        assert finished.success and pages, f"{name}: history of {finished.prompt_id} lists {finished.files}, expected comic pages"
        return
    videos = [f for f in finished.files if f.suffix == ".mp4"]
    assert finished.success and len(videos) == 1, f"{name}: history of {finished.prompt_id} lists {finished.files}, expected one .mp4"


@pytest.mark.browser
@pytest.mark.server
def test_a_broken_workflow_is_reported_with_its_type_node_id_and_lost_value(run_in_page, declared_inputs, tmp_path):
    """The checks above can fail: an unknown node type, a value the page rewrites and a changed value are caught and named."""
    source = PACK_ROOT / "workflows" / "animatediff_txt2vid_sd15.json"
    twin = json.loads((PACK_ROOT / "workflows" / "api" / source.name).read_text())
    broken = json.loads(source.read_text())
    unknown = next(node for node in broken["nodes"] if node["type"] == "KinemaLoadMotionModule")
    unknown["type"] = "KinemaNoSuchNodeForTests"
    sampler = next(node for node in broken["nodes"] if node["type"] == "KSampler")
    sampler["widgets_values"][1] = True  # an old file's control_after_generate: the page turns it into "randomize"
    sampler["widgets_values"][2] = 21  # steps
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))

    result = run_in_page(
        "check_workflow.cjs", {"workflowPath": str(path), "name": "broken", "screenshot": str(tmp_path / "broken.png"), "queue": False}
    )

    assert result["reportedMissingTypes"] == ["KinemaNoSuchNodeForTests"]
    assert result["unknownNodes"] == [{"id": str(unknown["id"]), "type": "KinemaNoSuchNodeForTests"}]
    assert (
        f"broken: node {unknown['id']} has type 'KinemaNoSuchNodeForTests', unknown to the frontend (a red 'missing node' box)"
    ) in type_problems("broken", result)
    assert widget_value_problems("broken", broken, result["savedWidgets"], {}) == [
        f"broken: node {sampler['id']} (KSampler) widget value 1: file has True, page keeps 'randomize'"
    ]
    differences = prompt_differences("broken", twin, result["prompt"], declared_inputs)
    assert f"broken: node {sampler['id']} (KSampler) input steps: expected 20, page has 21" in differences, differences
    assert any(line.startswith(f"broken: node {unknown['id']} (KinemaLoadMotionModule)") for line in differences), differences
