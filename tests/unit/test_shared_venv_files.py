"""scripts/shared_venv_files.py: a host venv's files identical (by their wheel RECORD) to another's become hard links."""

from __future__ import annotations

import base64
import hashlib
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import shared_venv_files  # noqa: E402


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _install(venv: Path, dist_info: str, files: dict[str, bytes]) -> Path:
    """Lay out files and their RECORD the way pip leaves a wheel in site-packages."""
    site = venv / "lib" / "python3.11" / "site-packages"
    rows = []
    for relative, data in files.items():
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_bytes(data)
        rows.append(f"{relative},{_record_hash(data)},{len(data)}")
    (site / dist_info).mkdir(parents=True)
    rows += [f"{dist_info}/RECORD,,", "pkg/__pycache__/a.cpython-311.pyc,,", "../../../bin/tool,sha256=x,3"]
    (site / dist_info / "RECORD").write_text("\n".join(rows) + "\n")
    return site


@pytest.fixture
def two_venvs(tmp_path):
    library = {"pkg/lib.so": b"\x7fELF" * 5000, "pkg/a.py": b"print(1)\n", "pkg/b.py": b"print(2)\n"}
    first = _install(tmp_path / "first", "pkg-1.0.dist-info", library)
    second = _install(tmp_path / "second", "pkg-1.0.dist-info", library)
    _install(tmp_path / "first", "other-2.0.dist-info", {"other/x.py": b"same bytes, another version\n"})
    _install(tmp_path / "second", "other-2.1.dist-info", {"other/x.py": b"same bytes, another version\n"})
    return tmp_path / "first", first, tmp_path / "second", second


def test_identical_files_become_one_file_and_read_the_same(two_venvs):
    first_venv, first, second_venv, second = two_venvs
    linked, saved = shared_venv_files.link_identical_files(second_venv, [first_venv])
    assert (linked, saved) == (3, 20000 + 9 + 9)
    for relative in ("pkg/lib.so", "pkg/a.py", "pkg/b.py"):
        assert (second / relative).stat().st_ino == (first / relative).stat().st_ino
        assert (second / relative).read_bytes() == (first / relative).read_bytes()
    # a distribution of another version is never shared, even where the bytes agree
    assert (second / "other/x.py").stat().st_ino != (first / "other/x.py").stat().st_ino
    assert shared_venv_files.link_identical_files(second_venv, [first_venv]) == (0, 0)  # idempotent
    assert not list(second.rglob("*.kinema-link"))


def test_a_file_changed_since_install_keeps_its_own_bytes(two_venvs):
    first_venv, first, second_venv, second = two_venvs
    (second / "pkg/a.py").write_bytes(b"print('edited by hand')\n")  # another size than RECORD says
    (first / "pkg/b.py").write_bytes(b"print(3)\nprint(4)\n")  # the other venv's copy changed
    linked, _ = shared_venv_files.link_identical_files(second_venv, [first_venv])
    assert linked == 1  # lib.so only
    assert (second / "pkg/a.py").read_bytes() == b"print('edited by hand')\n"
    assert (second / "pkg/b.py").read_bytes() == b"print(2)\n"


def test_replacing_a_file_in_one_venv_leaves_the_other_as_it_was(two_venvs):
    """pip upgrades by removing and writing new files: the shared inode stays with the other venv."""
    first_venv, first, second_venv, second = two_venvs
    shared_venv_files.link_identical_files(second_venv, [first_venv])
    replacement = first / "pkg" / "lib.so.new"
    replacement.write_bytes(b"new build")
    replacement.replace(first / "pkg/lib.so")
    assert (second / "pkg/lib.so").read_bytes() == b"\x7fELF" * 5000


def test_a_venv_without_site_packages_or_record_shares_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    assert shared_venv_files.link_identical_files(tmp_path / "empty", [tmp_path / "missing"]) == (0, 0)
