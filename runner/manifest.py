"""The batch manifest: one JSON line per job, rewritten atomically after every change.

A job's line holds its parameters, status (done / failed / interrupted), timings,
output paths and error. A later run of the same command skips jobs whose line says
done (matched by the content hash of the resolved prompt) and runs the others again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from pathlib import Path

DONE, FAILED, INTERRUPTED = "done", "failed", "interrupted"


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


class Manifest:
    """JSONL file of JobRecords keyed by job key; safe to update from worker threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.records: dict[str, JobRecord] = self._read()

    def _read(self) -> dict[str, JobRecord]:
        if not self.path.exists():
            return {}
        records = {}
        fields = {field.name for field in dataclasses.fields(JobRecord)}
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                record = JobRecord(**{name: value for name, value in data.items() if name in fields})
            except (json.JSONDecodeError, TypeError) as err:
                raise ValueError(f"{self.path}, line {number}: not a manifest record ({err}); "
                                 "move the file away to start a fresh batch") from err
            records[record.key] = record
        return records

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

    def record(self, record: JobRecord) -> None:
        with self._lock:
            self.records[record.key] = record
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(self.path.name + ".partial")
        with open(partial, "w", encoding="utf-8") as handle:
            for record in self.records.values():
                handle.write(json.dumps(dataclasses.asdict(record), sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, self.path)
