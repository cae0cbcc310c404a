"""The DIS optical-flow interpolator: identity, symmetry, translations land halfway, occlusions, any frame size."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from kinema.interpolation import optical_flow
from kinema.interpolation.optical_flow import OpticalFlowInterpolator

SIZE = 160  # frames cut from a larger texture, so a shifted frame has real content at its edges
SOURCE = 224


def shifted(big: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """The SIZE x SIZE frame of ``big`` whose content has moved by (dx, dy) pixels from the centred frame."""
    top, left = (SOURCE - SIZE) // 2 - dy, (SOURCE - SIZE) // 2 - dx
    return big[top:top + SIZE, left:left + SIZE]


def gray64(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float64)


def phase_shift(reference: np.ndarray, image: np.ndarray) -> np.ndarray:
    """How far ``image``'s content sits from ``reference``'s, (x, y) in pixels, by phase correlation."""
    window = cv2.createHanningWindow(reference.shape[1::-1], cv2.CV_64F)
    (dx, dy), _ = cv2.phaseCorrelate(gray64(reference), gray64(image), window)
    return np.array([dx, dy])


def pixel_displacement(reference: np.ndarray, image: np.ndarray) -> np.ndarray:
    """Per-pixel displacement magnitude [H, W] of ``image`` against ``reference`` (Farneback flow, not the DIS under test)."""
    reference8, image8 = (np.round(gray64(frame) * 255).astype(np.uint8) for frame in (reference, image))
    flow = cv2.calcOpticalFlowFarneback(reference8, image8, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return np.linalg.norm(flow, axis=-1)


@pytest.mark.parametrize("d", [2, 4, 6])
@pytest.mark.parametrize("direction", [(1, 0), (0, 1), (1, -1)], ids=["x", "y", "diagonal"])
def test_a_2d_pixel_translation_gives_the_d_pixel_translation(texture, images, d, direction):
    big = texture(SOURCE, seed=d)
    (ux, uy) = direction
    frame0, frame1, expected = shifted(big, 0, 0), shifted(big, 2 * d * ux, 2 * d * uy), shifted(big, d * ux, d * uy)
    middle = OpticalFlowInterpolator()(images(frame0), images(frame1))[0].numpy()
    inner = slice(2 * d + 8, SIZE - 2 * d - 8)  # away from the borders, where content enters and leaves
    middle, expected, frame0 = middle[inner, inner], expected[inner, inner], frame0[inner, inner]
    # Displacement of the result against the true d-pixel translation, measured two independent ways:
    # phase correlation from frame 0 (its bias on smooth textures cancels in the difference) ...
    moved = phase_shift(frame0, middle)
    error = moved - phase_shift(frame0, expected)
    assert np.linalg.norm(error) < 0.5, f"the midpoint sits {error} px from the {d}-px translation"
    assert np.linalg.norm(moved - d * np.array(direction)) < 0.5, f"moved {moved} px, not {d} * {direction}"
    # ... and per pixel, with another flow method (mean displacement error)
    assert pixel_displacement(expected, middle).mean() < 0.5
    assert np.abs(middle - expected).mean() < 0.01


def test_identical_frames_come_back_unchanged(texture, images):
    generator = torch.Generator().manual_seed(3)
    noise = torch.rand(37, 50, 3, generator=generator).numpy()  # no structure at all, and an odd size
    for frame in (texture(96, seed=1), noise):
        batch = images(frame, frame[::-1].copy())
        middle = OpticalFlowInterpolator()(batch, batch)
        assert (middle - batch).abs().max().item() <= 1e-6


def occluding_scene(x: int, background: np.ndarray, square: np.ndarray) -> np.ndarray:
    frame = background.copy()
    frame[50:98, x:x + 48] = square
    return frame


def test_swapping_the_frames_gives_the_same_midpoint(texture, images):
    """Both calls compute the same two DIS flows, and F_t1 = -F_t0 exactly, so only the last blend's rounding differs."""
    big, square = texture(SOURCE, seed=7), texture(SIZE, seed=8)[50:98, 40:88] * 0.5 + 0.5
    background = texture(SIZE, seed=9) * 0.5
    generator = torch.Generator().manual_seed(5)
    pairs = [
        (shifted(big, 0, 0), shifted(big, 8, -4)),
        (occluding_scene(40, background, square), occluding_scene(52, background, square)),
        (torch.rand(64, 80, 3, generator=generator).numpy(), torch.rand(64, 80, 3, generator=generator).numpy()),
    ]
    interpolate = OpticalFlowInterpolator()
    for frame0, frame1 in pairs:
        forward, backward = interpolate(images(frame0), images(frame1)), interpolate(images(frame1), images(frame0))
        assert (forward - backward).abs().max().item() <= 1e-6


def test_uncovered_and_covered_background_comes_from_the_frame_that_shows_it(texture):
    """Exact flows of a square moving 12 px right over a flat background: the strips the square uncovers (visible
    only in frame 1) and covers (only in frame 0) at the midpoint are background; a plain 0.5/0.5 blend smears the
    square into them."""
    square = texture(SIZE, seed=8)[50:98, 40:88] * 0.5 + 0.5
    background = np.full((SIZE, SIZE, 3), 0.2, np.float32)
    frame0, frame1 = occluding_scene(40, background, square), occluding_scene(52, background, square)
    flow01, flow10 = np.zeros((SIZE, SIZE, 2), np.float32), np.zeros((SIZE, SIZE, 2), np.float32)
    flow01[50:98, 40:88, 0], flow10[50:98, 52:100, 0] = 12.0, -12.0  # the square's pixels move; the background stays
    middle = optical_flow.blend_halfway(frame0, frame1, flow01, flow10)
    flow_t0 = (flow10 - flow01) / 4
    grid = optical_flow.pixel_grid(SIZE, SIZE)
    plain = 0.5 * (optical_flow.sample(frame0, grid + flow_t0) + optical_flow.sample(frame1, grid - flow_t0))
    rows = slice(52, 96)
    for strip in (slice(40, 46), slice(94, 100)):  # uncovered (left), covered (right) at the midpoint
        assert np.abs(middle[rows, strip] - 0.2).mean() < 0.02
        assert np.abs(plain[rows, strip] - 0.2).mean() > 0.05  # the test can tell the two apart
    expected = occluding_scene(46, background, square)
    np.testing.assert_allclose(middle[rows, 52:88], expected[rows, 52:88], atol=1e-5)  # where both flows agree: exact


def test_a_batch_is_its_pairs_one_by_one(texture, images):
    big = texture(SOURCE, seed=11)
    first, second = images(shifted(big, 0, 0)[:64, :64], shifted(big, 2, 0)[:64, :64]), images(shifted(big, 4, 2)[:64, :64], big[:64, :64])
    interpolate = OpticalFlowInterpolator("fast")
    together = interpolate(first, second)
    apart = torch.cat([interpolate(first[i:i + 1], second[i:i + 1]) for i in range(2)])
    assert torch.equal(together, apart)


@pytest.mark.parametrize("height,width", [(1, 1), (8, 8), (15, 64), (64, 9), (33, 17)])
def test_any_frame_size_works_even_below_dis_limits(height, width):
    generator = torch.Generator().manual_seed(height * 100 + width)
    first, second = torch.rand(1, height, width, 3, generator=generator), torch.rand(1, height, width, 3, generator=generator)
    middle = OpticalFlowInterpolator()(first, second)
    assert middle.shape == first.shape and 0.0 <= middle.min() and middle.max() <= 1.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.float64])
def test_the_result_keeps_the_frames_device_and_dtype(dtype):
    generator = torch.Generator().manual_seed(0)
    first, second = (torch.rand(2, 32, 40, 3, generator=generator).to(dtype) for _ in range(2))
    middle = OpticalFlowInterpolator()(first, second)
    assert middle.dtype == dtype and middle.device == first.device and middle.shape == first.shape


def test_an_empty_batch_gives_an_empty_batch():
    empty = torch.zeros(0, 16, 16, 3)
    assert OpticalFlowInterpolator()(empty, empty).shape == (0, 16, 16, 3)


def test_unknown_presets_and_mismatched_frames_are_refused_in_sentences():
    with pytest.raises(ValueError, match=r"preset 'best' is not one of \['medium', 'fast', 'ultrafast'\]; pick one"):
        OpticalFlowInterpolator("best")
    with pytest.raises(ValueError, match=r"optical flow \(DIS medium\): frames to interpolate must be .* got \[1, 8, 8, 3\] and \[1, 8, 9, 3\]"):
        OpticalFlowInterpolator()(torch.zeros(1, 8, 8, 3), torch.zeros(1, 8, 9, 3))
