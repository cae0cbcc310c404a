"""Shared helpers for the motion-module tests: the fixture-file writer and small seeded modules."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fixtures import motion_module_files  # scripts/ is on sys.path (root conftest)

SMALL = 10  # channel divisor for logic tests: 320 -> 32, 1280 -> 128; the key set stays exact


@pytest.fixture(scope="session")
def mm_files():
    """The independent fixture writer, scripts/fixtures/motion_module_files.py."""
    return motion_module_files


@pytest.fixture(scope="session")
def small_file(mm_files, tmp_path_factory):
    """``small_file(family)`` -> path of a small (channels / 10) file of that family, written once per session."""
    root = tmp_path_factory.mktemp("small_motion_modules")
    written: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in written:
            name = mm_files.FILE_NAMES[family]
            written[family] = mm_files.write_motion_module(family, root / name, channel_divisor=SMALL)
        return written[family]

    return get


def randomize_(module: torch.nn.Module, seed: int = 0, std: float = 0.2) -> torch.nn.Module:
    """Seeded random parameters (norm weights around 1); buffers (position encodings) stay as built."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=generator) * std
            param.copy_(noise + 1.0 if name.endswith("weight") and param.dim() == 1 else noise)
    return module.eval()


@pytest.fixture
def make_module():
    """``make_module(channels=64, pe_length=32, seed=0)`` -> a MotionModule with seeded random weights."""
    from kinema.motion_modules.network import MotionModule

    def make(channels: int = 64, pe_length: int = 32, seed: int = 0) -> MotionModule:
        return randomize_(MotionModule(channels, pe_length), seed)

    return make


@pytest.fixture
def rand():
    """``rand(*shape, seed=1)`` -> a seeded standard-normal tensor (no global RNG)."""

    def make(*shape: int, seed: int = 1) -> torch.Tensor:
        return torch.randn(shape, generator=torch.Generator().manual_seed(seed))

    return make
