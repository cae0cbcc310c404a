"""Open a PyTorch checkpoint with ``torch.load(weights_only=True)`` after checking its container without unpickling it.

torch's weights-only unpickler reports every problem in a pickle (a foreign global, but also
an opcode it does not read) as "Weights only load failed", and a zip whose ``data.pkl``
names its tensor data oddly ends in a bare AssertionError. So the archive and the pickle
opcodes are read first (``pickle_scan``): damage is named before torch sees the file, and a
refusal is called code only when the pickle names something a state dict never needs.
"""

from __future__ import annotations

import pickle
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import torch

from .pickle_scan import PickleDamaged, PickleFacts, is_weights_global, scan_pickle
from .unusable import UnusableWeights

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.serialization.MAGIC_NUMBER: the first pickle of a pre-1.6 file
CODE_FIX = "Use a .safetensors copy of this model, or a clean copy from its official source"
_TORCH_ERRORS = (EOFError, RuntimeError, zipfile.BadZipFile, ValueError, OSError, AssertionError, TypeError, KeyError, IndexError)


def load_weights_only(path: Path) -> Any:
    """The unpickled object (tensors and plain containers only; zip files memory-mapped), or UnusableWeights."""
    with path.open("rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
    facts = _check_zip(path) if is_zip else _check_legacy(path)
    try:
        # mmap keeps a 1.8 GB module out of RAM until used; only the zip format supports it.
        return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        foreign = list(dict.fromkeys(name for fact in facts for name in fact.globals if not is_weights_global(name)))
        if foreign and "weights only load failed" in str(exc).lower():
            raise UnusableWeights(
                "refused to load: the file holds pickled Python objects besides weights (nothing in it was executed): it "
                f"names {', '.join(foreign[:3])}, and only plain weights are accepted", CODE_FIX) from exc
        raise UnusableWeights(f"PyTorch's weights-only loader cannot read the file ({_reason(exc)}): it is damaged, or was "
                              "written in a form plain checkpoints never use (such as pickle protocol 4 or later)") from exc
    except _TORCH_ERRORS as exc:
        raise _damaged(_reason(exc)) from exc


def _check_zip(path: Path) -> list[PickleFacts]:
    """torch.save's zip: ``<archive>/data.pkl`` is a readable pickle and every storage it names has its record."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _damaged_zip(f"the list of its files at the end is missing or unreadable: {exc}") from exc
    with archive:
        names = set(archive.namelist())
        index = next((name for name in sorted(names) if name.endswith("/data.pkl") and name.count("/") == 1), None)
        if index is None:
            raise _damaged_zip("it has no data.pkl, the list of its tensors")
        try:
            with archive.open(index) as stream:
                facts = scan_pickle(stream)
        except PickleDamaged as exc:
            raise _damaged_zip(f"its data.pkl is not a readable pickle: {exc}") from exc
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error) as exc:
            raise _damaged_zip(f"its data.pkl cannot be read: {exc}") from exc
    prefix = index.removesuffix("data.pkl")
    for pid in facts.persistent_ids:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[2], str)):
            raise _damaged_zip(f"data.pkl refers to tensor data as {pid!r}, not as the ('storage', type, key, device, size) "
                               "record PyTorch writes")
        if f"{prefix}data/{pid[2]}" not in names:
            raise _damaged_zip(f"the tensor data record {prefix}data/{pid[2]} that data.pkl refers to is missing")
    return [facts]


def _check_legacy(path: Path) -> list[PickleFacts]:
    """A pre-1.6 file is pickles in a row: the magic number, the protocol, system info, then the object."""
    try:
        with path.open("rb") as stream:
            facts = [scan_pickle(stream)]
            if facts[0].result == LEGACY_MAGIC:
                facts += [scan_pickle(stream) for _ in range(3)]
    except PickleDamaged as exc:
        raise _damaged(f"its pickle data cannot be read: {exc}") from exc
    odd = [pid for fact in facts for pid in fact.persistent_ids if not (isinstance(pid, tuple) and pid and isinstance(pid[0], str))]
    if odd:
        raise _damaged(f"its pickle refers to tensor data as {odd[0]!r}, which PyTorch never writes")
    return facts


def _reason(exc: BaseException) -> str:
    text = str(exc)
    inner = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)  # the cause inside torch's long weights-only message
    line = inner.group(1) if inner else (text.strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {line[:200]}"


def _damaged(reason: str) -> UnusableWeights:
    return UnusableWeights(f"the file is truncated or damaged, or not a PyTorch checkpoint ({reason})")


def _damaged_zip(what: str) -> UnusableWeights:
    return UnusableWeights(f"the file is a damaged PyTorch zip archive ({what}): the download or copy is truncated or damaged")
