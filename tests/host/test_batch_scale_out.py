"""The batch runner beyond one process: real ComfyUI servers on 127.0.0.1 (one killed mid-batch), and Ray actors."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from manifest_records import latest_records
from manifest_watch import ManifestWatch

from kinema.runner import cli
from kinema.runner.media import describe_video
from kinema.runner.remote import RemoteComfy
from kinema.runner.server_process import ComfyServer

API_TXT2VID = Path(__file__).resolve().parents[2] / "workflows" / "api" / "animatediff_txt2vid_sd15.json"
SMALL = ["--stand-ins", "--no-progress", "--set", "width=64", "--set", "height=64", "--set", "steps=2", "--set", "batch_size=4"]


def _saved_videos(server: ComfyServer) -> list[Path]:
    return list((server.work / "output").rglob("*.mp4"))


@pytest.fixture
def two_servers(comfy_host, model_files, home, tmp_path):
    from fixtures import cache

    model_files["sd15"], model_files["mm_v2"]
    comfy_host.release_models()  # three copies of SD1.5 (this process and two servers) would crowd 24 GB
    servers = [ComfyServer(python=Path(sys.executable), comfyui=comfy_host.paths.comfyui, work=tmp_path / f"server{i}",
                           model_dirs=cache.model_dirs(home)) for i in range(2)]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


def _kill_when_running_its_second_job(server: ComfyServer, stop: threading.Event) -> threading.Thread:
    """SIGKILL the server while it executes a prompt, after it has finished one (its done job must stay done)."""
    client = RemoteComfy(server.url)

    def watch():
        while not stop.is_set():
            try:
                finished = len(client.get_json("/history"))
                running = client.get_json("/queue")["queue_running"]
            except ConnectionError:
                return
            if finished >= 1 and running:
                time.sleep(1.0)  # well inside the sampler
                os.killpg(server.process.pid, signal.SIGKILL)
                return
            time.sleep(0.2)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.server
@pytest.mark.heavy
def test_remote_servers_share_a_batch_and_a_dead_server_loses_no_job(two_servers, comfy_host, home, stand_ins, tmp_path,
                                                                     capsys):
    alive, doomed = two_servers
    output = tmp_path / "batch"
    stop = threading.Event()
    killer = _kill_when_running_its_second_job(doomed, stop)
    try:
        with ManifestWatch(output / "manifest.jsonl") as watch:
            code = cli.main([str(API_TXT2VID), *SMALL, "--sweep", "seed=1..6", "--server", alive.url, "--server", doomed.url,
                             "--output", str(output)], home=home, stand_ins=stand_ins)
    finally:
        stop.set()
        killer.join()
    assert code == 0, capsys.readouterr()
    assert watch.problems == [] and watch.reads > 10, "the manifest is whole JSON lines at every moment"
    assert doomed.process.poll() is not None, "the second server was killed mid-batch"
    records = latest_records(output / "manifest.jsonl")
    assert len(records) == 6 and {r["status"] for r in records} == {"done"}
    assert sorted(r["params"]["seed"] for r in records) == [1, 2, 3, 4, 5, 6]
    by_server = {url: [r for r in records if r["worker"] == url] for url in (alive.url, doomed.url)}
    assert len(by_server[doomed.url]) >= 1, "the doomed server finished a job before it died"
    # none done twice: every server saved exactly the videos of the jobs credited to it
    assert len(_saved_videos(alive)) == len(by_server[alive.url])
    assert len(_saved_videos(doomed)) == len(by_server[doomed.url])
    downloaded = [Path(r["outputs"][0]) for r in records]
    assert len(set(downloaded)) == 6 and all(path.stat().st_size > 0 for path in downloaded)
    assert not list(output.rglob("*.partial"))
    assert all(describe_video(path).frames == 4 for path in downloaded), "no partial file among the outputs"

    # The same seeds on the server and in this process's ComfyUI: the same bits. Compared on PNG frames: core's Save
    # Video (libx264 through PyAV) does not encode a tiny 64-px clip to the same bytes in every process, even from
    # identical frames (the 6-job blur batch of test_batch_crash_safety.py compares whole mp4 files).
    prompt = json.loads(API_TXT2VID.read_text())
    del prompt["9"], prompt["10"]
    prompt["11"] = {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "kinema/frames"}}
    frames_workflow = tmp_path / "txt2vid_frames.json"
    frames_workflow.write_text(json.dumps(prompt))
    hashes = {}
    for mode, extra in (("server", ["--server", alive.url]), ("embedded", [])):
        folder = tmp_path / mode
        assert cli.main([str(frames_workflow), *SMALL, "--set", "seed=2", *extra, "--output", str(folder)],
                        host=comfy_host if not extra else None, home=home, stand_ins=stand_ins) == 0
        (record,) = latest_records(folder / "manifest.jsonl")
        hashes[mode] = [hashlib.sha256(Path(path).read_bytes()).hexdigest() for path in record["outputs"]]
    comfy_host.release_models()
    assert hashes["server"] == hashes["embedded"] and len(hashes["server"]) == 4


@pytest.mark.heavy
def test_ray_actors_each_hold_a_comfyui_and_share_the_jobs(home, tmp_path, capsys):
    import ray

    workflow = tmp_path / "colours.json"
    workflow.write_text(json.dumps({
        "1": {"class_type": "EmptyImage", "inputs": {"width": 32, "height": 16, "batch_size": 1, "color": 0}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "ray/colour"}},
    }))
    output = tmp_path / "batch"
    earlier_work = set((home / "ray-work").glob("actor*"))
    try:
        code = cli.main([str(workflow), "--ray", "--ray-actors", "2", "--sweep", "color=[0, 255, 65280, 16711680]",
                         "--no-progress", "--output", str(output)], home=home)
    finally:
        ray.shutdown()
    assert code == 0, capsys.readouterr()
    records = latest_records(output / "manifest.jsonl")
    assert len(records) == 4 and {r["status"] for r in records} == {"done"}
    assert {r["worker"] for r in records} == {"ray actor 0", "ray actor 1"}
    assert set((home / "ray-work").glob("actor*")) <= earlier_work, "the actors' work folders are removed after the batch"
    from PIL import Image

    colours = {}
    for record in records:
        (png,) = map(Path, record["outputs"])
        assert png.parent == output / "ray"
        colours[record["params"]["color"]] = Image.open(png).convert("RGB").getpixel((0, 0))
    assert colours == {0: (0, 0, 0), 255: (0, 0, 255), 65280: (0, 255, 0), 16711680: (255, 0, 0)}
