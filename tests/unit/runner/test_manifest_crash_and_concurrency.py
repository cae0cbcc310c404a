"""The manifest under crashes, long batches and a second command on the same output folder."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from kinema.runner.manifest import DONE, FAILED, JobRecord, Manifest, ManifestBusy

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


def _record(key: str, status: str = DONE) -> JobRecord:
    return JobRecord(key, "wf.json", {"seed": key}, status)


def test_a_last_line_torn_by_a_crash_is_dropped_and_its_job_runs_again(tmp_path):
    path = tmp_path / "manifest.jsonl"
    manifest = Manifest(path)
    with manifest.writing():
        manifest.record(_record("k1"))
        manifest.record(_record("k2"))
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) - 20])  # SIGKILL inside the second write
    torn = Manifest(path)
    assert set(torn.records) == {"k1"}
    with torn.writing():
        assert path.read_text().endswith("\n") and len(path.read_text().splitlines()) == 1
        torn.record(_record("k2"))
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["k1", "k2"]


def test_a_second_command_on_the_same_manifest_is_refused_with_the_first_ones_pid(tmp_path):
    path = tmp_path / "manifest.jsonl"
    with Manifest(path).writing():
        with pytest.raises(ManifestBusy, match=r"process \d+.*own --output"):
            with Manifest(path).writing():
                pass
    with Manifest(path).writing():  # released with the first command
        pass


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path):
    path = tmp_path / "manifest.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(SCRIPTS)!r})
        from pack_import import import_pack
        import_pack()
        from kinema.runner.manifest import Manifest
        with Manifest(__import__("pathlib").Path({str(path)!r})).writing():
            print("held", flush=True)
            time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ManifestBusy, match=str(holder.pid)):
            with Manifest(path).writing():
                pass
    finally:
        holder.kill()
        holder.wait()
    with Manifest(path).writing():
        pass


def test_a_record_appends_its_line_and_rewrites_nothing(tmp_path):
    """Rewriting the whole file per job made 2,000 jobs take 36 s (quadratic): a record now costs one line, at any length."""
    path = tmp_path / "manifest.jsonl"
    manifest = Manifest(path)
    with manifest.writing():
        for index in range(3000):
            manifest.record(_record(f"b{index}", FAILED))
        before = path.stat()
        line = (json.dumps(dataclasses.asdict(_record("last")), sort_keys=True) + "\n").encode()
        manifest.record(_record("last"))
        after = path.stat()
    assert after.st_ino == before.st_ino, "the file was appended to, not replaced"
    assert after.st_size - before.st_size == len(line)
    assert path.read_bytes().endswith(line) and len(Manifest(path).records) == 3001


def test_records_go_only_through_a_held_manifest(tmp_path):
    with pytest.raises(RuntimeError, match="writing"):
        Manifest(tmp_path / "manifest.jsonl").record(_record("k"))
