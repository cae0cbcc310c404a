"""The weight-free interpolator: OpenCV DIS optical flow both ways, warped halfway, blended by consistency.

Conventions (OpenCV's): ``calc(I0, I1)`` returns F01 with I0(x) ~ I1(x + F01(x)), and
``cv2.remap(src, map)`` reads dst(x) = src(map(x)), a backward warp. Under linear motion the
midpoint frame reads I_t(x) = I0(x + F_t0(x)) = I1(x + F_t1(x)) with, at t = 1/2,
F_t0 = -F01/4 + F10/4 and F_t1 = F01/4 - F10/4 (Super SloMo's approximation, exact for a
translation: content moving by v gives F01 = v, F10 = -v, F_t0 = -v/2, F_t1 = v/2).

Occlusion (Baker et al. 2011's rule, softened): side 0 samples I0 at y0 = x + F_t0(x), side 1
samples I1 at y1 = x + F_t1(x). The forward-backward check of I1's flow at y1,
|F10(y1) + F01(y1 + F10(y1))|, fails where the content side 1 reads is hidden in I0; there
side 0 reads something else (the occluder), so side 0's weight drops, and likewise side 1's
where the check of I0's flow at y0 fails. Where both checks pass, or both fail, the blend is
0.5/0.5. (Lowering the weight of the side whose own sample fails its check instead measured
worse on moving squares over textures: that side is the only one that sees the content.)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .base import check_pair

# DIS presets by quality (OpenCV constant names): "medium" is OpenCV's most accurate (finest scale, variational refinement).
PRESETS = {
    "medium": "DISOPTICAL_FLOW_PRESET_MEDIUM",
    "fast": "DISOPTICAL_FLOW_PRESET_FAST",
    "ultrafast": "DISOPTICAL_FLOW_PRESET_ULTRAFAST",
}
# OpenCV 5.0's DIS refuses frames under 10 px and crashes the process (a segfault, no exception) on some small
# ones, e.g. 15 x 64 px: flows are computed on frames padded to at least this size by edge replication, then cropped.
MIN_FLOW_SIDE = 32
# Forward-backward check tolerance, in squared pixels (Sundaram et al. 2010's test): a miss at the tolerance halves
# the other side's weight (a soft weight 1 / (1 + miss / tolerance), so the blend changes smoothly).
CHECK_FLOOR = 0.5
CHECK_SLOPE = 0.01


@dataclasses.dataclass(frozen=True)
class OpticalFlowInterpolator:
    """``interpolator(first, second)``: midpoints of image batches [N, H, W, 3] in [0, 1] (see base.py)."""

    preset: str = "medium"

    def __post_init__(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"Optical-flow interpolator: preset {self.preset!r} is not one of {list(PRESETS)}; pick one of those.")

    @property
    def name(self) -> str:
        return f"optical flow (DIS {self.preset})"

    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        check_pair(first, second, self.name)
        frames0 = first.detach().to("cpu", torch.float32).numpy()
        frames1 = second.detach().to("cpu", torch.float32).numpy()
        middles = [midpoint(frames0[i], frames1[i], self.preset) for i in range(first.shape[0])]
        out = torch.from_numpy(np.stack(middles)) if middles else torch.empty(first.shape)
        return out.to(device=first.device, dtype=first.dtype)


def midpoint(frame0: np.ndarray, frame1: np.ndarray, preset: str = "medium") -> np.ndarray:
    """The frame halfway between two float32 RGB frames [H, W, 3] in [0, 1]."""
    return blend_halfway(frame0, frame1, dis_flow(frame0, frame1, preset), dis_flow(frame1, frame0, preset))


def blend_halfway(frame0: np.ndarray, frame1: np.ndarray, flow01: np.ndarray, flow10: np.ndarray) -> np.ndarray:
    """The midpoint of two frames [H, W, 3] given their flows both ways [H, W, 2] (see the module docstring)."""
    frame0, frame1 = np.asarray(frame0, np.float32), np.asarray(frame1, np.float32)
    flow01, flow10 = np.asarray(flow01, np.float32), np.asarray(flow10, np.float32)  # cv2.remap maps must be float32
    # F_t0 = -F01/4 + F10/4 and F_t1 = F01/4 - F10/4 = -F_t0: one subtraction keeps swapping the frames exact.
    flow_t0 = (flow10 - flow01) * 0.25
    flow_t1 = -flow_t0
    grid = pixel_grid(frame0.shape[0], frame0.shape[1])
    at0, at1 = grid + flow_t0, grid + flow_t1  # where each side samples its frame, [H, W, 2] (x, y)
    warped0, warped1 = sample(frame0, at0), sample(frame1, at1)
    hidden_in_1 = sample(check_failure(flow01, flow10), at0)  # side 0's content is not in frame 1
    hidden_in_0 = sample(check_failure(flow10, flow01), at1)
    weight0, weight1 = 1.0 / (1.0 + hidden_in_0), 1.0 / (1.0 + hidden_in_1)
    share1 = (weight1 / (weight0 + weight1))[..., None]  # [H, W] -> [H, W, 1], broadcast over RGB
    # warped0 + share1 * (warped1 - warped0) returns a frame unchanged when both sides read the same pixels.
    return np.clip(warped0 + share1 * (warped1 - warped0), 0.0, 1.0).astype(np.float32)


def check_failure(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Forward-backward check of ``forward`` per pixel [H, W]: 0 = consistent, 1 = at the tolerance, larger = fails.

    |F(y) + B(y + F(y))|^2 against CHECK_FLOOR + CHECK_SLOPE * (|F|^2 + |B|^2): large flows may miss by more.
    """
    back = sample(backward, pixel_grid(*forward.shape[:2]) + forward)
    miss = np.sum((forward + back) ** 2, axis=-1)
    return miss / (CHECK_FLOOR + CHECK_SLOPE * (np.sum(forward**2, axis=-1) + np.sum(back**2, axis=-1)))


def dis_flow(source: np.ndarray, target: np.ndarray, preset: str) -> np.ndarray:
    """DIS flow F [H, W, 2] (x, y) with source(x) ~ target(x + F(x)), from 8-bit gray versions of RGB frames in [0, 1]."""
    cv2 = opencv()
    height, width = source.shape[:2]
    pad_y, pad_x = max(0, MIN_FLOW_SIDE - height), max(0, MIN_FLOW_SIDE - width)
    grays = []
    for frame in (source, target):
        gray = cv2.cvtColor(np.round(np.clip(frame, 0.0, 1.0) * 255.0).astype(np.uint8), cv2.COLOR_RGB2GRAY)
        grays.append(cv2.copyMakeBorder(gray, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE) if pad_y or pad_x else gray)
    solver = cv2.DISOpticalFlow_create(getattr(cv2, PRESETS[preset]))  # one per call: the solver keeps state between calls
    flow = solver.calc(grays[0], grays[1], None)
    return np.ascontiguousarray(flow[:height, :width])


def pixel_grid(height: int, width: int) -> np.ndarray:
    """Pixel coordinates [H, W, 2] as (x, y), cv2.remap's map order."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([xs, ys], axis=-1)


def sample(image: np.ndarray, at: np.ndarray) -> np.ndarray:
    """image read at float positions ``at`` [H, W, 2] (x, y): bilinear, edges replicated beyond the border."""
    cv2 = opencv()
    out = cv2.remap(image, at[..., 0], at[..., 1], interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(at.shape[:2] + image.shape[2:])  # remap drops a trailing channel axis of 1; keep [H, W, C]


def opencv():
    """OpenCV, imported on first use: the pack loads without it, and only this interpolator asks for it."""
    try:
        import cv2
    except ImportError as error:
        raise RuntimeError("The optical-flow interpolator needs OpenCV, which is not installed in ComfyUI's Python: "
                           "run `pip install opencv-python-headless` there (or install Kinema's requirements.txt), "
                           "or connect a RIFE interpolator instead.") from error
    return cv2
