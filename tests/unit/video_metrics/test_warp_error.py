"""Flow warping error: zero for identical frames, near zero for a pan, worse for shuffled frames, equal to an
independent NumPy computation (own bilinear warp, mask and mean) on flows computed here with OpenCV."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from kinema.video_metrics import measure_video, warp_error
from kinema.video_metrics.warp_error import pair_warp_error, warp_errors


def gray8(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def dis(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """OpenCV DIS (medium preset): source(x) ~ target(x + flow(x)), flow [H, W, 2] as (x, y)."""
    return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(gray8(source), gray8(target), None).astype(np.float64)


def bilinear(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """``image`` [H, W, C] read at float positions (xs, ys) [H, W], edges replicated: plain NumPy, no OpenCV."""
    height, width = image.shape[:2]
    xs, ys = np.clip(xs, 0, width - 1), np.clip(ys, 0, height - 1)
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    wx, wy = (xs - x0)[..., None], (ys - y0)[..., None]
    top = image[y0, x0] * (1 - wx) + image[y0, x1] * wx
    bottom = image[y1, x0] * (1 - wx) + image[y1, x1] * wx
    return top * (1 - wy) + bottom * wy


def reference_pair(frame: np.ndarray, following: np.ndarray) -> tuple[float, float]:
    """(error, kept share) by the definition: warp frame t along F_{t+1->t}, keep pixels passing
    |F + G(x + F)|^2 < 0.01 (|F|^2 + |G(x + F)|^2) + 0.5 that land inside frame t, mean |difference| over RGB."""
    frame, following = frame.astype(np.float64), following.astype(np.float64)
    backward, forward = dis(following, frame), dis(frame, following)
    height, width = frame.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    land_x, land_y = xs + backward[..., 0], ys + backward[..., 1]
    warped = bilinear(frame, land_x, land_y)
    forward_there = bilinear(forward, land_x, land_y)
    kept = np.zeros((height, width), bool)
    for y in range(height):
        for x in range(width):
            f, g = backward[y, x], forward_there[y, x]
            miss = (f[0] + g[0]) ** 2 + (f[1] + g[1]) ** 2
            allowed = 0.01 * (f[0] ** 2 + f[1] ** 2 + g[0] ** 2 + g[1] ** 2) + 0.5
            inside = 0 <= land_x[y, x] <= width - 1 and 0 <= land_y[y, x] <= height - 1
            kept[y, x] = miss < allowed and inside
    difference = np.abs(warped - following).mean(axis=-1)
    return float(difference[kept].mean()), float(kept.mean())


def with_square(clip: torch.Tensor, patch: np.ndarray, start: tuple[int, int], step: tuple[int, int]) -> torch.Tensor:
    """``clip`` with an opaque square ``patch`` moving against it (it hides and reveals background: occlusions).

    The square is a darkened texture: DIS tells its edges from the background's (a square of the same kind of texture
    can drag the flow of both frames along, consistently wrong, and the check then has nothing to catch)."""
    frames = clip.numpy().copy()
    side = patch.shape[0]
    for t in range(frames.shape[0]):
        x, y = start[0] + t * step[0], start[1] + t * step[1]
        frames[t, y:y + side, x:x + side] = patch
    return torch.from_numpy(frames)


def test_identical_frames_have_zero_warp_error(moving_clip):
    metrics = measure_video(moving_clip[[3, 3, 3]])
    assert metrics.warp_error == (0.0, 0.0)
    assert metrics.warp_kept_fraction == (1.0, 1.0)


def test_a_pan_has_near_zero_warp_error_but_ssim_well_below_one(texture, pan):
    clip = pan(texture(seed=2), 2, (3, 2))  # content moved 3 px right and 2 px down, cut from a larger texture
    metrics = measure_video(clip)
    plain = float((clip[1] - clip[0]).abs().mean())
    # the flow explains the motion: what is left is bilinear resampling (a fraction of a gray level)
    assert metrics.warp_error[0] < 0.03 * plain and metrics.warp_error[0] < 0.005, (metrics.warp_error, plain)
    assert metrics.warp_kept_fraction[0] > 0.85  # only the strips that entered the frame are dropped
    assert metrics.ssim[0] < 0.8, metrics.ssim  # SSIM does not follow motion


def test_shuffled_frames_score_worse_than_the_ordered_clip(moving_clip):
    ordered = measure_video(moving_clip)
    shuffled = measure_video(moving_clip[[0, 5, 2, 7, 1, 4, 6, 3]])
    assert shuffled.mean_warp_error > 5 * ordered.mean_warp_error
    assert shuffled.mean_ssim < ordered.mean_ssim - 0.05


def test_values_match_an_independent_computation_with_occlusions(texture, pan):
    clip = with_square(pan(texture(seed=3), 4, (2, 0)), 0.3 * texture(size=16, seed=4), start=(30, 12), step=(-3, 2))
    frames = clip.numpy()
    pairs = warp_errors(frames)
    for t, pair in enumerate(pairs):
        error, kept = reference_pair(frames[t], frames[t + 1])
        # cv2.remap places its bilinear samples on a 1/32 px grid; exact positions move values by well under 1%
        assert pair.error == pytest.approx(error, rel=0.01, abs=1e-4), t
        assert pair.kept_fraction == pytest.approx(kept, abs=0.01), t
        assert pair.kept_fraction < 0.97, "the moving square hides and reveals background: some pixels are dropped"


def test_the_occlusion_check_keeps_revealed_background_out_of_the_error(texture, pan):
    clip = with_square(pan(texture(seed=5), 2, (2, 0)), 0.3 * texture(size=16, seed=6), start=(24, 20), step=(-4, 3))
    frame, following = clip[0].numpy(), clip[1].numpy()
    pair = pair_warp_error(frame, following)
    backward = dis(following, frame).astype(np.float32)
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float64)
    everywhere = np.abs(bilinear(frame.astype(np.float64), xs + backward[..., 0], ys + backward[..., 1]) - following).mean()
    assert pair.error < 0.75 * everywhere, (pair.error, everywhere)  # about 0.4-0.65 over seeds and placements


def test_no_pixel_kept_falls_back_to_the_whole_frame(monkeypatch, moving_clip):
    frames = moving_clip.numpy()
    monkeypatch.setattr(warp_error, "kept_pixels", lambda backward, forward: np.zeros(backward.shape[:2], bool))
    pair = pair_warp_error(frames[0], frames[1])
    backward = dis(frames[1], frames[0])
    ys, xs = np.mgrid[0:64, 0:64].astype(np.float64)
    whole = np.abs(bilinear(frames[0].astype(np.float64), xs + backward[..., 0], ys + backward[..., 1]) - frames[1]).mean()
    assert pair.kept_fraction == 0.0
    assert pair.error == pytest.approx(whole, rel=0.01, abs=1e-4)


@pytest.mark.parametrize("shape", [(11, 40), (15, 64), (40, 12)])
def test_small_and_thin_frames_are_measured(texture, shape):
    height, width = shape
    frames = torch.from_numpy(np.stack([texture(seed=7)[:height, :width], texture(seed=7)[1:height + 1, :width]]))
    metrics = measure_video(frames)
    assert all(math.isfinite(v) for v in metrics.warp_error + metrics.ssim)


def test_unrelated_frames_score_far_worse_than_a_pan(texture, moving_clip):
    unrelated = torch.from_numpy(np.stack([texture(seed=8)[:64, :64], texture(seed=9)[:64, :64]]))
    assert measure_video(unrelated).warp_error[0] > 20 * measure_video(moving_clip[:2]).warp_error[0]
