"""Small text files saved in place of a model: a Git LFS pointer or a JSON error page from a download."""

from __future__ import annotations

import re
from pathlib import Path

from .unusable import UnusableWeights

_LFS_VERSIONS = (b"version https://git-lfs.github.com/spec/", b"version https://hawser.github.com/spec/")
_LFS_SIZE = re.compile(rb"^size (\d+)\s*$", re.MULTILINE)
_HEAD = 1024  # a pointer is about 130 bytes; an error page's first 100 characters fit too


def reject_text_stand_in(path: Path) -> None:
    """Raise UnusableWeights if the file is an LFS pointer or a JSON document; otherwise return."""
    with path.open("rb") as f:
        head = f.read(_HEAD)
    if head.startswith(_LFS_VERSIONS):
        size = _LFS_SIZE.search(head)
        target = f"a file of {_size(int(size.group(1)))}" if size else "a file of unknown size"
        raise UnusableWeights(
            f"the file is a Git LFS pointer of {path.stat().st_size} bytes, not the model: it points to {target} that "
            "was never downloaded (the repository was cloned without Git LFS)",
            "Run 'git lfs pull' in the clone it came from (after 'git lfs install'), or download the file itself")
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    # A safetensors file also has a '{' early, but after a binary length whose high bytes are 0.
    if text[:1] in (b"{", b"[") and b"\x00" not in head:
        first = " ".join(text.decode("utf-8", errors="replace").split())[:100]
        raise UnusableWeights(
            f"the file is a JSON document (an error page from a download: {first}), not weights",
            "Download the file again; if its source needs a login (a gated or private Hugging Face repository), accept its "
            "terms and download with an access token that may read it, and check the repository and file name")


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count:,} bytes ({count / scale:.1f} {unit})"
    return f"{count:,} bytes"
