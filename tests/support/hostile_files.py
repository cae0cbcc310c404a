"""Hostile stand-ins for weight files, written into a test's tmp_path (no binaries in the repository).

Text saved in place of a model (a Git LFS pointer, JSON error pages) and PyTorch zip
archives damaged in the ways a download or a tool breaks them.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import torch

LFS_TARGET_SIZE = 1_817_900_695  # mm_sd_v15_v2.ckpt
LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"5c" * 32 + b"\nsize "
               + str(LFS_TARGET_SIZE).encode() + b"\n")
JSON_ERRORS = {
    "github": b'{"error":"Repository not found"}',
    "hugging-face": (b'{\n  "error": "Access to model guoyww/animatediff is restricted. You must have access to it and be '
                     b'authenticated to access it. Please log in."\n}'),
}
WEIGHTS = {"a.weight": torch.arange(6.0).reshape(2, 3)}


def torch_zip(path: Path, replace: dict[str, bytes | None] | None = None) -> Path:
    """``torch.save(WEIGHTS)``, then every record whose name ends with a key of ``replace`` swapped for its bytes (None: left out)."""
    torch.save(WEIGHTS, path)
    with zipfile.ZipFile(path) as archive:
        records = [(info.filename, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in records:
            key = next((key for key in replace or {} if name.endswith(key)), None)
            if key is None or replace[key] is not None:
                archive.writestr(name, data if key is None else replace[key])
    return path


def data_pkl(path: Path) -> bytes:
    """The data.pkl torch.save writes for WEIGHTS (``path`` is scratch space)."""
    torch.save(WEIGHTS, path)
    with zipfile.ZipFile(path) as archive:
        return archive.read(next(name for name in archive.namelist() if name.endswith("/data.pkl")))


def integer_persistent_id_pickle() -> bytes:
    """A data.pkl that names its tensor's data by the integer 0, not by torch's ('storage', ...) tuple."""
    class IntegerIds(pickle.Pickler):
        def persistent_id(self, obj):
            return 0 if obj == "tensor data" else None

    buffer = io.BytesIO()
    IntegerIds(buffer, protocol=2).dump({"a.weight": "tensor data"})
    return buffer.getvalue()


def damaged_zip(path: Path, damage: str) -> Path:
    """A PyTorch zip archive broken as ``damage`` says (see DAMAGED_ZIPS)."""
    if damage == "truncated":
        torch_zip(path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "bad central directory":
        data = bytearray(torch_zip(path).read_bytes())
        at = data.rfind(b"PK\x01\x02")
        data[at:at + 4] = b"XXXX"
        path.write_bytes(bytes(data))
    elif damage == "data.pkl cut short":
        torch_zip(path, {"/data.pkl": data_pkl(path)[:-1]})  # without its STOP
    else:
        torch_zip(path, DAMAGED_ZIPS[damage])
    return path


DAMAGED_ZIPS: dict[str, dict[str, bytes | None] | None] = {
    "truncated": None,
    "bad central directory": None,
    "data.pkl missing": {"/data.pkl": None},
    "data.pkl garbage": {"/data.pkl": b"\x00\x01 not a pickle"},
    "data.pkl cut short": None,
    "storage record missing": {"/data/0": None},
    "integer persistent id": {"/data.pkl": integer_persistent_id_pickle()},
}
