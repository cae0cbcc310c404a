"""Is there room on disk for a test run? Checked before anything is built (standard library only).

A whole run builds two host venvs and writes every random real-layout model file (about
25 GB on a fresh machine); running out half-way ends in hundreds of unrelated errors, so
run_tests.py adds up what is still missing and refuses in one sentence when it cannot fit.
"""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

GB = 1e9
FIRST_VENV_GB = 7.5  # torch with its CUDA libraries, ComfyUI's requirements, the test tools
SHARED_VENV_GB = 1.0  # another host's venv: the files it has in common are hard links (shared_venv_files)
TEST_FILES_GB = 8.0  # pytest's kept temporary folders: about 3 GB per host tier (full-size modules, layouts)


@dataclasses.dataclass(frozen=True)
class Need:
    what: str
    folder: Path  # where it will be written
    gb: float


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def missing_parts(host_venvs: list[Path], fixture_files: dict[str, tuple[Path, float]]) -> list[Need]:
    """What a run would still write: venvs not built yet, fixture files not written yet, the tests' own files."""
    built = [venv for venv in host_venvs if (venv / "bin" / "python").exists()]
    needs = []
    for venv in host_venvs:
        if venv not in built:
            needs.append(Need(f"the venv {venv.parent.name}", venv, SHARED_VENV_GB if built else FIRST_VENV_GB))
            built.append(venv)
    needs += [Need(name, path.parent, gb) for name, (path, gb) in fixture_files.items() if not path.exists()]
    needs.append(Need("the tests' temporary files", Path(tempfile.gettempdir()), TEST_FILES_GB))
    return needs


def shortfall(needs: list[Need], free_bytes: Callable[[Path], int] = lambda path: shutil.disk_usage(path).free) -> str | None:
    """A sentence naming the disk, what it must hold, what is free and the fix; None when everything fits."""
    by_disk: dict[int, list[Need]] = {}
    anchor: dict[int, Path] = {}
    for need in needs:
        folder = _existing_parent(need.folder)
        device = folder.stat().st_dev
        by_disk.setdefault(device, []).append(need)
        anchor.setdefault(device, folder)
    for device, on_disk in by_disk.items():
        wanted = sum(need.gb for need in on_disk)
        free = free_bytes(anchor[device]) / GB
        if free < wanted:
            parts = ", ".join(f"{need.what} {need.gb:.2f} GB" for need in on_disk)
            return (f"The test run needs about {wanted:.1f} GB free on the disk of {anchor[device]} ({parts}) and "
                    f"{free:.1f} GB is free there: free some space, or point KINEMA_HOME (venvs and model "
                    f"fixtures) and TMPDIR (test files) at a larger disk, and run again.")
    return None
