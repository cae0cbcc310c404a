"""Move a job's finished files from its staging folder into the output folder, atomically.

A worker gathers a job's saved files in a staging folder (``OUTPUT/.staging/KEY``):
linked (or copied) out of ComfyUI's output folder, downloaded from a server, or sent by a Ray actor.
Only a job that finished moves its files out, each with one rename, so the output
folder never holds half a video; names carry the job key, so jobs never overwrite each other.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .output_paths import JobRefused, is_inside

_COUNTER = re.compile(r"^(?P<prefix>.*?)_(?P<counter>\d{5})_?$")  # ComfyUI's "name_00001_" file stems


def staging_folder(output_root: Path, key: str) -> Path:
    """A fresh, empty staging folder for one job (anything left by a crashed attempt is discarded)."""
    folder = output_root / ".staging" / key
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def final_name(staged: Path, key: str) -> str:
    match = _COUNTER.match(staged.stem)
    prefix, counter = (match["prefix"], match["counter"]) if match else (staged.stem, "00001")
    return f"{prefix}_{key}_{counter}{staged.suffix}"


def publish(staged_files: list[Path], staging: Path, output_root: Path, key: str) -> list[Path]:
    """Rename staged files into place (subfolders kept); files outside the staging folder (previews) are skipped.

    Every target is checked before the first rename: a job moves all its files or none.
    """
    moves = []
    for staged in staged_files:
        try:
            relative = staged.relative_to(staging)
        except ValueError:
            continue
        target = output_root / relative.parent / final_name(staged, key)
        if not is_inside(target, output_root):  # staged names are checked on arrival; a link in the tree must not lead out
            raise JobRefused(f"{target} would land outside the output folder {output_root} (a link in the folder leads "
                             "out); nothing of this job was moved. Remove the link or choose another --output")
        moves.append((staged, target))
    for staged, target in moves:
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)
    shutil.rmtree(staging, ignore_errors=True)
    return [target for _, target in moves]
