"""All temporal-consistency metrics of one video in one frozen record: ``measure_video(frames) -> VideoMetrics``.

Every metric compares adjacent frames, so each gives one value per pair (t, t+1), F - 1 values for F frames, and the
record keeps them with their means:
- ``warp_error``: flow warping error (warp_error.py), 0 = frame t moved along the flow explains frame t+1; lower is steadier.
- ``ssim``: structural similarity of the frames as they are (ssim.py), 1 = identical; higher is steadier.
- ``clip_consistency``: cosine of consecutive image embeddings (clip_consistency.py), None without an embedder.
"""

from __future__ import annotations

import dataclasses
import json
import math

import torch

from .clip_consistency import Embedder, clip_consistency
from .ssim import WINDOW, adjacent_ssim
from .warp_error import CHECK_FLOOR, CHECK_SLOPE, PRESET, warp_errors

MIN_SIDE = WINDOW  # SSIM's window must fit in a frame
RANGE_SLACK = 0.01  # values this far outside 0..1 are rounding (clamped); further out the frames are on another scale


@dataclasses.dataclass(frozen=True)
class VideoMetrics:
    """Per-pair values (pair t compares frames t and t+1) of a video of ``frames`` frames of ``height`` x ``width`` px."""

    frames: int
    height: int
    width: int
    warp_error: tuple[float, ...]
    warp_kept_fraction: tuple[float, ...]  # share of frame t+1's pixels that passed the occlusion check, per pair
    ssim: tuple[float, ...]
    clip_consistency: tuple[float, ...] | None = None

    @property
    def mean_warp_error(self) -> float:
        return _mean(self.warp_error)

    @property
    def mean_ssim(self) -> float:
        return _mean(self.ssim)

    @property
    def mean_clip_consistency(self) -> float | None:
        return None if self.clip_consistency is None else _mean(self.clip_consistency)

    def to_dict(self) -> dict:
        """A JSON-safe dict (plain floats and lists; None for a metric not measured)."""
        return {
            "frames": self.frames,
            "height": self.height,
            "width": self.width,
            "mean": {"warp_error": _finite(self.mean_warp_error), "ssim": _finite(self.mean_ssim),
                     "clip_consistency": _finite(self.mean_clip_consistency)},
            "per_pair": {"warp_error": _finite_list(self.warp_error), "warp_kept_fraction": _finite_list(self.warp_kept_fraction),
                         "ssim": _finite_list(self.ssim),
                         "clip_consistency": None if self.clip_consistency is None else _finite_list(self.clip_consistency)},
            "method": {
                "pairs": "pair t compares frame t with frame t+1",
                "warp_error": (f"mean |frame t+1 - frame t warped by DIS flow t+1->t| (RGB 0..1) over pixels passing the "
                               f"forward-backward check (a={CHECK_SLOPE}, b={CHECK_FLOOR}); flow preset {PRESET}"),
                "ssim": f"kornia.metrics.ssim, {WINDOW}-tap Gaussian window (sigma 1.5), valid padding, mean over RGB",
                "clip_consistency": "cosine similarity of consecutive CLIP vision image embeddings",
            },
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self) -> str:
        """The means in a few lines, for a person."""
        clip = self.mean_clip_consistency
        return "\n".join([
            f"{self.frames} frames, {self.width}x{self.height} px, {self.frames - 1} adjacent pairs",
            f"warp error: {self.mean_warp_error:.5f} (lower is steadier; min {min(self.warp_error):.5f}, max {max(self.warp_error):.5f})",
            f"SSIM: {self.mean_ssim:.4f} (1 = identical; min {min(self.ssim):.4f}, max {max(self.ssim):.4f})",
            "CLIP consistency: not measured (no CLIP vision model)" if clip is None else
            f"CLIP consistency: {clip:.4f} (1 = same content; min {min(self.clip_consistency):.4f})",
        ])


def _mean(values: tuple[float, ...]) -> float:
    return math.fsum(values) / len(values)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _finite_list(values: tuple[float, ...]) -> list[float | None]:
    return [_finite(value) for value in values]


def check_frames(frames: torch.Tensor) -> torch.Tensor:
    """``frames`` as float32 on the CPU, clamped to 0..1, or a ValueError that says what is wrong and how to fix it."""
    if not isinstance(frames, torch.Tensor):
        raise ValueError(f"Video metrics take a tensor of frames [F, H, W, 3] (a ComfyUI IMAGE batch); got a "
                         f"{type(frames).__name__}. Pass the decoded frames as one tensor.")
    if frames.ndim != 4 or frames.shape[-1] != 3:
        hint = " (RGBA: drop the alpha channel, frames[..., :3])" if frames.ndim == 4 and frames.shape[-1] == 4 else ""
        raise ValueError(f"Video metrics take frames [F, H, W, 3] (a ComfyUI IMAGE batch: frames, height, width, RGB); got "
                         f"shape {tuple(frames.shape)}{hint}. Pass the video's frames as one IMAGE batch.")
    count, height, width = frames.shape[:3]
    if count < 2:
        raise ValueError(f"Video metrics compare adjacent frames and need at least 2 frames; got {count}. Pass the whole "
                         "video as one batch (e.g. VAE Decode of all its latents), not a single image.")
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"Video metrics need frames of at least {MIN_SIDE} x {MIN_SIDE} px (SSIM's window); got "
                         f"{width} x {height}. Measure the video before downscaling it that far.")
    if not frames.is_floating_point():
        raise ValueError(f"Video metrics take float frames in 0..1 (a ComfyUI IMAGE); got dtype {frames.dtype}. Convert "
                         "them, e.g. frames.float() / 255 for 8-bit values.")
    values = frames.detach().to("cpu", torch.float32)
    finite = torch.isfinite(values)
    if not finite.all():
        bad_frames = (~finite).flatten(1).any(dim=1).nonzero().flatten().tolist()  # [F, H*W*3] -> frames with a bad value
        raise ValueError(f"Video metrics: {int((~finite).sum())} values are not finite (NaN or inf), in frame(s) "
                         f"{bad_frames[:8]}{' ...' if len(bad_frames) > 8 else ''} of {count}; every value must be a "
                         "number in 0..1. Fix the node that made them (a VAE decode in too low a precision often does: "
                         "try --fp32-vae or --bf16-vae).")
    low, high = float(values.min()), float(values.max())
    if low < -RANGE_SLACK or high > 1.0 + RANGE_SLACK:
        hint = " (they look like 0..255: divide by 255)" if high > 2.0 else " (they look like -1..1: use (x + 1) / 2)" if low < -0.5 else ""
        raise ValueError(f"Video metrics take values in 0..1 (a ComfyUI IMAGE); these span {low:.4g}..{high:.4g}, beyond the "
                         f"allowed {-RANGE_SLACK}..{1 + RANGE_SLACK}{hint}. Rescale them to 0..1.")
    return values.clamp(0.0, 1.0).contiguous()


def measure_video(frames: torch.Tensor, embed: Embedder | None = None) -> VideoMetrics:
    """Every metric of ``frames`` [F, H, W, 3] (float RGB in 0..1, ComfyUI's IMAGE layout, F >= 2).

    ``embed``: an image embedder ``embed(frames [F, H, W, 3]) -> [F, D]`` for CLIP consistency; None leaves it out.
    """
    checked = check_frames(frames)
    pairs = warp_errors(checked.numpy())
    return VideoMetrics(
        frames=checked.shape[0],
        height=checked.shape[1],
        width=checked.shape[2],
        warp_error=tuple(pair.error for pair in pairs),
        warp_kept_fraction=tuple(pair.kept_fraction for pair in pairs),
        ssim=adjacent_ssim(checked),
        clip_consistency=None if embed is None else clip_consistency(checked, embed),
    )

