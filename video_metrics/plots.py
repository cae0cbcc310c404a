"""Small line plots of a metric over the frame pairs, drawn with Pillow alone (no plotting library).

A plot is a uint8 RGB array [H, W, 3]: the title, a y axis labelled with the series' min and max, an x axis labelled
with the first and last pair index, the values as a line with dots, and their mean as a dashed line. The same values
give the same pixels (Pillow's built-in font: no system font is looked up).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .report import VideoMetrics

WIDTH, HEIGHT = 400, 240
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 28, 36
BACKGROUND, INK, GRID, LINE, MEAN = (255, 255, 255), (0, 0, 0), (200, 200, 200), (31, 97, 180), (214, 95, 0)
DASH, GAP = 6, 4


def plot_series(values: Sequence[float], title: str, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """``values`` (one per frame pair) against the pair index, as a uint8 RGB image [height, width, 3]."""
    values = [float(v) for v in values]
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"A plot needs at least one finite value; got {values[:8]}. Plot a measured metric.")
    if width < MARGIN_LEFT + MARGIN_RIGHT + 32 or height < MARGIN_TOP + MARGIN_BOTTOM + 32:
        raise ValueError(f"A plot of {width} x {height} px leaves no room for the axes; use at least "
                         f"{MARGIN_LEFT + MARGIN_RIGHT + 32} x {MARGIN_TOP + MARGIN_BOTTOM + 32} px.")
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    left, right, top, bottom = MARGIN_LEFT, width - MARGIN_RIGHT, MARGIN_TOP, height - MARGIN_BOTTOM
    low, high = min(values), max(values)
    # 10% of the range free above and below the series; a constant series sits mid-height
    pad = 0.1 * (high - low) if high > low else max(abs(high) * 0.05, 1e-6)
    y_min, y_max = low - pad, high + pad

    def to_x(index: int) -> float:
        return (left + right) / 2 if len(values) == 1 else left + (right - left) * index / (len(values) - 1)

    def to_y(value: float) -> float:
        return bottom - (bottom - top) * (value - y_min) / (y_max - y_min)

    for value in {low, high}:  # tick marks, guide lines and labels at the series' min and max
        y = round(to_y(value))
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.line([(left - 4, y), (left, y)], fill=INK)
        draw.text((left - 6, y), f"{value:.4g}", fill=INK, font=font, anchor="rm")
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=INK)  # the axes
    last = len(values) - 1
    for index in {0, last}:
        x = round(to_x(index))
        draw.line([(x, bottom), (x, bottom + 4)], fill=INK)
        draw.text((x, bottom + 6), str(index), fill=INK, font=font, anchor="mt")
    draw.text(((left + right) / 2, height - 4), "frame pair t (frames t, t+1)", fill=INK, font=font, anchor="md")

    points = [(round(to_x(i)), round(to_y(v))) for i, v in enumerate(values)]
    if len(points) > 1:
        draw.line(points, fill=LINE, width=2)
    mean = math.fsum(values) / len(values)
    mean_y = round(to_y(mean))
    for start in range(left, right, DASH + GAP):  # over the series' line (its gaps show it), under its dots
        draw.line([(start, mean_y), (min(start + DASH, right), mean_y)], fill=MEAN)
    draw.text((right, mean_y - 2), f"mean {mean:.4g}", fill=MEAN, font=font, anchor="rb")
    for x, y in points:
        draw.ellipse([(x - 2, y - 2), (x + 2, y + 2)], fill=LINE)
    draw.text((width / 2, 6), title, fill=INK, font=font, anchor="mt")
    return np.asarray(image, dtype=np.uint8).copy()


def metric_plots(metrics: VideoMetrics, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """One plot per measured metric, [P, height, width, 3] uint8: warp error, SSIM, then CLIP consistency when measured."""
    plots = [plot_series(metrics.warp_error, "warp error (lower = steadier)", width, height),
             plot_series(metrics.ssim, "SSIM of adjacent frames (1 = identical)", width, height)]
    if metrics.clip_consistency is not None:
        plots.append(plot_series(metrics.clip_consistency, "CLIP consistency (cosine, 1 = same content)", width, height))
    return np.stack(plots)  # P x [H, W, 3] -> [P, H, W, 3]
