"""Run planned jobs on workers, publish their outputs, keep the manifest, and summarise.

Jobs the manifest marks done are skipped; failed and interrupted ones run again. One
thread per worker pulls jobs from a shared queue, so each server or Ray actor takes the
next job when it has room; the embedded worker runs in the calling thread (Ctrl-C).
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import logging
import threading
import time
from pathlib import Path

from .job_plan import Job
from .manifest import DONE, FAILED, INTERRUPTED, JobRecord, Manifest
from .output_paths import JobRefused
from .publish import publish, staging_folder
from .workers import WorkerLost

log = logging.getLogger(__name__)


@dataclasses.dataclass
class BatchReport:
    records: list[JobRecord] = dataclasses.field(default_factory=list)
    skipped: list[Job] = dataclasses.field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(record.status == status for record in self.records)

    @property
    def ok(self) -> bool:
        return all(record.status == DONE for record in self.records)


class JobQueue:
    """Jobs waiting for a worker, and how many are out with one: a job whose worker died comes back to the front."""

    def __init__(self, jobs: list[Job]) -> None:
        self._jobs = collections.deque(jobs)
        self._out = 0
        self._lock = threading.Lock()

    def take(self) -> Job | None:
        with self._lock:
            if not self._jobs:
                return None
            self._out += 1
            return self._jobs.popleft()

    def finished(self) -> None:
        with self._lock:
            self._out -= 1

    def give_back(self, job: Job) -> None:
        with self._lock:
            self._out -= 1
            self._jobs.appendleft(job)

    def may_get_more(self) -> bool:
        """Empty now, but a job out with a worker may still come back (its server may die)."""
        with self._lock:
            return self._out > 0

    def drain(self) -> list[Job]:
        with self._lock:
            jobs, self._jobs = list(self._jobs), collections.deque()
            return jobs


class Batch:
    def __init__(self, jobs: list[Job], manifest: Manifest, output_root: Path, job_bar=None, measure=None) -> None:
        """``measure(paths) -> {path: figures}``: temporal-consistency metrics of a done job's outputs (--metrics)."""
        self.jobs = jobs
        self.manifest = manifest
        self.output_root = output_root
        self.report = BatchReport()
        self.queue = JobQueue([])
        self.stop = threading.Event()
        self.job_bar = job_bar
        self.measure = measure
        self._lock = threading.Lock()

    def run(self, workers: list) -> BatchReport:
        """Run every pending job, holding the manifest (ManifestBusy if another command does); several workers: a thread each."""
        started = time.perf_counter()
        with self.manifest.writing():
            # after taking the lock: a command that ran before this one may have finished jobs meanwhile
            done = {job.key for job in self.jobs if self.manifest.is_done(job.key)}  # looks at every listed output: once
            self.report.skipped = [job for job in self.jobs if job.key in done]
            self.queue = JobQueue([job for job in self.jobs if job.key not in done])
            if self.job_bar is not None:
                self.job_bar.update(len(self.report.skipped))
            self._run_workers(workers)
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _run_workers(self, workers: list) -> None:
        if len(workers) == 1 and not hasattr(workers[0], "wait_for_room"):
            self._work(workers[0])
        else:
            threads = [threading.Thread(target=self._work, args=(worker,), name=worker.name, daemon=True) for worker in workers]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():  # join in slices so Ctrl-C reaches the main thread
                    thread.join(timeout=0.5)
        for job in self.queue.drain():
            reason = "stopped before it started (Ctrl-C)" if self.stop.is_set() else "no worker left: every server stopped answering"
            self._finish(job, INTERRUPTED if self.stop.is_set() else FAILED, None, [], reason, None)

    def _work(self, worker) -> None:
        while not self.stop.is_set():
            try:
                if hasattr(worker, "wait_for_room"):
                    worker.wait_for_room(self.stop)
            except WorkerLost as err:
                log.error("%s", err)
                return
            job = None if self.stop.is_set() else self.queue.take()
            if job is None:
                if self.stop.is_set() or not self.queue.may_get_more():
                    return
                time.sleep(0.2)  # another worker's job may come back to the queue
                continue
            staging = staging_folder(self.output_root, job.key)
            try:
                result = worker.run(job, staging)
            except WorkerLost as err:
                log.error("%s; job %s goes to another worker", err, job.key)
                self.queue.give_back(job)
                return
            except JobRefused as err:  # e.g. a server named an output outside its output folder: nothing was written
                self.queue.finished()
                self._finish(job, FAILED, None, [], str(err), worker.name)
                continue
            except Exception as err:  # noqa: BLE001  (a runner fault fails this job, not the batch)
                log.exception("job %s: the runner failed", job.key)
                self.queue.finished()
                self._finish(job, FAILED, None, [], f"the runner failed on this job ({type(err).__name__}: {err})", worker.name)
                continue
            self.queue.finished()
            if not result.success:
                status = INTERRUPTED if result.interrupted else FAILED
                self._finish(job, status, result, [], result.describe_failure(), worker.name)
                continue
            try:
                outputs = publish(result.files, staging, self.output_root, job.key)
            except OSError as err:  # disk full, permissions: the job ran, but its files are not in place
                self._finish(job, FAILED, result, [], f"publishing the outputs into {self.output_root} failed: {err}", worker.name)
                continue
            except JobRefused as err:
                self._finish(job, FAILED, result, [], str(err), worker.name)
                continue
            self._finish(job, DONE, result, outputs, None, worker.name, self._metrics(job, outputs))

    def _metrics(self, job: Job, outputs: list[Path]) -> dict:
        if self.measure is None:
            return {}
        try:
            return self.measure(outputs)
        except Exception as err:  # noqa: BLE001  (the job's files are in place; a metric that fails must not undo it)
            log.warning("job %s: temporal-consistency metrics failed (%s); the outputs are kept", job.key, err)
            return {"error": f"{type(err).__name__}: {err}"}

    def _finish(self, job: Job, status: str, result, outputs: list[Path], error: str | None, worker: str | None,
                metrics: dict | None = None) -> None:
        record = JobRecord(
            key=job.key, workflow=str(job.workflow), params=job.params, status=status,
            attempts=self.manifest.attempts(job.key) + (result is not None),
            seconds=round(result.seconds, 3) if result else 0.0,
            node_seconds={node: round(sec, 3) for node, sec in (result.node_seconds if result else {}).items()},
            outputs=[str(path) for path in outputs], error=error, worker=worker,
            finished_at=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            metrics=metrics or {},
        )
        self.manifest.record(record)
        with self._lock:
            self.report.records.append(record)
            if self.job_bar is not None:
                self.job_bar.update(1)
                self.job_bar.set_postfix_str(f"{self.report.count(DONE)} done, {self.report.count(FAILED)} failed")
        if status == FAILED:
            log.error("job %s (%s %s) failed: %s", job.key, job.workflow.name, job.params, error)
