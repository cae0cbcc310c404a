"""Crash-safe batches, proven: a runner SIGKILLed mid-job resumes with every job done exactly once, the manifest whole
at every moment, no partial file among the outputs, and the same bits whether a job ran in the killed runner's
successor or in this process's ComfyUI. (A server killed mid-batch, with the same seeds' bits compared between a server
and this process: test_batch_scale_out.py; Ctrl-C: test_batch_runner.py; both under the same manifest watch.)"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from manifest_records import latest_records
from manifest_watch import ManifestWatch
from metrics_batch import blur_workflow

from kinema.runner import cli
from kinema.runner.manifest import DONE
from kinema.runner.media import describe_video

BATCH = Path(__file__).resolve().parents[2] / "scripts" / "batch.py"
SWEEP = ["--sweep", "blur_radius=1..6", "--stand-ins", "--no-progress"]


def _start_runner(workflow: Path, output: Path) -> subprocess.Popen:
    """scripts/batch.py in this host's Python (as it relaunches itself), in its own process group."""
    env = dict(os.environ, KINEMA_BATCH_IN_HOST="1")
    return subprocess.Popen([sys.executable, str(BATCH), str(workflow), *SWEEP, "--output", str(output)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _kill_mid_job(runner: subprocess.Popen, output: Path, deadline: float = 240.0) -> str:
    """SIGKILL the runner while a job is staged (running) after at least one job is done; return the killed job's key."""
    started = time.monotonic()
    while time.monotonic() - started < deadline and runner.poll() is None:
        done = {r["key"] for r in latest_records(output / "manifest.jsonl")} if (output / "manifest.jsonl").exists() else set()
        staged = [p.name for p in (output / ".staging").glob("*") if p.name != "comfyui" and p.name not in done] \
            if done else []
        if staged:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
            return staged[0]
        time.sleep(0.002)
    raise AssertionError(f"the runner never ran a second job: {runner.communicate()[0][-3000:]}")


def _same_input_clip(input_folder: Path) -> None:
    """The sample clip with one fixed mtime: core's Load Video reports the file's mtime as its "is_changed" value,
    which ComfyUI writes into every saved file's prompt metadata (a fresh copy would change the output's bits)."""
    from fixtures.sample_inputs import ensure_sample_inputs

    for path in ensure_sample_inputs(input_folder).values():
        os.utime(path, (1_700_000_000, 1_700_000_000))


def _hashes(output: Path) -> dict[str, str]:
    return {record["key"]: hashlib.sha256(Path(record["outputs"][0]).read_bytes()).hexdigest()
            for record in latest_records(output / "manifest.jsonl")}


def test_a_killed_runner_resumes_every_job_exactly_once_with_the_same_bits(comfy_host, home, stand_ins, tmp_path, capsys):
    workflow = blur_workflow(tmp_path)
    output = tmp_path / "killed"
    _same_input_clip(home / "work" / "input")  # the input folder of the runner scripts/batch.py boots
    _same_input_clip(comfy_host.input_directory())
    with ManifestWatch(output / "manifest.jsonl") as watch:
        killed_job = _kill_mid_job(_start_runner(workflow, output), output)
        done_before = {record["key"] for record in latest_records(output / "manifest.jsonl")}
        published_before = {path: path.stat().st_mtime_ns for path in output.rglob("*.mp4") if ".staging" not in path.parts}
        rerun = _start_runner(workflow, output)
        log = rerun.communicate(timeout=600)[0]
    assert rerun.returncode == 0, log[-3000:]
    assert watch.problems == [] and watch.reads > 10, watch.problems[:5]
    records = latest_records(output / "manifest.jsonl")
    assert len(records) == 6 and all(r["status"] == DONE for r in records)
    assert 1 <= len(done_before) <= 5, "killed mid-batch, after a job was done"
    assert all(r["attempts"] == 1 for r in records), "no job ran twice: those done before the kill were skipped"
    assert f"{6 - len(done_before)} done, {len(done_before)} skipped (done before)" in log
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in published_before.items()), "done outputs untouched"
    videos = sorted(path for path in output.rglob("*.mp4") if ".staging" not in path.parts)
    assert videos == sorted(Path(r["outputs"][0]) for r in records)
    assert all(describe_video(video).frames == 16 for video in videos), "no partial file among the outputs"
    assert not [path for path in (output / ".staging").rglob("*") if path.is_file()], "nothing left in staging"
    with capsys.disabled():
        print(f"\nkill/resume: SIGKILL during job {killed_job} with {len(done_before)} of 6 done; the re-run did "
              f"{6 - len(done_before)} and skipped {len(done_before)}: 0 lost, 0 run twice, 0 partial outputs; the manifest was "
              f"read {watch.reads} times while written ({watch.most_lines} lines at most), {len(watch.problems)} bad states")

    in_process = tmp_path / "embedded"
    assert cli.main([str(workflow), *SWEEP, "--output", str(in_process)], host=comfy_host, home=home, stand_ins=stand_ins) == 0
    assert _hashes(output) == _hashes(in_process), "same job, same bits, in the resumed runner and in this process"
