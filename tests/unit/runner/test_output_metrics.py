"""--metrics measures a saved video in windows that share their edge frame: the same figures as the whole video at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from kinema.runner import output_metrics
from kinema.video_metrics import measure_video


@pytest.fixture
def panning_animation(tmp_path):
    generator = np.random.default_rng(5)
    texture = (generator.random((48, 48 + 2 * 70, 3)) * 255).astype(np.uint8)
    frames = [Image.fromarray(texture[:, 2 * step: 2 * step + 48]) for step in range(70)]
    path = tmp_path / "pan.png"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=125)  # an animated PNG, lossless
    return path, frames


def test_windows_give_the_figures_of_the_whole_video(panning_animation):
    path, frames = panning_animation
    whole = measure_video(torch.from_numpy(np.stack([np.asarray(f) for f in frames])).float() / 255.0).to_dict()
    windowed = output_metrics.measure_file(path)
    assert 70 > 2 * output_metrics.WINDOW_FRAMES, "the video spans several windows"
    assert windowed["frames"] == whole["frames"] == 70 and len(windowed["per_pair"]["ssim"]) == 69
    for metric in ("warp_error", "ssim", "warp_kept_fraction"):
        assert windowed["per_pair"][metric] == pytest.approx(whole["per_pair"][metric], abs=1e-9)
    assert windowed["mean"]["warp_error"] == pytest.approx(whole["mean"]["warp_error"], abs=1e-12)
    assert windowed["per_pair"]["clip_consistency"] is None  # no embedder: not measured


def _colour_and_layout(frames: torch.Tensor) -> torch.Tensor:
    """An image embedder for the test: each frame's 4x4 average-pooled pixels [F, H, W, 3] -> [F, 48]."""
    pooled = torch.nn.functional.adaptive_avg_pool2d(frames.permute(0, 3, 1, 2), 4)  # [F, 3, 4, 4]
    return pooled.flatten(1) - 0.5  # [F, 48], centred so cosines vary


def test_clip_consistency_through_windows_is_that_of_the_whole_video(panning_animation):
    path, frames = panning_animation
    batch = torch.from_numpy(np.stack([np.asarray(f) for f in frames])).float() / 255.0  # [70, 48, 48, 3]
    whole = measure_video(batch, _colour_and_layout).to_dict()
    windowed = output_metrics.measure_file(path, _colour_and_layout)
    assert len(windowed["per_pair"]["clip_consistency"]) == 69
    assert windowed["per_pair"]["clip_consistency"] == pytest.approx(whole["per_pair"]["clip_consistency"], abs=1e-12)
    assert windowed["mean"]["clip_consistency"] == pytest.approx(whole["mean"]["clip_consistency"], abs=1e-12)
    assert min(windowed["per_pair"]["clip_consistency"]) < 0.999  # the pan changes what the embedder sees


def test_still_images_and_other_files_have_no_figures(tmp_path):
    still = tmp_path / "still.png"
    Image.new("RGB", (32, 32)).save(still)
    latent = tmp_path / "x.latent"
    latent.write_bytes(b"\0" * 16)
    assert output_metrics.measure_outputs([still, latent]) == {}
