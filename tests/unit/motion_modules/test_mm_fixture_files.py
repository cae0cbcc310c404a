"""The fixture writer itself: true sinusoids, non-zero weights, determinism, atomic writes, CLI."""

from __future__ import annotations

import math

import torch
from safetensors.torch import load_file


def test_position_tables_are_true_sinusoids(mm_files):
    pe = mm_files.sinusoids(24, 320)
    assert pe.shape == (1, 24, 320)
    pos, i = 5, 7  # channel 2i holds sin, 2i+1 cos, at frequency 10000^(-2i/C)
    angle = pos * 10000 ** (-2 * i / 320)
    assert math.isclose(pe[0, pos, 2 * i].item(), math.sin(angle), abs_tol=1e-6)
    assert math.isclose(pe[0, pos, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-6)


def test_files_are_deterministic_and_every_weight_is_random(mm_files, tmp_path):
    a = mm_files.write_motion_module("hotshotxl", tmp_path / "a.safetensors", channel_divisor=10)
    b = mm_files.write_motion_module("hotshotxl", tmp_path / "b.safetensors", channel_divisor=10)
    tensors, again = load_file(a), load_file(b)
    assert tensors.keys() == again.keys() and all(torch.equal(tensors[k], again[k]) for k in tensors)
    assert all(t.dtype == torch.float32 for t in tensors.values())
    proj_out = tensors["up_blocks.0.temporal_attentions.2.proj_out.weight"]
    assert (proj_out != 0).all() and proj_out.std() > 0.01  # non-zero, so tests can see the module act
    assert not any(p.name.endswith(".partial") for p in tmp_path.iterdir())


def test_v3_file_carries_a_non_tensor_config_entry(mm_files, tmp_path):
    raw = torch.load(mm_files.write_motion_module("v3", tmp_path / "v3.ckpt", channel_divisor=10), weights_only=True)
    assert isinstance(raw["animatediff_config"], str)


def test_cli_writes_the_requested_files(mm_files, tmp_path):
    mm_files.main([str(tmp_path), "--family", "v1", "--family", "pia", "--lora", "--small"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["mm_sd_v15.ckpt", "pia.ckpt", "v2_lora_ZoomIn.ckpt"])
