"""The batch manifest: one JSON line per job outcome, appended as jobs finish, owned by one command at a time.

A job's line holds its parameters, status (done / failed / interrupted), timings,
output paths and error. A later run of the same command skips jobs whose latest line
says done (matched by the content hash of the resolved prompt) and runs the others again.

Each outcome is one ``write`` of one whole line on a file opened for appending, then an
fsync: a crash loses at most the line being written, never an earlier one, and the cost
of a record does not grow with the batch. A torn last line (the process died inside that
write) is dropped when the manifest is next opened for writing, which also rewrites the
file to one line per job. While a command writes, it holds an exclusive lock beside the
manifest; a second command on the same manifest is refused with the first one's pid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import threading
from pathlib import Path

from .file_lock import LockHeld, exclusive_lock

DONE, FAILED, INTERRUPTED = "done", "failed", "interrupted"
log = logging.getLogger(__name__)


@dataclasses.dataclass
class JobRecord:
    key: str
    workflow: str
    params: dict
    status: str
    attempts: int = 1
    seconds: float = 0.0
    node_seconds: dict = dataclasses.field(default_factory=dict)
    outputs: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None
    worker: str | None = None  # "embedded", a server URL or a Ray actor
    finished_at: str | None = None
    metrics: dict = dataclasses.field(default_factory=dict)  # output path -> temporal-consistency figures (--metrics)


class ManifestBusy(RuntimeError):
    """Another batch command writes this manifest now."""


class Manifest:
    """JobRecords keyed by job key (the latest line of a key wins); safe to update from worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.records, self._lines, self._torn = self._read()

    def _read(self) -> tuple[dict[str, JobRecord], int, bool]:
        """(records, lines read, whether the last line was torn by a crash)."""
        if not self.path.exists():
            return {}, 0, False
        records = {}
        fields = {field.name for field in dataclasses.fields(JobRecord)}
        text = self.path.read_text(encoding="utf-8")
        lines = text.splitlines()
        torn = bool(text) and not text.endswith("\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                record = JobRecord(**{name: value for name, value in data.items() if name in fields})
            except (json.JSONDecodeError, TypeError) as err:
                if torn and number == len(lines):  # the write a crash cut short: that job simply runs again
                    log.warning("%s: dropping the last line, cut short by a crash; its job runs again", self.path)
                    break
                raise ValueError(f"{self.path}, line {number}: not a manifest record ({err}); "
                                 "move the file away to start a fresh batch") from err
            records[record.key] = record
        return records, len(lines), torn

    def status(self, key: str) -> str | None:
        record = self.records.get(key)
        return record.status if record else None

    def is_done(self, key: str) -> bool:
        """Done, and every output it lists is still on disk (a deleted output means: run it again)."""
        record = self.records.get(key)
        return record is not None and record.status == DONE and all(Path(path).exists() for path in record.outputs)

    def attempts(self, key: str) -> int:
        record = self.records.get(key)
        return record.attempts if record else 0

    @contextlib.contextmanager
    def writing(self):
        """Hold the manifest for this command: lock it, take in what others wrote before, tidy it, append from here on."""
        try:
            with exclusive_lock(self.path.with_name(self.path.name + ".lock")):
                self.records, self._lines, self._torn = self._read()
                if self._torn or self._lines > len(self.records):
                    self._compact()
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
                try:
                    yield self
                finally:
                    fd, self._fd = self._fd, None
                    os.close(fd)
        except LockHeld as err:
            raise ManifestBusy(f"another batch command is writing {self.path} ({err}); wait for it to finish, "
                               "or give this command its own --output (or --manifest)") from err

    def record(self, record: JobRecord) -> None:
        if self._fd is None:
            raise RuntimeError("Manifest.record outside Manifest.writing(): the manifest is not held by this command")
        line = (json.dumps(dataclasses.asdict(record), sort_keys=True) + "\n").encode("utf-8")
        with self._lock:
            self.records[record.key] = record
            written = os.write(self._fd, line)  # one write of one whole line (appends are never interleaved)
            while written < len(line):  # a short write (disk nearly full): finish the line, or fail with OSError
                written += os.write(self._fd, line[written:])
            os.fsync(self._fd)

    def _compact(self) -> None:
        """One line per job, replacing the file in one rename (lines superseded by later outcomes go)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        with open(partial, "w", encoding="utf-8", newline="\n") as handle:
            for record in self.records.values():
                handle.write(json.dumps(dataclasses.asdict(record), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)
        self._lines, self._torn = len(self.records), False
