"""Files that are not what their name says are named for what they are, before anything in them is unpickled.

A Git LFS pointer, a JSON error page and a damaged PyTorch zip used to be refused as "pickled
Python objects or code" (torch's weights-only loader says "Weights only load failed" for any
problem), and a zip naming its tensor data by an integer ended in a bare AssertionError.
"""

from __future__ import annotations

import builtins

import pytest
import torch

from fixtures.hostile_corpus import JSON_ERRORS, LFS_POINTER, WEIGHTS, damaged_zip, torch_zip
from kinema.motion_modules.checkpoint_io import read_tensors
from kinema.motion_modules.errors import MotionModuleFileError

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch's note on protocols other than 2
REDOWNLOAD = "Download the file again"


class RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').write('executed')",)


def refused(path) -> str:
    with pytest.raises(MotionModuleFileError) as info:
        read_tensors(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    return message


@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_a_git_lfs_pointer_is_named_with_both_sizes_and_the_fix(tmp_path, suffix):
    path = tmp_path / f"mm_sd_v15_v2{suffix}"
    path.write_bytes(LFS_POINTER)
    message = refused(path)
    assert f"a Git LFS pointer of {len(LFS_POINTER)} bytes" in message, message
    assert "points to a file of 1,817,900,695 bytes (1.8 GB)" in message and "git lfs pull" in message, message


@pytest.mark.parametrize("source", sorted(JSON_ERRORS))
@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_a_json_error_page_is_named_with_its_start_and_the_fix(tmp_path, source, suffix):
    path = tmp_path / f"v3_sd15_mm{suffix}"
    path.write_bytes(JSON_ERRORS[source])
    message = refused(path)
    start = " ".join(JSON_ERRORS[source].decode().split())[:100]
    assert f"a JSON document (an error page from a download: {start})" in message, message
    assert REDOWNLOAD in message and "access token" in message, message


@pytest.mark.parametrize("damage,what", [
    ("truncated", "(the list of its files at the end is missing or unreadable: File is not a zip file)"),
    ("bad central directory", "(the list of its files at the end is missing or unreadable: Bad magic number"),
    ("data.pkl missing", "(it has no data.pkl, the list of its tensors)"),
    ("data.pkl garbage", "(its data.pkl is not a readable pickle: "),
    ("data.pkl cut short", "(its data.pkl is not a readable pickle: pickle exhausted before seeing STOP)"),
    ("storage record missing", "(the tensor data record m/data/0 that data.pkl refers to is missing)"),
    ("integer persistent id", "(data.pkl refers to tensor data as 0, not as the ('storage', type, key, device, size) record"),
])
def test_a_damaged_zip_says_what_is_missing_not_code(tmp_path, damage, what):
    message = refused(damaged_zip(tmp_path / "m.ckpt", damage))
    assert f"the file is a damaged PyTorch zip archive {what}" in message, message
    assert REDOWNLOAD in message and "pickled" not in message, message


def test_a_stream_that_is_not_a_pickle_is_damaged_not_code(tmp_path):
    path = tmp_path / "noise.ckpt"
    path.write_bytes(b"\x80\x02\xff" + bytes(range(200)))  # a pickle header, then an opcode that does not exist
    message = refused(path)
    assert "truncated or damaged, or not a PyTorch checkpoint (its pickle data cannot be read: " in message, message
    assert "pickled" not in message, message


@pytest.mark.parametrize("length", [2**50, 2**63 - 1])
def test_an_opcode_claiming_petabytes_is_damaged_not_a_memory_error(tmp_path, length):
    path = tmp_path / "huge.ckpt"
    path.write_bytes(b"\x80\x04\x8e" + length.to_bytes(8, "little") + b"x" * 9)  # BINBYTES8 of 2**50 bytes, 20 bytes on disk
    with pytest.raises(MotionModuleFileError, match="huge.ckpt.*damaged"):
        read_tensors(path)


def test_a_refusal_that_names_no_foreign_global_is_not_called_code(tmp_path):
    # NEXT_BUFFER parses, but torch's weights-only unpickler does not read it: its refusal is about the format.
    message = refused(torch_zip(tmp_path / "m.ckpt", {"/data.pkl": b"\x80\x05\x97."}))
    assert "weights-only loader cannot read the file (UnpicklingError: Unsupported operand 151)" in message, message
    assert "pickled" not in message and REDOWNLOAD in message, message


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pickled_code_is_refused_by_name_and_not_run(tmp_path, zipped, protocol):
    marker = tmp_path / "executed.txt"
    path = tmp_path / "evil.ckpt"
    torch.save({"a.weight": torch.zeros(2), "payload": RunsCodeWhenUnpickled(marker)}, path,
               pickle_protocol=protocol, _use_new_zipfile_serialization=zipped)
    message = refused(path)
    assert ("refused to load: the file holds pickled Python objects besides weights (nothing in it was executed): it names "
            "builtins.exec") in message and ".safetensors" in message, message
    assert not marker.exists()


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
@pytest.mark.parametrize("protocol", [2, 3])  # torch's weights-only loader reads no protocol-4 FRAME
def test_plain_weights_load_with_either_pickle_protocol_torch_reads(tmp_path, zipped, protocol):
    path = tmp_path / "m.ckpt"
    torch.save({"state_dict": WEIGHTS, "global_step": 3}, path, pickle_protocol=protocol, _use_new_zipfile_serialization=zipped)
    loaded = read_tensors(path)
    assert loaded.keys() == WEIGHTS.keys() and torch.equal(loaded["a.weight"], WEIGHTS["a.weight"])
