"""The manifest survives restarts and crashes; published files move in whole, named by job."""

from __future__ import annotations

import json

import pytest

from kinema.runner.manifest import DONE, FAILED, JobRecord, Manifest
from kinema.runner.publish import final_name, publish, staging_folder


def test_records_round_trip_one_line_per_job(tmp_path):
    path = tmp_path / "m" / "manifest.jsonl"
    out = tmp_path / "video.mp4"
    out.write_bytes(b"x")
    manifest = Manifest(path)
    with manifest.writing():
        manifest.record(JobRecord("k1", "wf.json", {"seed": 1}, FAILED, error="boom"))
        manifest.record(JobRecord("k2", "wf.json", {"seed": 2}, DONE, outputs=[str(out)]))
        manifest.record(JobRecord("k1", "wf.json", {"seed": 1}, DONE, attempts=2, outputs=[str(out)]))
    lines = path.read_text().splitlines()
    assert len(lines) == 3, "outcomes are appended, one line each"
    again = Manifest(path)
    assert again.is_done("k1") and again.is_done("k2") and again.attempts("k1") == 2
    with again.writing():  # the next command that writes tidies the file: one line per job, the latest outcome
        pass
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["key"] == "k1" and json.loads(lines[0])["attempts"] == 2
    assert not list(path.parent.glob("*.partial"))
    out.unlink()
    assert not Manifest(path).is_done("k2"), "a done job whose output was deleted runs again"


def test_a_corrupt_manifest_is_refused_with_its_line(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_text('{"key": "k1", "workflow": "w", "params": {}, "status": "done"}\n{"key": "k2", "wor\n')
    with pytest.raises(ValueError, match="manifest.jsonl, line 2"):
        Manifest(path)


def test_publish_renames_staged_files_into_place(tmp_path):
    output = tmp_path / "out"
    staging = staging_folder(output, "abc123")
    (staging / "kinema").mkdir()
    video = staging / "kinema" / "animatediff_sd15_00001_.mp4"
    video.write_bytes(b"video")
    elsewhere = tmp_path / "preview.png"
    elsewhere.write_bytes(b"p")
    published = publish([video, elsewhere], staging, output, "abc123")
    assert published == [output / "kinema" / "animatediff_sd15_abc123_00001.mp4"]
    assert published[0].read_bytes() == b"video"
    assert not staging.exists() and elsewhere.exists()
    assert final_name(video.with_name("plain.png"), "k") == "plain_k_00001.png"


def test_staging_discards_what_a_crashed_attempt_left(tmp_path):
    first = staging_folder(tmp_path, "k")
    (first / "half.mp4").write_bytes(b"half")
    assert list(staging_folder(tmp_path, "k").iterdir()) == []


def test_a_link_in_the_output_tree_that_leads_out_refuses_the_job_and_moves_nothing(tmp_path):
    from kinema.runner.output_paths import JobRefused

    output, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    elsewhere.mkdir()
    output.mkdir()
    (output / "videos").symlink_to(elsewhere, target_is_directory=True)
    staging = staging_folder(output, "k")
    (staging / "videos").mkdir()
    first, second = staging / "a.png", staging / "videos" / "b.mp4"
    first.write_bytes(b"a")
    second.write_bytes(b"b")
    with pytest.raises(JobRefused, match="nothing of this job was moved"):
        publish([first, second], staging, output, "k")
    assert first.exists() and second.exists() and list(elsewhere.iterdir()) == []
