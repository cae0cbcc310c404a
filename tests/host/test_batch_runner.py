"""The batch runner in embedded mode, driven through its command line in this process's ComfyUI."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import av
import pytest
from manifest_records import latest_records
from manifest_watch import ManifestWatch
from PIL import Image

from kinema.runner import cli
from kinema.runner.manifest import Manifest
from kinema.runner.media import describe_video

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
TXT2VID = WORKFLOWS / "animatediff_txt2vid_sd15.json"
SMALL = ["--stand-ins", "--no-progress", "--set", "width=64", "--set", "height=64", "--set", "steps=2"]


@pytest.fixture
def run_cli(comfy_host, home, stand_ins, tmp_path):
    output = tmp_path / "batch"

    def run(*args: str) -> int:
        return cli.main([*map(str, args), "--output", str(output)], host=comfy_host, home=home, stand_ins=stand_ins)

    run.output = output
    run.manifest = output / "manifest.jsonl"
    return run


def _videos(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*.mp4") if ".staging" not in path.parts)


# One workflow per kind of output (a video; a comic's panels and pages). Every other UI file reaches the same run: it
# converts to its API twin (test_ui_twins_convert_to_their_api_twins), tests/host/test_workflows.py runs every API
# twin and tests/browser queues every UI file from the real page; sampling them all a third time here would test the
# runner nothing more.
THROUGH_THE_CLI = [TXT2VID, WORKFLOWS / "storydiffusion_comic_sd15.json"]


@pytest.mark.heavy
@pytest.mark.parametrize("workflow", THROUGH_THE_CLI, ids=lambda p: p.stem)
def test_shipped_ui_workflows_run_through_the_cli(run_cli, workflow, cpu_run_overrides, capsys):
    overrides = cpu_run_overrides(workflow.stem)
    sets = [arg for name, value in overrides.items() for arg in ("--set", f"{name}={value}")]
    assert run_cli(workflow, "--stand-ins", "--no-progress", *sets) == 0, capsys.readouterr()
    (record,) = latest_records(run_cli.manifest)
    assert record["status"] == "done" and record["worker"] == "embedded"
    assert record["params"] == overrides
    outputs = list(map(Path, record["outputs"]))
    assert all(path.parent.parent == run_cli.output and record["key"] in path.name for path in outputs), outputs
    videos = [path for path in outputs if path.suffix == ".mp4"]
    if videos:
        (video,) = videos
        facts = describe_video(video)
        assert (facts.width, facts.height) == (64, 64) and facts.frames > 1
        with av.open(str(video)) as container:
            metadata = container.metadata
    else:  # a comic: its panels and pages, the metadata in the pages' PNG text
        pages = [path for path in outputs if path.suffix == ".png" and "_page" in path.name]
        assert pages, outputs
        metadata = Image.open(pages[0]).info
    assert json.loads(metadata["workflow"]) == json.loads(workflow.read_text()), "the UI workflow travels with the output"
    assert {node["inputs"].get("steps") for node in json.loads(metadata["prompt"]).values()} >= {overrides["steps"]}
    assert json.loads(metadata["kinema_job"])["key"] == record["key"]
    assert not list((run_cli.output / ".staging").rglob("*.mp4"))


@pytest.mark.heavy
def test_sweep_gives_one_job_per_combination_and_a_rerun_does_nothing(run_cli, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red boat\na green forest\n")
    sweep = [TXT2VID, *SMALL, "--set", "batch_size=4", "--sweep", "seed=1..3", "--sweep", f"Positive prompt.text=@{prompts}"]
    assert run_cli(*sweep) == 0
    records = latest_records(run_cli.manifest)
    assert len(records) == 6 and {r["status"] for r in records} == {"done"}
    assert all(not {"1", "2"} & set(r["node_seconds"]) for r in records[1:]), "models load once, for the first job"
    assert {(r["params"]["seed"], r["params"]["Positive prompt.text"]) for r in records} == {
        (seed, text) for seed in (1, 2, 3) for text in ("a red boat", "a green forest")}
    videos = _videos(run_cli.output)
    assert len(videos) == 6 and not list(run_cli.output.rglob("*.partial"))
    stamps = {video: video.stat().st_mtime_ns for video in videos}
    capsys.readouterr()

    assert run_cli(*sweep) == 0
    assert "0 done, 6 skipped" in capsys.readouterr().out
    assert latest_records(run_cli.manifest) == records
    assert {video: video.stat().st_mtime_ns for video in _videos(run_cli.output)} == stamps


@pytest.mark.heavy
def test_a_done_job_whose_output_was_deleted_runs_again_in_the_same_process(run_cli, capsys):
    args = [TXT2VID, *SMALL, "--set", "batch_size=2", "--set", "seed=11"]
    assert run_cli(*args) == 0
    (video,) = _videos(run_cli.output)
    video.unlink()
    assert run_cli(*args) == 0, "ComfyUI's cache holds this prompt's outputs; the runner must still deliver the file"
    assert _videos(run_cli.output) == [video] and latest_records(run_cli.manifest)[0]["attempts"] == 2
    assert capsys.readouterr().out.count("1 done, 0 skipped") == 2


@pytest.mark.heavy
def test_a_failing_job_is_reported_with_its_node_error_and_retried_next_run(run_cli, capsys):
    # 40 frames exceed the v2 module's 32: our node refuses it in the sampler, before any step
    sweep = [TXT2VID, *SMALL, "--sweep", "batch_size=[4, 40]"]
    assert run_cli(*sweep) == 1
    summary = capsys.readouterr().out
    assert "1 done, 0 skipped (done before), 1 failed" in summary
    failed = next(r for r in latest_records(run_cli.manifest) if r["status"] == "failed")
    assert failed["params"] == {"width": 64, "height": 64, "steps": 2, "batch_size": 40}
    assert "node 7 (KSampler)" in failed["error"] and "40 frames exceed" in failed["error"]
    assert failed["outputs"] == [] and len(_videos(run_cli.output)) == 1

    assert run_cli(*sweep) == 1
    assert "0 done, 1 skipped (done before), 1 failed" in capsys.readouterr().out
    retried = Manifest(run_cli.manifest).records[failed["key"]]
    assert retried.attempts == 2 and retried.status == "failed"


@pytest.mark.heavy
def test_ctrl_c_stops_after_the_current_node_and_the_next_run_resumes(run_cli, comfy_host, capsys):
    def press_ctrl_c_while_sampling(event, data):
        if event == "executing" and data.get("node") == "7":
            # the real signal, from another thread as a terminal sends it, while the sampler runs
            threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()

    sweep = [TXT2VID, *SMALL, "--set", "batch_size=4", "--sweep", "seed=[1, 2]"]
    comfy_host.on_event(press_ctrl_c_while_sampling)
    watch = ManifestWatch(run_cli.manifest)
    try:
        with watch:
            assert run_cli(*sweep) == 130
    finally:
        comfy_host.on_event(None)
    assert watch.problems == [] and watch.reads > 10, "the manifest is whole JSON lines at every moment"
    records = latest_records(run_cli.manifest)
    assert [r["status"] for r in records] == ["interrupted", "interrupted"]
    first = records[0]
    assert first["node_seconds"]["7"] > 0, "the sampler node that was running finished"
    assert first["error"] == "interrupted on request at node 8 (VAEDecode); run again to resume", "stopped right after it"
    assert records[1]["error"] == "stopped before it started (Ctrl-C)"
    assert _videos(run_cli.output) == [] and not list((run_cli.output / ".staging").rglob("*.mp4"))
    capsys.readouterr()

    assert run_cli(*sweep) == 0
    assert "2 done, 0 skipped" in capsys.readouterr().out
    assert [r["attempts"] for r in latest_records(run_cli.manifest)] == [2, 1]


def test_ui_twins_convert_to_their_api_twins(comfy_host, host_inputs, for_host):
    from kinema.runner.conversion import to_api_prompt
    from kinema.runner.workflow_files import read_workflow

    object_info = comfy_host.object_info()
    declared = host_inputs(object_info)
    for ui_path in sorted(WORKFLOWS.glob("*.json")):
        converted = to_api_prompt(read_workflow(ui_path), object_info)
        assert converted == for_host(json.loads((WORKFLOWS / "api" / ui_path.name).read_text()), declared), ui_path.name


def _edited_txt2vid() -> dict:
    """The shipped UI workflow with what users' graphs hold: a Reroute, a Primitive seed, a muted and a bypassed node."""
    ui = json.loads(TXT2VID.read_text())
    nodes = {node["id"]: node for node in ui["nodes"]}
    # Reroute on the model wire from the motion module (link 5: node 3 -> KSampler 7)
    ui["nodes"].append({"id": 20, "type": "Reroute", "mode": 0, "inputs": [{"name": "", "type": "*", "link": 5}],
                        "outputs": [{"name": "", "type": "MODEL", "links": [30]}], "properties": {}})
    ui["links"] = [[5, 3, 0, 20, 0, "MODEL"] if link[0] == 5 else link for link in ui["links"]] + [[30, 20, 0, 7, 0, "MODEL"]]
    nodes[7]["inputs"][0]["link"] = 30
    # a Primitive drives the seed widget
    ui["nodes"].append({"id": 21, "type": "PrimitiveNode", "mode": 0, "widgets_values": [777, "fixed"],
                        "outputs": [{"name": "INT", "type": "INT", "links": [31], "widget": {"name": "seed"}}], "properties": {}})
    nodes[7]["widgets_values"][0] = 777  # the page mirrors a primitive's value into the widget it drives
    nodes[7]["inputs"].append({"name": "seed", "type": "INT", "widget": {"name": "seed"}, "link": 31})
    ui["links"].append([31, 21, 0, 7, 4, "INT"])
    nodes[3]["mode"] = 4  # bypassed: the sampler gets the checkpoint's model directly
    ui["nodes"].append({"id": 22, "type": "SaveImage", "mode": 2, "inputs": [{"name": "images", "type": "IMAGE", "link": None}],
                        "widgets_values": ["muted"], "properties": {}})
    return ui


def test_conversion_follows_reroutes_primitives_bypass_and_mute(comfy_host, tmp_path):
    from kinema.runner.conversion import to_api_prompt
    from kinema.runner.workflow_files import read_workflow

    path = tmp_path / "edited.json"
    path.write_text(json.dumps(_edited_txt2vid()))
    prompt = to_api_prompt(read_workflow(path), comfy_host.object_info())
    assert set(prompt) == {"1", "2", "4", "5", "6", "7", "8", "9", "10"}, "bypassed 3, muted 22, UI-only 20/21 are not sent"
    assert prompt["7"]["inputs"]["model"] == ["1", 0], "the bypassed motion node passes the checkpoint's model through"
    assert prompt["7"]["inputs"]["seed"] == 777


def test_unregistered_node_types_fail_before_anything_runs(run_cli, tmp_path, capsys):
    ui = json.loads(TXT2VID.read_text())
    ui["nodes"][0]["type"] = "ADE_LoadAnimateDiffModel"
    ui["nodes"].append({**ui["nodes"][1], "id": 40, "type": "VHS_VideoCombine"})
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(ui))
    assert run_cli(path, *SMALL) == 2
    error = capsys.readouterr().err
    assert "foreign.json" in error
    assert "ADE_LoadAnimateDiffModel (node 1)" in error and "VHS_VideoCombine (node 40)" in error
    assert not run_cli.output.exists(), "nothing is written for a batch that cannot start"


@pytest.mark.parametrize(("args", "says"), [
    (["--set", "KSampler.denoise_strength=1"], "node 7 (KSampler) has no input 'denoise_strength'"),
    (["--set", "Sampler.seed=1"], "no node with id or title 'Sampler'"),
    (["--sweep", "seed=9..1"], "a range needs START <= STOP"),
    (["--server", "http://127.0.0.1:9"], "http://127.0.0.1:9"),
])
def test_bad_targets_and_unreachable_servers_are_named(run_cli, args, says, capsys):
    assert run_cli(TXT2VID, "--stand-ins", *args) == 2
    assert says in capsys.readouterr().err
    assert not run_cli.output.exists()


def test_malformed_json_names_the_file_and_line(run_cli, tmp_path, capsys):
    path = tmp_path / "half.json"
    path.write_text('{"nodes": [\n{"id": 1,')
    assert run_cli(path) == 2
    assert f"{path}: not valid JSON at line 2" in capsys.readouterr().err


def test_dry_run_lists_jobs_and_runs_nothing(run_cli, capsys):
    assert run_cli(TXT2VID, *SMALL, "--sweep", "seed=1..3", "--dry-run") == 0
    out = capsys.readouterr().out
    assert out.count("run (new)") == 3 and "3 jobs, 3 to run" in out
    assert not run_cli.output.exists()
