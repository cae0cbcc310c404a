"""Host venvs share the files they have in common as hard links (standard library only).

Both hosts install the same pinned wheels: torch with its CUDA libraries, triton, scipy and
more, about 6 GB in each venv. After pip installs into one venv, every file whose wheel
RECORD gives it the same sha256 and size as the same file of another host's venv becomes a
hard link to that file, so the second venv costs hundreds of megabytes instead of gigabytes.
pip removes or replaces files and never writes into one, so an upgrade in one venv leaves
the other's files as they were.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path


def site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    return found[0] if found else None


def _record_entries(dist_info: Path) -> dict[str, tuple[str, int]]:
    """{path relative to site-packages: (hash, size)} of the files a wheel's RECORD hashes."""
    record = dist_info / "RECORD"
    if not record.is_file():
        return {}
    entries = {}
    with record.open(newline="") as stream:
        for row in csv.reader(stream):
            if len(row) == 3 and row[1] and row[2].isdigit() and not row[0].startswith(".."):
                entries[row[0]] = (row[1], int(row[2]))
    return entries


def _link_in_place(source: Path, target: Path) -> None:
    """Make ``target`` a hard link to ``source``, atomically (a temporary link renamed over it)."""
    temporary = target.with_name(f".{target.name}.kinema-link")
    temporary.unlink(missing_ok=True)
    os.link(source, temporary)
    os.replace(temporary, target)


def link_identical_files(venv: Path, others: list[Path]) -> tuple[int, int]:
    """Hard-link ``venv``'s files to identical ones in ``others``; returns (files linked, bytes saved)."""
    site = site_packages(venv)
    if site is None:
        return 0, 0
    linked = saved = 0
    for other_venv in others:
        other_site = site_packages(other_venv)
        if other_site is None or other_site.stat().st_dev != site.stat().st_dev:
            continue  # hard links cannot cross file systems
        for dist_info in site.glob("*.dist-info"):
            other_dist_info = other_site / dist_info.name  # same name: same distribution and version
            if not other_dist_info.is_dir():
                continue
            ours, theirs = _record_entries(dist_info), _record_entries(other_dist_info)
            for relative, hashed in ours.items():
                if theirs.get(relative) != hashed:
                    continue
                target, source = site / relative, other_site / relative
                try:
                    target_stat, source_stat = target.stat(), source.stat()
                except FileNotFoundError:
                    continue
                if target_stat.st_ino == source_stat.st_ino or target_stat.st_size != hashed[1] \
                        or source_stat.st_size != hashed[1]:
                    continue  # already shared, or changed since pip installed it
                _link_in_place(source, target)
                linked += 1
                saved += hashed[1]
    return linked, saved
