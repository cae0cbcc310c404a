"""measure_video's record (means, JSON-safe dict, text) and its refusals of bad input, each a sentence with the fix."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from kinema.video_metrics import VideoMetrics, check_frames, measure_video


def test_the_record_holds_one_value_per_pair_and_their_means(moving_clip):
    metrics = measure_video(moving_clip[:5])
    assert (metrics.frames, metrics.height, metrics.width) == (5, 64, 64)
    assert len(metrics.warp_error) == len(metrics.ssim) == len(metrics.warp_kept_fraction) == 4
    assert metrics.mean_warp_error == pytest.approx(math.fsum(metrics.warp_error) / 4)
    assert metrics.mean_ssim == pytest.approx(math.fsum(metrics.ssim) / 4)
    with pytest.raises(dataclasses.FrozenInstanceError):
        metrics.ssim = ()


def test_to_dict_is_json_safe_and_round_trips(moving_clip):
    metrics = measure_video(moving_clip[:3], embed=lambda frames: frames.mean(dim=(1, 2)))
    data = json.loads(json.dumps(metrics.to_dict(), allow_nan=False))
    assert data["per_pair"]["warp_error"] == list(metrics.warp_error)
    assert data["per_pair"]["ssim"] == list(metrics.ssim)
    assert data["per_pair"]["clip_consistency"] == list(metrics.clip_consistency)
    assert data["mean"] == {"warp_error": metrics.mean_warp_error, "ssim": metrics.mean_ssim,
                            "clip_consistency": metrics.mean_clip_consistency}
    assert json.loads(metrics.to_json()) == data
    without = measure_video(moving_clip[:3]).to_dict()
    assert without["mean"]["clip_consistency"] is None and without["per_pair"]["clip_consistency"] is None


def test_to_dict_writes_null_for_a_value_that_is_not_finite():
    metrics = VideoMetrics(frames=2, height=16, width=16, warp_error=(float("nan"),), warp_kept_fraction=(1.0,), ssim=(1.0,))
    json.dumps(metrics.to_dict(), allow_nan=False)
    assert metrics.to_dict()["per_pair"]["warp_error"] == [None]


def test_the_text_names_each_metric(moving_clip):
    text = measure_video(moving_clip[:3]).to_text()
    assert "3 frames, 64x64 px, 2 adjacent pairs" in text and "warp error:" in text and "SSIM:" in text
    assert "CLIP consistency: not measured" in text


@pytest.mark.parametrize(("frames", "match"), [
    (torch.rand(1, 32, 32, 3), "at least 2 frames; got 1"),
    (torch.rand(0, 32, 32, 3), "at least 2 frames; got 0"),
    (torch.rand(32, 32, 3), r"shape \(32, 32, 3\)"),
    (torch.rand(2, 32, 32, 4), "RGBA: drop the alpha channel"),
    (torch.rand(2, 3, 32, 32), r"shape \(2, 3, 32, 32\)"),
    (torch.rand(2, 8, 32, 3), r"at least 11 x 11 px \(SSIM.s window\); got 32 x 8"),
    (torch.randint(0, 255, (2, 32, 32, 3), dtype=torch.uint8), r"dtype torch.uint8.*\/ 255"),
    (torch.rand(2, 32, 32, 3) * 255, r"span .*\.\..* \(they look like 0\.\.255: divide by 255\)"),
    (torch.rand(2, 32, 32, 3) * 2 - 1, r"they look like -1\.\.1: use \(x \+ 1\) / 2"),
    (torch.rand(2, 32, 32, 3).numpy(), "got a ndarray"),
])
def test_bad_input_is_refused_with_the_value_and_the_fix(frames, match):
    with pytest.raises(ValueError, match=match):
        measure_video(frames)


def test_non_finite_values_are_counted_and_located():
    frames = torch.rand(4, 32, 32, 3)
    frames[2, 5, 5, 1] = float("nan")
    frames[3, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"2 values are not finite \(NaN or inf\), in frame\(s\) \[2, 3\] of 4"):
        measure_video(frames)


def test_rounding_just_outside_zero_to_one_is_clamped():
    frames = torch.rand(2, 16, 16, 3)
    frames[0, 0, 0, 0], frames[1, 0, 0, 0] = -0.001, 1.004
    checked = check_frames(frames.double())
    assert checked.dtype == torch.float32 and float(checked.min()) >= 0.0 and float(checked.max()) <= 1.0
