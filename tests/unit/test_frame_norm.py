"""Frame-spanning GroupNorm (AnimateDiff v1 / HotShot-XL): statistics over the whole clip, nothing else changed."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kinema.motion_modules.frame_norm import ClipFrames, frame_spanning_copy, original_norm


def _norm() -> torch.nn.GroupNorm:
    norm = torch.nn.GroupNorm(4, 16, eps=1e-6)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(0))
        norm.bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(1))
    return norm


def _clips(b=2, f=5, seed=3) -> torch.Tensor:
    return torch.randn(b * f, 16, 6, 7, generator=torch.Generator().manual_seed(seed))


def test_one_frame_per_clip_is_the_original_norm():
    norm = _norm()
    twin = frame_spanning_copy(norm, ClipFrames(1))
    x = _clips()
    assert torch.equal(twin(x), norm(x))


def test_statistics_span_the_frames_of_each_clip():
    norm, frames = _norm(), 5
    twin = frame_spanning_copy(norm, ClipFrames(frames))
    x = _clips(f=frames)
    # independent reference: normalise each clip as one sample over (group, frame, h, w)
    expected = []
    for clip in x.split(frames):
        stacked = clip.permute(1, 0, 2, 3).reshape(1, 16, frames * 6, 7)  # [1, c, (f h), w]
        normed = F.group_norm(stacked, 4, norm.weight, norm.bias, 1e-6)
        expected.append(normed.reshape(16, frames, 6, 7).permute(1, 0, 2, 3))
    torch.testing.assert_close(twin(x), torch.cat(expected), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(twin(x), norm(x), atol=1e-3)


def test_identical_frames_give_per_frame_statistics():
    norm, frames = _norm(), 4
    one = torch.randn(1, 16, 6, 7)
    x = one.repeat(frames * 2, 1, 1, 1)
    torch.testing.assert_close(frame_spanning_copy(norm, ClipFrames(frames))(x), norm(x), rtol=1e-5, atol=1e-5)


def test_twin_shares_parameters_but_not_their_containers():
    norm = _norm()
    twin = frame_spanning_copy(norm, ClipFrames(3))
    assert twin.weight is norm.weight and twin.bias is norm.bias
    assert dict(twin.state_dict()).keys() == dict(norm.state_dict()).keys()
    twin._parameters["weight"] = torch.nn.Parameter(torch.zeros(16))  # as a host weight patch would
    assert norm.weight.abs().sum() > 0
    assert isinstance(twin, type(norm))


def test_a_twin_of_a_twin_is_a_twin_of_the_original():
    norm, frames = _norm(), 5
    twin = frame_spanning_copy(norm, ClipFrames(frames))
    again = frame_spanning_copy(twin, ClipFrames(frames))
    x = _clips(f=frames)
    assert original_norm(again) is norm and again.weight is norm.weight and again.bias is norm.bias
    assert torch.equal(again(x), twin(x))
