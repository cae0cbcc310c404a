"""CLIP consistency with a fixed embedder: the mean of consecutive cosines, computed by hand here."""

from __future__ import annotations

import math

import pytest
import torch

from kinema.video_metrics import adjacent_cosine, clip_consistency, measure_video

PROJECTION = torch.randn(3 * 4 * 4, 5, generator=torch.Generator().manual_seed(0))


def fixed_embedder(frames: torch.Tensor) -> torch.Tensor:
    """A fixed 'image embedding' [F, 5]: 4 x 4 average-pooled RGB, projected by a seeded matrix."""
    # [F, H, W, 3] -> [F, 3, H, W] -> [F, 3, 4, 4] -> [F, 48]
    pooled = torch.nn.functional.adaptive_avg_pool2d(frames.movedim(-1, 1), 4).flatten(1)
    return pooled @ PROJECTION


def hand_cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def test_the_values_are_the_cosines_of_consecutive_embeddings(moving_clip):
    clip = moving_clip[[0, 1, 2, 6, 7]]
    embeddings = fixed_embedder(clip).double().tolist()
    expected = [hand_cosine(embeddings[t], embeddings[t + 1]) for t in range(4)]
    assert clip_consistency(clip, fixed_embedder) == pytest.approx(expected, abs=1e-6)
    metrics = measure_video(clip, embed=fixed_embedder)
    assert metrics.clip_consistency == pytest.approx(expected, abs=1e-6)
    assert metrics.mean_clip_consistency == pytest.approx(sum(expected) / 4, abs=1e-6)


def test_identical_frames_score_one_and_opposite_embeddings_minus_one():
    assert adjacent_cosine(torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [-1.0, -2.0, -3.0]])) == pytest.approx((1.0, -1.0))


def test_a_zero_embedding_scores_zero():
    assert adjacent_cosine(torch.tensor([[0.0, 0.0], [1.0, 0.0]])) == (0.0,)


def test_no_embedder_means_not_measured(moving_clip):
    metrics = measure_video(moving_clip[:3])
    assert metrics.clip_consistency is None and metrics.mean_clip_consistency is None


def test_a_bad_embedder_is_named():
    frames = torch.rand(3, 16, 16, 3)
    with pytest.raises(ValueError, match=r"returned \(2, 5\) for 3 frames"):
        clip_consistency(frames, lambda f: torch.zeros(2, 5))
    with pytest.raises(ValueError, match=r"returned \(3,\) for 3 frames"):
        clip_consistency(frames, lambda f: torch.zeros(3))
    with pytest.raises(ValueError, match="1 non-finite values"):
        clip_consistency(frames, lambda f: torch.tensor([[1.0, 0.0], [float("nan"), 1.0], [0.0, 1.0]]))
