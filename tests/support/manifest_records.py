"""A batch manifest as tests read it: each job's latest outcome (the manifest appends a line per outcome)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kinema.runner.manifest import Manifest


def latest_records(manifest: Path) -> list[dict]:
    """Each job's latest record as a dict, in the order jobs first appeared."""
    return [dataclasses.asdict(record) for record in Manifest(manifest).records.values()]
