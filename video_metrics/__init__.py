"""Temporal-consistency metrics of a video (frames [F, H, W, 3] in 0..1): flow warping error, adjacent-frame SSIM and
CLIP consistency, per adjacent pair and averaged, with small plots. Pure PyTorch/NumPy/OpenCV/kornia: no model is
loaded here (CLIP consistency takes an embedder callable)."""

from __future__ import annotations

from .clip_consistency import Embedder, adjacent_cosine, clip_consistency
from .plots import metric_plots, plot_series
from .report import VideoMetrics, check_frames, measure_video
from .ssim import adjacent_ssim
from .warp_error import PairWarp, pair_warp_error, warp_errors

__all__ = ["Embedder", "PairWarp", "VideoMetrics", "adjacent_cosine", "adjacent_ssim", "check_frames", "clip_consistency",
           "measure_video", "metric_plots", "pair_warp_error", "plot_series", "warp_errors"]
