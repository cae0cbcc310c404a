"""Shared helpers for the interpolator tests: seeded textures and the independent RIFE fixture writer."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from fixtures import rife_files  # scripts/ is on sys.path (root conftest)


def smooth_texture(size: int, seed: int) -> np.ndarray:
    """A seeded RGB texture [size, size, 3] in [0, 1] with detail at several scales (flow can lock onto it)."""
    noise = torch.rand(size, size, 3, generator=torch.Generator().manual_seed(seed)).numpy()
    layers = sum(weight * cv2.GaussianBlur(noise, (0, 0), sigma) for sigma, weight in ((1.5, 1.0), (4.0, 2.0), (10.0, 3.0)))
    return ((layers - layers.min()) / (layers.max() - layers.min())).astype(np.float32)


@pytest.fixture(scope="session")
def texture():
    """``texture(size, seed)`` -> a smooth random RGB texture [size, size, 3] float32 in [0, 1]."""
    return smooth_texture


@pytest.fixture(scope="session")
def images():
    """``images(*frames)`` -> a ComfyUI image batch [N, H, W, 3] from numpy frames [H, W, 3]."""
    return lambda *frames: torch.from_numpy(np.stack(frames))


@pytest.fixture(scope="session")
def rife_writer():
    """The independent writer of random real-layout flownet.pkl files, scripts/fixtures/rife_files.py."""
    return rife_files


@pytest.fixture(scope="session")
def rife_file(tmp_path_factory):
    """A random flownet.pkl with the published layout, written once per session."""
    return rife_files.write_rife(tmp_path_factory.mktemp("rife") / "flownet.pkl")


@pytest.fixture(scope="session")
def rife_network(rife_file):
    from kinema.interpolation.rife import load_rife

    return load_rife(rife_file)
