"""ControlVideo's fully cross-frame attention (REFERENCE section 3 checks) on every frame-attention route, and inside
the hierarchical sampler's clip passes."""

from __future__ import annotations

import pytest
import torch

from frame_attention_support import ROUTES, TOKENS, C, block, call_options, frames_in, patch_with, projections, sdpa
from kinema.controlvideo.attention import FullyCrossFrameStrategy


def reference_attention(hidden: torch.Tensor, frames: int, kv_frames: list[int] | None = None) -> torch.Tensor:
    """The reference processor's arithmetic: Q per frame, K/V of [B*F, N, C] regrouped to [B, F*N, C] (or the ``kv_frames``
    positions of each clip, its inter_frame branch), attention of every frame's queries against them."""
    wq, wk, wv = projections()
    q, k, v = hidden @ wq, hidden @ wk, hidden @ wv
    chunks = hidden.shape[0] // frames
    # [B*F, N, C] -> [B, F, N, C]
    k, v = (t.view(chunks, frames, TOKENS, C) for t in (k, v))
    if kv_frames is not None:
        k, v = k[:, kv_frames], v[:, kv_frames]
    # [B, S, N, C] -> [B, S*N, C] -> [B*F, S*N, C]: every frame of a chunk against the same keys
    k, v = (t.reshape(chunks, -1, C).repeat_interleave(frames, 0) for t in (k, v))
    return sdpa(q, k, v)


@pytest.mark.parametrize("route", list(ROUTES))
def test_equals_the_reference_arithmetic_for_every_frame_on_every_route(route):
    x = frames_in(2, 5)
    options = call_options([1, 0], 10, **ROUTES[route])
    torch.testing.assert_close(block(x, patch_with(FullyCrossFrameStrategy()), options), reference_attention(x, 5),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("route", list(ROUTES))
def test_one_frame_and_identical_frames_are_plain_self_attention_and_permutations_commute(route):
    one = frames_in(2, 1)
    torch.testing.assert_close(block(one, patch_with(FullyCrossFrameStrategy()), call_options([1, 0], 2, **ROUTES[route])),
                               block(one, None, call_options([1, 0], 2)))
    # [B, N, C] -> [B, 4, N, C] -> [B*4, N, C]: every frame the same
    same = one[:, None].expand(2, 4, TOKENS, C).reshape(8, TOKENS, C)
    options = call_options([1, 0], 8, **ROUTES[route])
    torch.testing.assert_close(block(same, patch_with(FullyCrossFrameStrategy()), options), block(same, None, options))
    x, order = frames_in(2, 4), torch.tensor([3, 1, 0, 2])
    out = block(x, patch_with(FullyCrossFrameStrategy()), options)
    permuted = block(torch.cat([x[:4][order], x[4:][order]]), patch_with(FullyCrossFrameStrategy()), options)
    torch.testing.assert_close(permuted, torch.cat([out[:4][order], out[4:][order]]), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("reference_positions", [False, True])
def test_a_hierarchical_clip_pass_attends_to_its_key_frames_as_the_reference_inter_frame_branch(route, reference_positions):
    window = (0, 3, 1, 2)  # the clip between key frames 0 and 3, led by them
    x = frames_in(2, 4)
    options = call_options([1, 0], 8, window_frames=window, **ROUTES[route])
    out = block(x, patch_with(FullyCrossFrameStrategy(reference_clip_positions=reference_positions)), options)
    torch.testing.assert_close(out, reference_attention(x, 4, [0, -1] if reference_positions else [0, 1]), rtol=1e-5, atol=1e-6)
    # the key frames' own pass, a core context window or the whole clip: all frames
    for frames in ((0, 3, 6, 9), (4, 5, 6, 7), None):
        options = call_options([1, 0], 8, window_frames=frames, **ROUTES[route])
        torch.testing.assert_close(block(x, patch_with(FullyCrossFrameStrategy()), options), reference_attention(x, 4),
                                   rtol=1e-5, atol=1e-6)
