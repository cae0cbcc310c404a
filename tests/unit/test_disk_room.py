"""scripts/disk_room.py: a test run that cannot fit on disk is refused in one sentence before anything is built."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import disk_room  # noqa: E402

GB = 10**9


def _fixtures(home: Path) -> dict[str, tuple[Path, float]]:
    return {"the stand-in for sd_xl_base_1.0.safetensors": (home / "fixtures" / "checkpoints" / "sdxl.safetensors", 6.94),
            "the stand-in for flownet.pkl": (home / "fixtures" / "rife" / "flownet.pkl", 0.01)}


def test_a_fresh_machine_needs_both_venvs_every_fixture_and_room_for_test_files(tmp_path):
    venvs = [tmp_path / "hosts" / "0.3.75" / "venv", tmp_path / "hosts" / "0.8.0" / "venv"]
    needs = disk_room.missing_parts(venvs, _fixtures(tmp_path))
    sizes = {need.what: need.gb for need in needs}
    # the second venv shares the first one's files, so it costs far less
    assert sizes["the venv 0.3.75"] == disk_room.FIRST_VENV_GB and sizes["the venv 0.8.0"] == disk_room.SHARED_VENV_GB
    assert sizes["the stand-in for sd_xl_base_1.0.safetensors"] == 6.94
    assert sum(sizes.values()) == pytest.approx(disk_room.FIRST_VENV_GB + disk_room.SHARED_VENV_GB + 6.95 + disk_room.TEST_FILES_GB)

    sentence = disk_room.shortfall(needs, free_bytes=lambda path: 14 * GB)
    wanted = sum(need.gb for need in needs)  # 23.45: the sentence rounds it
    assert sentence.startswith(f"The test run needs about {wanted:.1f} GB free on the disk of ")
    assert "the venv 0.3.75 7.50 GB" in sentence and "14.0 GB is free there" in sentence
    assert "KINEMA_HOME" in sentence and "TMPDIR" in sentence
    assert disk_room.shortfall(needs, free_bytes=lambda path: int((wanted + 0.1) * GB)) is None


def test_what_is_already_there_is_not_counted_again(tmp_path):
    venvs = [tmp_path / "hosts" / "0.3.75" / "venv", tmp_path / "hosts" / "0.8.0" / "venv"]
    (venvs[1] / "bin").mkdir(parents=True)
    (venvs[1] / "bin" / "python").write_text("")
    fixtures = _fixtures(tmp_path)
    sdxl = fixtures["the stand-in for sd_xl_base_1.0.safetensors"][0]
    sdxl.parent.mkdir(parents=True)
    sdxl.write_bytes(b"written")
    sizes = {need.what: need.gb for need in disk_room.missing_parts(venvs, fixtures)}
    assert sizes == {"the venv 0.3.75": disk_room.SHARED_VENV_GB, "the stand-in for flownet.pkl": 0.01,
                     "the tests' temporary files": disk_room.TEST_FILES_GB}
    enough = disk_room.SHARED_VENV_GB + 0.01 + disk_room.TEST_FILES_GB + 0.1
    assert disk_room.shortfall(disk_room.missing_parts(venvs, fixtures), free_bytes=lambda p: int(enough * GB)) is None
