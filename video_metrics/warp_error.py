"""Flow warping error between adjacent frames: how much of frame t+1 is NOT explained by frame t moved along the flow.

Direction (per adjacent pair t, t+1): the backward flow ``F = F_{t+1 -> t}`` is computed on frame t+1 against
frame t, so that frame_{t+1}(x) ~ frame_t(x + F(x)). Frame t is warped into frame t+1's view by reading it at
``x + F(x)`` (``cv2.remap``, bilinear: a backward warp), and the error is compared in frame t+1's pixels.

Occlusion: the forward-backward consistency check of Sundaram, Brox and Keutzer 2010 ("Dense point trajectories
by GPU-accelerated large displacement optical flow", ECCV), constants included; Ruder, Dosovitskiy and Brox 2016
("Artistic style transfer for videos", GCPR) use the same test and constants for their occlusion masks, and Lai et
al. 2018's warping error ("Learning blind video temporal consistency", ECCV) takes its masks from them. With the
forward flow ``G = F_{t -> t+1}`` read where x lands, ``g = G(x + F(x))``, a pixel x of frame t+1 is kept when

    |F(x) + g|^2 < CHECK_SLOPE * (|F(x)|^2 + |g|^2) + CHECK_FLOOR        (a = 0.01, b = 0.5 squared pixels)

and when ``x + F(x)`` lies inside frame t (content that came in from outside the frame is not in frame t).
Sundaram et al.'s second test (motion boundaries, from the flow's gradient) is not applied: its threshold depends
on the flow method, and the metric should stay simple to reproduce. Where DIS smooths the flow across a moving
edge alike in both directions, the check cannot see the error and those pixels count.

The error of a pair is the mean absolute difference, on the 0..1 RGB scale, between frame t+1 and warped frame t
over the kept pixels and the three channels (an L1 error; Lai et al. report a squared one, so the numbers do not
compare with their tables). Lower is steadier; identical frames give 0. When no pixel passes the check (e.g. two
unrelated frames), the pair's error is taken over all pixels instead and its kept share reads 0.

Flow: OpenCV's DIS optical flow with one fixed preset (``PRESET``) on 8-bit grayscale frames, so that numbers from
different runs and machines are comparable. OpenCV is imported on first use (the pack loads without it).
"""

from __future__ import annotations

import dataclasses

import numpy as np

PRESET = "DISOPTICAL_FLOW_PRESET_MEDIUM"  # OpenCV's most accurate DIS preset (finest scale, variational refinement)
CHECK_SLOPE = 0.01  # a: Sundaram et al. 2010 (also Ruder et al. 2016)
CHECK_FLOOR = 0.5  # b, in squared pixels: the same sources
# DIS refuses frames under 10 px and can crash the process (no exception) on some small ones: flows are computed on
# frames padded to at least this size by edge replication, then cropped back.
MIN_FLOW_SIDE = 32


@dataclasses.dataclass(frozen=True)
class PairWarp:
    """The warping error of one adjacent pair and the share of frame t+1's pixels it was measured on."""

    error: float
    kept_fraction: float


def opencv():
    """OpenCV, imported on first use with a sentence when it is missing."""
    try:
        import cv2
    except ImportError as error:
        raise RuntimeError("The warping-error metric needs OpenCV, which is not installed in this Python: run "
                           "`pip install opencv-python-headless` there (or install Kinema's requirements.txt).") from error
    return cv2


def to_gray(frame: np.ndarray) -> np.ndarray:
    """An RGB frame [H, W, 3] in 0..1 as 8-bit grayscale [H, W] (OpenCV's RGB -> gray weights), DIS's input."""
    cv2 = opencv()
    return cv2.cvtColor(np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8), cv2.COLOR_RGB2GRAY)


def dis_flow(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """DIS flow [H, W, 2] (x, y) with source(x) ~ target(x + flow(x)), for 8-bit gray frames [H, W] (``PRESET``)."""
    cv2 = opencv()
    height, width = source.shape
    pad_y, pad_x = max(0, MIN_FLOW_SIDE - height), max(0, MIN_FLOW_SIDE - width)
    if pad_y or pad_x:
        source = cv2.copyMakeBorder(source, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
        target = cv2.copyMakeBorder(target, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE)
    solver = cv2.DISOpticalFlow_create(getattr(cv2, PRESET))  # a fresh solver per pair: DIS keeps state between calls
    flow = solver.calc(source, target, None)
    return np.ascontiguousarray(flow[:height, :width], dtype=np.float32)


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Pixel coordinates [H, W, 2] as (x, y), cv2.remap's order."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs, ys], axis=-1)  # 2 x [H, W] -> [H, W, 2]


def read_at(image: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``image`` [H, W, C] read at float positions ``at`` [H, W, 2] (x, y): bilinear, edges replicated beyond the border."""
    cv2 = opencv()
    out = cv2.remap(np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(at[..., 0]),
                    np.ascontiguousarray(at[..., 1]), interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # remap drops a trailing channel axis of 1: [H, W] -> [H, W, C]
    return out.reshape(at.shape[:2] + image.shape[2:])


def kept_pixels(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Which pixels x of frame t+1 pass the check [H, W] bool, for ``backward`` = F_{t+1->t} and ``forward`` = F_{t->t+1}."""
    height, width = backward.shape[:2]
    landing = pixel_grid(height, width) + backward  # where each pixel of frame t+1 reads frame t, [H, W, 2]
    forward_there = read_at(forward, landing)  # g = G(x + F(x)), [H, W, 2]
    miss = np.sum((backward + forward_there) ** 2, axis=-1)
    allowed = CHECK_SLOPE * (np.sum(backward**2, axis=-1) + np.sum(forward_there**2, axis=-1)) + CHECK_FLOOR
    inside = ((landing[..., 0] >= 0) & (landing[..., 0] <= width - 1) & (landing[..., 1] >= 0) & (landing[..., 1] <= height - 1))
    return (miss < allowed) & inside


def pair_warp_error(frame: np.ndarray, following: np.ndarray) -> PairWarp:
    """The warping error of ``frame`` (t) into ``following`` (t+1), both float32 RGB [H, W, 3] in 0..1."""
    gray, gray_following = to_gray(frame), to_gray(following)
    backward = dis_flow(gray_following, gray)  # F_{t+1 -> t}
    forward = dis_flow(gray, gray_following)  # F_{t -> t+1}
    warped = read_at(frame, pixel_grid(*frame.shape[:2]) + backward)  # frame t seen from frame t+1, [H, W, 3]
    difference = np.abs(warped.astype(np.float64) - following.astype(np.float64)).mean(axis=-1)  # [H, W]
    kept = kept_pixels(backward, forward)
    if not kept.any():
        return PairWarp(float(difference.mean()), 0.0)
    return PairWarp(float(difference[kept].mean()), float(kept.mean()))


def warp_errors(frames: np.ndarray) -> list[PairWarp]:
    """One ``PairWarp`` per adjacent pair of ``frames`` [F, H, W, 3] (float RGB in 0..1)."""
    frames = np.asarray(frames, dtype=np.float32)
    return [pair_warp_error(frames[t], frames[t + 1]) for t in range(frames.shape[0] - 1)]
