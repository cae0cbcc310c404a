"""RIFE IFNet HDv3 on random real-layout weights: the warp, the final blend, symmetry, padding, the INTERPOLATOR.

Random weights make no sensible midpoint (I(a, a) is not a), so these tests check structure:
each part against an independent re-computation, and what the architecture guarantees.
"""

from __future__ import annotations

import pytest
import torch

from kinema.interpolation.rife import RifeInterpolator
from kinema.interpolation.rife.ifnet import RifeFlowNet, swap_flow_halves
from kinema.interpolation.rife.interpolator import midpoint
from kinema.interpolation.rife.warp import backward_warp


def seeded(*shape: int, seed: int) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed))


def bilinear_reference(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``image`` [B, C, H, W] read at x + flow(x) in pixels, positions clamped to the image: written out by hand."""
    batch, channels, height, width = image.shape
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float64), torch.arange(width, dtype=torch.float64), indexing="ij")
    px = (xs + flow[:, 0].double()).clamp(0, width - 1)  # [B, H, W]
    py = (ys + flow[:, 1].double()).clamp(0, height - 1)
    x0, y0 = px.floor().long(), py.floor().long()
    x1, y1 = (x0 + 1).clamp(max=width - 1), (y0 + 1).clamp(max=height - 1)
    fx, fy = (px - x0).unsqueeze(1), (py - y0).unsqueeze(1)  # [B, H, W] -> [B, 1, H, W], broadcast over channels
    flat = image.double().reshape(batch, channels, height * width)  # [B, C, H, W] -> [B, C, H*W] for gather

    def at(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        index = (y * width + x).reshape(batch, 1, height * width).expand(batch, channels, -1)  # [B, H, W] -> [B, C, H*W]
        return flat.gather(2, index).reshape(batch, channels, height, width)  # [B, C, H*W] -> [B, C, H, W]

    top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return (top * (1 - fy) + bottom * fy).to(image.dtype)


def test_warp_with_zero_flow_is_the_identity():
    image = seeded(2, 3, 20, 28, seed=0)
    # float32 grid positions are off by ~1e-6 px, so values by about as much
    torch.testing.assert_close(backward_warp(image, torch.zeros(2, 2, 20, 28)), image, atol=1e-5, rtol=0)


def test_warp_by_whole_pixels_reads_the_shifted_image_with_edges_replicated():
    image = seeded(1, 3, 16, 24, seed=1)
    flow = torch.zeros(1, 2, 16, 24)
    flow[:, 0], flow[:, 1] = 3.0, -2.0  # read 3 px to the right and 2 px up
    rows, cols = (torch.arange(16) - 2).clamp(0, 15), (torch.arange(24) + 3).clamp(0, 23)
    expected = image[:, :, rows][:, :, :, cols]
    torch.testing.assert_close(backward_warp(image, flow), expected, atol=1e-5, rtol=0)


def test_warp_matches_bilinear_sampling_written_out_by_hand():
    image, flow = seeded(2, 3, 24, 40, seed=2), (seeded(2, 2, 24, 40, seed=3) - 0.5) * 12  # up to 6 px, past the edges
    torch.testing.assert_close(backward_warp(image, flow), bilinear_reference(image, flow), atol=1e-5, rtol=0)


def test_the_middle_frame_is_the_sigmoid_blend_of_both_warped_frames(rife_network):
    frame0, frame1 = seeded(1, 3, 64, 96, seed=4), seeded(1, 3, 64, 96, seed=5)
    with torch.no_grad():
        flow, logit = rife_network.estimate(frame0, frame1)
        middle = rife_network(frame0, frame1)
    assert flow.shape == (1, 4, 64, 96) and logit.shape == (1, 1, 64, 96)
    assert flow.abs().max() > 0.5  # the random weights move pixels, so the warps matter below
    weight0 = 1 / (1 + torch.exp(-logit.double()))
    expected = weight0 * bilinear_reference(frame0.double(), flow[:, :2]) + (1 - weight0) * bilinear_reference(frame1.double(), flow[:, 2:])
    torch.testing.assert_close(middle.double(), expected, atol=1e-5, rtol=0)


def test_swapping_the_frames_swaps_the_flows_and_negates_the_blend_logit(rife_network):
    """Each block runs on both frame orders and averages them, so the network is symmetric whatever its weights."""
    frame0, frame1 = seeded(1, 3, 64, 64, seed=6), seeded(1, 3, 64, 64, seed=7)
    with torch.no_grad():
        flow, logit = rife_network.estimate(frame0, frame1)
        flow_swapped, logit_swapped = rife_network.estimate(frame1, frame0)
        forward, backward = rife_network(frame0, frame1), rife_network(frame1, frame0)
    torch.testing.assert_close(flow_swapped, swap_flow_halves(flow), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(logit_swapped, -logit, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(backward, forward, atol=1e-5, rtol=0)


def test_untrained_network_changes_nothing_where_it_cannot_see_motion():
    """All weights zero: no flow, logit 0, so the middle frame is the plain average."""
    network = RifeFlowNet()
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.zero_()
    frame0, frame1 = seeded(1, 3, 32, 32, seed=8), seeded(1, 3, 32, 32, seed=9)
    with torch.no_grad():
        torch.testing.assert_close(network(frame0, frame1), (frame0 + frame1) / 2, atol=1e-5, rtol=0)  # warp rounding


def test_odd_sizes_are_padded_by_edge_replication_and_cropped_back(rife_network):
    frame0, frame1 = seeded(1, 3, 37, 50, seed=10), seeded(1, 3, 37, 50, seed=11)
    with torch.no_grad():
        middle = midpoint(rife_network, frame0, frame1)
        padded = rife_network(*(torch.nn.functional.pad(f, (0, 14, 0, 27), mode="replicate") for f in (frame0, frame1)))
    assert middle.shape == (1, 3, 37, 50)
    torch.testing.assert_close(middle, padded[..., :37, :50].clamp(0, 1), atol=0, rtol=0)
    with pytest.raises(RuntimeError):  # the reason for padding: the network needs multiples of 32
        rife_network(frame0, frame1)


def test_the_interpolator_returns_midpoints_in_range_on_the_frames_device_and_dtype(rife_network):
    first, second = seeded(3, 37, 50, 3, seed=12).double(), seeded(3, 37, 50, 3, seed=13).double()
    interpolate = RifeInterpolator(rife_network)
    middle = interpolate(first, second)
    assert middle.shape == first.shape and middle.dtype == torch.float64 and middle.device == first.device
    assert 0.0 <= middle.min() and middle.max() <= 1.0
    assert not torch.equal(middle[0], middle[1])  # pairs are not mixed up or repeated
    for index in range(3):  # a batch is its pairs one by one
        alone = interpolate(first[index:index + 1], second[index:index + 1])
        torch.testing.assert_close(middle[index:index + 1], alone, atol=1e-6, rtol=0)
    # the same pair again gives the same bits
    assert torch.equal(interpolate(first, second), middle)


def test_the_interpolator_follows_the_network_frame_by_frame(rife_network):
    first, second = seeded(1, 32, 64, 3, seed=14), seeded(1, 32, 64, 3, seed=15)
    with torch.no_grad():  # [1, H, W, 3] -> [1, 3, H, W] for the network, and back
        expected = rife_network(first.permute(0, 3, 1, 2), second.permute(0, 3, 1, 2)).clamp(0, 1).permute(0, 2, 3, 1)
    torch.testing.assert_close(RifeInterpolator(rife_network)(first, second), expected, atol=1e-6, rtol=0)


def test_mismatched_frames_are_refused_in_a_sentence(rife_network):
    with pytest.raises(ValueError, match=r"RIFE IFNet HDv3: frames to interpolate must be two image batches of one shape"):
        RifeInterpolator(rife_network)(torch.zeros(2, 32, 32, 3), torch.zeros(1, 32, 32, 3))
