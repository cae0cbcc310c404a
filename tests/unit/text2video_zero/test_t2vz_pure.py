"""Motion warp, re-noising, schedule positions, chunks and background smoothing (REFERENCE.md section 2)."""

from __future__ import annotations

import pytest
import torch

from kinema.text2video_zero import anchored_chunks, motion_schedule, reference_alpha, renoise, smooth_background, warp_frames
from kinema.text2video_zero.smoothing import latent_masks


def ramp(frames: int, size: int) -> torch.Tensor:
    """Latents whose value encodes the column, so shifts can be read off: [F, 1, size, size]."""
    return torch.arange(size, dtype=torch.float32).expand(frames, 1, size, size).clone()


def test_strength_zero_is_the_identity():
    x = torch.randn(6, 4, 24, 40)
    assert torch.equal(warp_frames(x, range(6), 0.0, 0.0), x)


@pytest.mark.parametrize(("pixels", "shifts"), [
    (512, [0, 1, 3, 4, 6, 7, 9, 10]),
    (768, [0, 2, 4, 7, 9, 11, 13, 16]),
    (1024, [0, 3, 6, 9, 12, 15, 18, 21]),
])
def test_shift_tables_in_the_interior(pixels, shifts):
    size = pixels // 8
    warped = warp_frames(ramp(8, size), range(8), 12.0, 12.0)
    centre = size // 2
    # output(p) = input(p + delta): the column value read at the centre grows by the shift
    measured = [int(warped[k, 0, centre, centre].item()) - centre for k in range(8)]
    assert measured == shifts
    # the y flow moves rows the same way (transpose the ramp)
    rows = warp_frames(ramp(8, size).transpose(2, 3), range(8), 12.0, 12.0)
    assert [int(rows[k, 0, centre, centre].item()) - centre for k in range(8)] == shifts


def test_shift_is_along_x_only_when_dy_is_zero():
    warped = warp_frames(ramp(2, 64).transpose(2, 3), [0, 3], 12.0, 0.0)  # values encode the row
    assert torch.equal(warped, ramp(2, 64).transpose(2, 3))


def test_renoise_with_zero_noise_scales_by_sqrt_alpha():
    x = torch.randn(3, 4, 8, 8)
    assert torch.equal(renoise(x, 0.81, torch.zeros_like(x)), x * 0.9)


def test_reference_alpha_is_the_product_of_per_step_alphas():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    alphas = 1.0 - betas
    acp = torch.cumprod(alphas, 0)
    assert reference_alpha(acp, 881, 941) == pytest.approx(float(torch.prod(alphas[881:941])), rel=1e-12)
    assert reference_alpha(acp, 881, 941, exact=True) == pytest.approx(float(acp[941] / acp[881]), rel=1e-12)


def test_schedule_positions_of_the_reference():
    s = motion_schedule(50, 44, 47)
    assert (s.t1_step, s.t0_step) == (2, 5)
    with pytest.raises(ValueError, match=r"t0=44, t1=47, steps=20.*t0=18, t1=19"):
        motion_schedule(20, 44, 47)
    with pytest.raises(ValueError, match="need 0 <= t0 < t1 < steps"):
        motion_schedule(50, 47, 47)


def test_chunk_table_for_24_frames():
    assert anchored_chunks(24, 8) == [[0, *range(0, 7)], [0, *range(7, 14)], [0, *range(14, 21)], [0, 21, 22, 23]]
    with pytest.raises(ValueError, match="at least 2"):
        anchored_chunks(24, 1)


def test_fresh_noise_follows_the_reference_draw_order():
    from kinema.text2video_zero.motion_latents import fresh_noise

    shape = torch.Size([1, 4, 4, 4])
    generator = torch.Generator().manual_seed(7)
    torch.randn(shape, generator=generator)  # frame 1's x_T comes first
    assert torch.equal(fresh_noise(shape, 6, 7), torch.randn(5, 4, 4, 4, generator=generator))


@pytest.mark.parametrize(("frames", "chunk_size"), [(24, 8), (10, 4), (5, 8)])
def test_reference_chunk_noise_equals_the_re_seeded_loop(frames, chunk_size):
    """The reference's long-video loop re-seeds per chunk [0] + ids and drops the chunk's first frame."""
    from kinema.text2video_zero.motion_latents import fresh_noise

    shape, seed = torch.Size([1, 4, 4, 4]), 3
    expected = {}
    for chunk in anchored_chunks(frames, chunk_size):
        generator = torch.Generator().manual_seed(seed)
        torch.randn(shape, generator=generator)
        draws = torch.randn(len(chunk) - 1, *shape[1:], generator=generator)
        expected.update({frame: draw for frame, draw in zip(chunk[1:], draws, strict=True) if frame >= 1})
    got = fresh_noise(shape, frames, seed, chunk_size)
    assert sorted(expected) == list(range(1, frames))
    assert all(torch.equal(got[frame - 1], expected[frame]) for frame in expected)
    with pytest.raises(ValueError, match="at least 2"):
        fresh_noise(shape, frames, seed, 1)


def test_background_smoothing_formula():
    x = torch.randn(4, 4, 16, 16)
    masks = torch.zeros(4, 1, 16, 16)
    masks[:, :, 4:12, 4:12] = 1.0
    out = smooth_background(x, masks, 0.6, range(4), 12.0, 12.0)
    warped0 = warp_frames(x[:1].expand(4, -1, -1, -1), range(4), 12.0, 12.0)
    expected = masks * x + (1 - masks) * (0.6 * warped0 + 0.4 * x)
    torch.testing.assert_close(out, expected)
    assert torch.equal(out[0], x[0]), "frame 0 has no motion: unchanged"
    inside = (slice(None), slice(None), slice(4, 12), slice(4, 12))
    assert torch.equal(out[inside], x[inside]), "the foreground is kept"
    assert torch.equal(smooth_background(x, masks, 0.0, range(4), 12.0, 12.0), x), "alpha 0 changes nothing"
    assert torch.equal(smooth_background(x, torch.ones_like(masks), 0.6, range(4), 12.0, 12.0), x)


def test_masks_resize_to_latent_size_and_count_is_checked():
    masks = torch.zeros(1, 64, 64)
    masks[:, :32] = 1.0
    resized = latent_masks(masks, 5, 8, 8)
    assert resized.shape == (5, 1, 8, 8) and torch.equal(resized[:, :, :4], torch.ones(5, 1, 4, 8))
    with pytest.raises(ValueError, match="3 masks for 5 frames"):
        latent_masks(torch.zeros(3, 64, 64), 5, 8, 8)
