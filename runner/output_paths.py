"""Output file names a host reports are untrusted: each must name a file inside its folder before we touch it.

A server's /history (or a custom node's ui output) gives ``filename`` and ``subfolder``
strings; joined naively, ``../../x`` would make the runner write, and later move, a file
outside the output folder. Such an entry refuses the job before anything is written.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath, PureWindowsPath

OUTPUT_TYPES = ("output", "temp", "input")  # ComfyUI's folder types for saved files
_CONTROL = re.compile(r"[\x00-\x1f]")


class JobRefused(RuntimeError):
    """The runner refused to go on with a job; the message is a whole sentence for the manifest."""


def _parts(text: str) -> list[str]:
    """Path components under either separator (a Windows server may report backslashes)."""
    return [part for part in PureWindowsPath(text.replace("/", "\\")).parts if part not in ("", ".")]


def relative_path_problem(text: str, label: str) -> str | None:
    """Why ``text`` (called ``label`` in the sentence) is no path inside a folder: control characters, absolute, '..'."""
    if _CONTROL.search(text):
        return f"{label} holds control characters"
    windows = PureWindowsPath(text)
    if PurePosixPath(text).is_absolute() or windows.drive or windows.root:
        return f"{label} {text!r} is an absolute path"
    if ".." in _parts(text):
        return f"{label} {text!r} climbs out of the folder with '..'"
    return None


def unsafe_reason(entry: dict) -> str | None:
    """Why an output entry (filename, subfolder, type) cannot be trusted, or None when it names a file inside its folder."""
    filename, subfolder, kind = entry.get("filename"), entry.get("subfolder", "") or "", entry.get("type", "output")
    if not isinstance(filename, str) or not isinstance(subfolder, str):
        return "its filename or subfolder is not text"
    if kind not in OUTPUT_TYPES:
        return f"its type {kind!r} is none of {', '.join(OUTPUT_TYPES)}"
    for label, text in (("filename", filename), ("subfolder", subfolder)):
        reason = relative_path_problem(text, f"its {label}")
        if reason is not None:
            return reason
    if len(_parts(filename)) != 1:
        return f"its filename {filename!r} is not a plain file name"
    return None


def check_entries(entries: list[dict], source: str) -> None:
    """JobRefused naming the first entry that would point outside its folder (nothing has been written yet)."""
    for entry in entries:
        reason = unsafe_reason(entry)
        if reason is not None:
            raise JobRefused(
                f"{source} reported an output file (filename {entry.get('filename')!r}, subfolder {entry.get('subfolder', '')!r}) "
                f"that points outside its output folder: {reason}. Kinema wrote and moved nothing for this job; a node on "
                "that ComfyUI saves outside its output folder (check the save nodes' filename_prefix and the custom nodes)")


def relative_path(entry: dict) -> Path:
    """The entry's place inside its folder (call ``check_entries`` first)."""
    return Path(*_parts(entry.get("subfolder", "") or ""), entry["filename"])


def is_inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` resolves (links and '..' followed) to somewhere inside ``folder``."""
    return path.resolve().is_relative_to(folder.resolve())
