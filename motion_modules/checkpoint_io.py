"""Read a weights file into a dict of tensors, safely, with errors a user can act on.

``.safetensors`` goes through safetensors; ``.ckpt/.pt/.pth/.bin`` through
``torch.load(weights_only=True)`` only, so a checkpoint can never execute code; ``weight_files``
first names what else the file may be (a Git LFS pointer, an error page, a damaged archive).
The file's content decides the reader when it contradicts the extension (a safetensors file
renamed ``.ckpt`` still loads). Wrappers are stripped here: a top-level ``state_dict``
entry and non-tensor entries such as v3's ``animatediff_config``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from ..weight_files import UnusableWeights, load_weights_only, reject_text_stand_in
from .errors import MotionModuleFileError

log = logging.getLogger(__name__)

TORCH_EXTENSIONS = (".ckpt", ".pt", ".pth", ".bin")
SAFETENSORS_EXTENSIONS = (".safetensors", ".sft")
SUPPORTED_EXTENSIONS = SAFETENSORS_EXTENSIONS + TORCH_EXTENSIONS
_REDOWNLOAD = "Download the file again (check its size against the source) and replace this one"


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """All tensors of a checkpoint, keyed by name, on the CPU in the file's dtype."""
    return unwrap_state_dict(read_checkpoint(path), path)


def read_checkpoint(path: str | Path) -> Any:
    """The raw object stored in the file (normally a dict), or a MotionModuleFileError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_EXTENSIONS:
        raise MotionModuleFileError(
            path, f"unsupported file type '{path.suffix}'", f"Use a {', '.join(SUPPORTED_EXTENSIONS)} file"
        )
    if not path.is_file():
        raise MotionModuleFileError(path, "file not found", "Check the path or the models folder")
    head = _read_head(path)
    if not head:
        raise MotionModuleFileError(path, "the file is empty (0 bytes), so the download or copy failed", _REDOWNLOAD)
    if head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<":  # also after a UTF-8 byte-order mark
        raise MotionModuleFileError(
            path,
            "the file is an HTML/XML page, not a checkpoint (a saved web page or login/error page instead of the "
            "model; a pickle loader reports this as \"invalid load key, '<'\")",
            "Download the file itself (on Hugging Face the 'download' button or a /resolve/ URL, not the /blob/ page)",
        )
    try:
        reject_text_stand_in(path)  # a Git LFS pointer or a JSON error page saved in place of the model
    except UnusableWeights as exc:
        raise MotionModuleFileError(path, exc.problem, exc.fix or _REDOWNLOAD) from exc
    if _looks_like_safetensors(head):
        if suffix not in SAFETENSORS_EXTENSIONS:
            log.warning("%s is a safetensors file despite its '%s' extension; reading it as safetensors", path, suffix)
        return _load_safetensors(path)
    if suffix in SAFETENSORS_EXTENSIONS:
        raise MotionModuleFileError(path, "the file does not start with a safetensors header (damaged or not safetensors)", _REDOWNLOAD)
    return _load_torch(path)


def unwrap_state_dict(raw: Any, path: str | Path) -> dict[str, torch.Tensor]:
    """Strip a top-level ``state_dict`` wrapper and drop non-tensor entries (configs, step counters)."""
    if not isinstance(raw, dict):
        raise MotionModuleFileError(
            path, f"the file holds a {type(raw).__name__}, not a dict of weights", "Use a checkpoint saved as a state dict"
        )
    if isinstance(raw.get("state_dict"), dict):
        raw = raw["state_dict"]
    tensors = {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    dropped = sorted(str(k) for k in raw if k not in tensors)
    if dropped:
        log.debug("%s: ignoring %d non-tensor entries: %s", path, len(dropped), dropped[:10])
    return tensors


def _read_head(path: Path, size: int = 512) -> bytes:
    with path.open("rb") as f:
        return f.read(size)


def _looks_like_safetensors(head: bytes) -> bool:
    # 8-byte little-endian header length, then a JSON object.
    return len(head) > 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") > 0


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except Exception as exc:  # safetensors raises its own error type for every kind of damage
        raise MotionModuleFileError(path, f"the safetensors file is damaged or incomplete ({exc})", _REDOWNLOAD) from exc


def _load_torch(path: Path) -> Any:
    try:
        return load_weights_only(path)
    except UnusableWeights as exc:
        raise MotionModuleFileError(path, exc.problem, exc.fix or _REDOWNLOAD) from exc
