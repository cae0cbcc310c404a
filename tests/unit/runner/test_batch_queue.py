"""Jobs between workers: a job whose worker dies is run by another, even one that had nothing left to do."""

from __future__ import annotations

import threading
from pathlib import Path

from kinema.runner.batch import Batch
from kinema.runner.job_plan import Job
from kinema.runner.manifest import Manifest
from kinema.runner.results import RunResult
from kinema.runner.workers import WorkerLost


class ServerLike:
    """A worker with a queue to wait on (as a ComfyUI server is); ``dies_on`` raises WorkerLost for that job.

    ``room``: an event the worker waits for before taking a job (to fix who takes what first).
    """

    def __init__(self, name: str, dies_on: str | None = None, started: threading.Event | None = None,
                 room: threading.Event | None = None) -> None:
        self.name, self.dies_on, self.started, self.room = name, dies_on, started, room
        self.ran: list[str] = []
        self.took_first = threading.Event()

    def wait_for_room(self, stop) -> None:
        if self.room is not None:
            self.room.wait(5)

    def run(self, job: Job, staging: Path) -> RunResult:
        seed = job.params["seed"]
        self.took_first.set()
        if seed == self.dies_on:
            self.started.wait(5)  # the other worker has emptied the queue by now
            raise WorkerLost(f"{self.name} stopped answering")
        self.ran.append(seed)
        if self.started is not None:
            self.started.set()
        out = staging / f"{seed}_00001_.txt"
        out.write_text(seed)
        return RunResult(prompt_id=seed, success=True, files=[out], seconds=0.01)


def _jobs(seeds: list[str]) -> list[Job]:
    return [Job(Path("wf.json"), {"seed": seed}, {"1": {"class_type": "X", "inputs": {"seed": seed}}}, None) for seed in seeds]


def test_a_dead_workers_job_goes_to_a_worker_that_was_done(tmp_path):
    everyone_started = threading.Event()
    doomed = ServerLike("doomed", dies_on="b", started=everyone_started)
    # the survivor waits until the doomed worker holds "b"; then it runs "a" and finds the queue empty while "b" is out
    survivor = ServerLike("survivor", started=everyone_started, room=doomed.took_first)
    jobs = _jobs(["b", "a"])
    batch = Batch(jobs, Manifest(tmp_path / "manifest.jsonl"), tmp_path / "out")
    report = batch.run([doomed, survivor])
    assert report.ok and sorted(record.key for record in report.records) == sorted(job.key for job in jobs)
    assert sorted(survivor.ran) == ["a", "b"] and doomed.ran == []
    assert {record.worker for record in report.records} == {"survivor"}
    assert sorted(path.name for path in (tmp_path / "out").iterdir() if path.is_file()) == sorted(
        f"{seed}_{job.key}_00001.txt" for seed, job in zip("ba", jobs, strict=True))


def test_when_every_worker_is_gone_the_jobs_are_failed_not_lost(tmp_path):
    started = threading.Event()
    started.set()
    workers = [ServerLike(name, dies_on="a", started=started) for name in ("first", "second")]
    report = Batch(_jobs(["a"]), Manifest(tmp_path / "manifest.jsonl"), tmp_path / "out").run(workers)
    (record,) = report.records
    assert record.status == "failed" and "no worker left" in record.error and record.attempts == 0
