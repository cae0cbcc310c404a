"""Reading weight files: safe loading and the errors a user gets for broken files."""

from __future__ import annotations

import builtins

import pytest
import torch
from safetensors.torch import save_file

from kinema.motion_modules.checkpoint_io import read_tensors
from kinema.motion_modules.errors import MotionModuleFileError

WEIGHTS = {"a.weight": torch.arange(6.0).reshape(2, 3), "b.bias": torch.ones(4, dtype=torch.float16)}


class RunsCodeWhenUnpickled:
    """A pickle payload that, if executed, writes a marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.exec, (f"open({self.marker!r}, 'w').write('executed')",)


def assert_same(loaded, expected):
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert loaded[key].dtype == value.dtype and torch.equal(loaded[key], value)


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".pth", ".bin"])
def test_reads_torch_checkpoints_in_their_dtype(tmp_path, suffix):
    path = tmp_path / f"m{suffix}"
    torch.save(WEIGHTS, path)
    assert_same(read_tensors(path), WEIGHTS)


def test_reads_legacy_non_zip_checkpoints(tmp_path):
    path = tmp_path / "old.ckpt"
    torch.save(WEIGHTS, path, _use_new_zipfile_serialization=False)
    assert_same(read_tensors(path), WEIGHTS)


def test_reads_safetensors_even_with_a_ckpt_extension(tmp_path):
    save_file(WEIGHTS, tmp_path / "m.safetensors")
    (tmp_path / "m.safetensors").rename(tmp_path / "renamed.ckpt")
    assert_same(read_tensors(tmp_path / "renamed.ckpt"), WEIGHTS)


def test_strips_state_dict_wrapper_and_non_tensor_entries(tmp_path):
    path = tmp_path / "wrapped.ckpt"
    torch.save({"state_dict": {**WEIGHTS, "animatediff_config": "x: 1"}, "global_step": 7, "epoch": 1}, path)
    assert_same(read_tensors(path), WEIGHTS)


def test_a_pickle_that_would_run_code_is_refused_and_not_executed(tmp_path):
    marker = tmp_path / "executed.txt"
    path = tmp_path / "evil.ckpt"
    torch.save({"a.weight": torch.zeros(2), "payload": RunsCodeWhenUnpickled(marker)}, path)
    with pytest.raises(MotionModuleFileError, match=r"(?s)refused.*nothing in it was executed.*safetensors"):
        read_tensors(path)
    assert not marker.exists()


@pytest.mark.parametrize("page", [b"<!DOCTYPE html>\n<html><body>Sign in</body></html>", b"\n  <html><head>", b"<?xml version='1.0'?>", b"\xef\xbb\xbf<!doctype html>"])
@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_an_html_page_saved_as_a_checkpoint_is_named_as_such(tmp_path, page, suffix):
    path = tmp_path / f"mm_sd_v15_v2{suffix}"
    path.write_bytes(page)
    with pytest.raises(MotionModuleFileError, match=r"(?s)HTML.*not a checkpoint.*Download the file itself") as info:
        read_tensors(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_an_empty_file_is_named_as_such(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(MotionModuleFileError, match=r"empty \(0 bytes\).*Download the file again"):
        read_tensors(path)


def test_a_truncated_torch_checkpoint_is_named_as_such(tmp_path):
    path = tmp_path / "cut.ckpt"
    torch.save({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MotionModuleFileError, match=r"truncated or damaged.*Download the file again"):
        read_tensors(path)


def test_a_truncated_legacy_checkpoint_is_named_as_such(tmp_path):
    path = tmp_path / "cut_old.pt"
    torch.save({"w": torch.zeros(1000)}, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(MotionModuleFileError, match=r"truncated or damaged"):
        read_tensors(path)


def test_a_truncated_safetensors_file_is_named_as_such(tmp_path):
    path = tmp_path / "cut.safetensors"
    save_file({"w": torch.zeros(1000)}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MotionModuleFileError, match=r"damaged or incomplete.*Download the file again"):
        read_tensors(path)


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(MotionModuleFileError, match="safetensors header"):
        read_tensors(path)


def test_unsupported_extension_and_missing_file(tmp_path):
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    with pytest.raises(MotionModuleFileError, match=r"unsupported file type '\.gguf'.*\.safetensors"):
        read_tensors(tmp_path / "model.gguf")
    with pytest.raises(MotionModuleFileError, match="file not found"):
        read_tensors(tmp_path / "absent.ckpt")


def test_a_checkpoint_that_is_not_a_dict_is_refused(tmp_path):
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(MotionModuleFileError, match="holds a list, not a dict"):
        read_tensors(path)


def test_file_errors_are_value_errors():
    assert issubclass(MotionModuleFileError, ValueError)
