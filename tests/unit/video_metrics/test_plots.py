"""Metric plots: deterministic uint8 images that show the series, the mean line and the axes."""

from __future__ import annotations

import numpy as np
import pytest

from kinema.video_metrics import VideoMetrics, metric_plots, plot_series
from kinema.video_metrics.plots import BACKGROUND, INK, LINE, MEAN


def colour_count(image: np.ndarray, colour: tuple[int, int, int]) -> int:
    return int(np.all(image == np.array(colour, np.uint8), axis=-1).sum())


def test_a_plot_is_deterministic_and_shows_series_mean_and_axes():
    values = [0.02, 0.03, 0.01, 0.05, 0.04]
    image = plot_series(values, "warp error")
    assert image.shape == (240, 400, 3) and image.dtype == np.uint8
    assert np.array_equal(image, plot_series(list(values), "warp error"))
    assert colour_count(image, BACKGROUND) < image.shape[0] * image.shape[1]  # not blank
    assert colour_count(image, LINE) > 100, "the series"
    assert colour_count(image, MEAN) > 100, "the dashed mean line"
    assert colour_count(image, INK) > 300, "axes, ticks and labels"
    assert not np.array_equal(image, plot_series([0.05, 0.01, 0.03, 0.02, 0.04], "warp error"))


def test_the_mean_line_is_dashed_at_the_mean():
    image = plot_series([0.0, 1.0], "x", width=200, height=140)
    rows = np.nonzero(np.all(image == np.array(MEAN, np.uint8), axis=-1).sum(axis=1) > 40)[0]
    assert len(rows) == 1, rows  # one dashed row (the label sits above it)
    row = image[rows[0], 64:184]
    on = np.all(row == np.array(MEAN, np.uint8), axis=-1)
    assert 0.4 < on.mean() < 0.9, "dashes with gaps"
    top, bottom = 28, 140 - 36  # the plot area: 0 and 1 are drawn 10% inside it, the mean halfway
    assert abs(rows[0] - (top + bottom) / 2) <= 1


@pytest.mark.parametrize("values", [[0.5], [0.7, 0.7, 0.7], [-1.0, 1.0]])
def test_single_constant_and_signed_series_draw(values):
    image = plot_series(values, "edge case")
    assert colour_count(image, LINE) > 0 and colour_count(image, MEAN) > 0


def test_bad_series_are_refused():
    with pytest.raises(ValueError, match="at least one finite value"):
        plot_series([], "empty")
    with pytest.raises(ValueError, match="at least one finite value"):
        plot_series([0.1, float("nan")], "nan")
    with pytest.raises(ValueError, match="no room for the axes"):
        plot_series([0.1], "tiny", width=50, height=50)


def test_one_plot_per_measured_metric():
    metrics = VideoMetrics(frames=3, height=16, width=16, warp_error=(0.01, 0.02), warp_kept_fraction=(1.0, 0.9), ssim=(0.9, 0.8))
    assert metric_plots(metrics).shape == (2, 240, 400, 3)
    with_clip = VideoMetrics(frames=3, height=16, width=16, warp_error=(0.01, 0.02), warp_kept_fraction=(1.0, 0.9),
                             ssim=(0.9, 0.8), clip_consistency=(0.99, 0.95))
    plots = metric_plots(with_clip)
    assert plots.shape == (3, 240, 400, 3)
    assert not np.array_equal(plots[0], plots[1]) and not np.array_equal(plots[1], plots[2])
