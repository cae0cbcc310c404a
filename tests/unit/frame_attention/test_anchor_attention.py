"""Cross-frame ("anchor") attention as an attn1 patch: the properties of REFERENCE.md section 2."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from frame_attention_support import call_options, patch_with
from kinema.frame_attention import AnchorStrategy, FrameLayoutError, RestoreFrameBatch, frame_layout

HEADS, TOKENS, C = 2, 6, 8


def projections(seed: int = 0) -> tuple[torch.nn.Linear, torch.nn.Linear, torch.nn.Linear]:
    torch.manual_seed(seed)
    return tuple(torch.nn.Linear(C, C, bias=False) for _ in range(3))


def attend(hidden: torch.Tensor, cond_or_uncond: list[int], strategy: AnchorStrategy | None, seed: int = 0,
           fold: bool = False) -> torch.Tensor:
    """What ComfyUI's BasicTransformerBlock does with the patches: patch hidden states, project, attend, restore.

    ``fold``: the options say nothing else sees the layout between the patch and RestoreFrameBatch.
    """
    to_q, to_k, to_v = projections(seed)
    options = call_options(cond_or_uncond, hidden.shape[0], fold=fold)
    n, context, value = hidden, hidden, hidden
    if strategy is not None:
        n, context, value = patch_with(strategy)(n, context, value, options)
    q, k, v = to_q(n), to_k(context), to_v(value)
    # [B, N, C] -> [B, heads, N, C/heads]
    split = lambda t: t.view(t.shape[0], -1, HEADS, C // HEADS).transpose(1, 2)  # noqa: E731
    out = F.scaled_dot_product_attention(split(q), split(k), split(v))
    # [B, heads, N, d] -> [B, N, C]
    out = out.transpose(1, 2).reshape(q.shape[0], -1, C)
    return RestoreFrameBatch()(out, options)


def hidden_states(chunks: int, frames: int, seed: int = 1) -> torch.Tensor:
    return torch.randn(chunks * frames, TOKENS, C, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("cond_or_uncond", [[0], [1, 0], [0, 1]])
def test_one_frame_is_plain_self_attention(cond_or_uncond):
    x = hidden_states(len(cond_or_uncond), 1)
    assert torch.equal(attend(x, cond_or_uncond, AnchorStrategy()), attend(x, cond_or_uncond, None))


@pytest.mark.parametrize("with_previous", [False, True])
def test_identical_frames_give_plain_self_attention(with_previous):
    one = hidden_states(2, 1)
    # [2, N, C] -> [2, 5, N, C] -> [10, N, C]: the same frame five times per chunk
    x = one[:, None].expand(2, 5, TOKENS, C).reshape(10, TOKENS, C)
    torch.testing.assert_close(attend(x, [1, 0], AnchorStrategy(with_previous=with_previous)), attend(x, [1, 0], None))


def test_frame_f_depends_only_on_frames_0_and_f():
    x = hidden_states(1, 5)
    base = attend(x, [0], AnchorStrategy())
    for changed in range(5):
        y = x.clone()
        y[changed] += 1.0
        out = attend(y, [0], AnchorStrategy())
        for f in range(5):
            differs = not torch.equal(out[f], base[f])
            assert differs == (changed in (0, f)), (changed, f)


def test_with_previous_frame_f_depends_on_frames_0_f_minus_1_and_f():
    x = hidden_states(1, 5)
    base = attend(x, [0], AnchorStrategy(with_previous=True))
    for changed in range(5):
        y = x.clone()
        y[changed] += 1.0
        out = attend(y, [0], AnchorStrategy(with_previous=True))
        for f in range(5):
            assert (not torch.equal(out[f], base[f])) == (changed in (0, f, max(f - 1, 0))), (changed, f)


def test_anchor_option_picks_the_source_frame():
    x = hidden_states(1, 4)
    out = attend(x, [0], AnchorStrategy(anchor=2))
    # frame f attends only to frame 2: equal to attending with frame 2's tokens as K/V
    to_q, to_k, to_v = projections()
    for f in range(4):
        q, k, v = to_q(x[f:f + 1]), to_k(x[2:3]), to_v(x[2:3])
        split = lambda t: t.view(1, -1, HEADS, C // HEADS).transpose(1, 2)  # noqa: E731
        expected = F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(1, -1, C)
        torch.testing.assert_close(out[f:f + 1], expected)


@pytest.mark.parametrize("cond_or_uncond", [[1, 0], [0, 1]])
def test_uncond_never_affects_cond(cond_or_uncond):
    frames = 4
    x = hidden_states(2, frames)
    cond = cond_or_uncond.index(0)
    uncond = 1 - cond
    y = x.clone()
    y[uncond * frames:(uncond + 1) * frames] = torch.randn(frames, TOKENS, C)
    a, b = attend(x, cond_or_uncond, AnchorStrategy()), attend(y, cond_or_uncond, AnchorStrategy())
    assert torch.equal(a[cond * frames:(cond + 1) * frames], b[cond * frames:(cond + 1) * frames])
    assert not torch.equal(a[uncond * frames:(uncond + 1) * frames], b[uncond * frames:(uncond + 1) * frames])


def test_separate_passes_match_the_joint_pass():
    """cond and uncond in one pass or in two (cond_or_uncond [0] then [1]) give the same frames."""
    x = hidden_states(2, 3)
    joint = attend(x, [0, 1], AnchorStrategy())
    torch.testing.assert_close(joint[:3], attend(x[:3], [0], AnchorStrategy()))
    torch.testing.assert_close(joint[3:], attend(x[3:], [1], AnchorStrategy()))


def test_a_split_context_and_value_are_each_sourced():
    """An earlier attn1_patch may hand different context and value tensors: both get the anchor's rows."""
    x, value = hidden_states(1, 3), hidden_states(1, 3, seed=5)
    _, k, v = patch_with(AnchorStrategy())(x, x, value, call_options([0], 3))
    assert torch.equal(k, x[:1].expand(3, -1, -1)) and torch.equal(v, value[:1].expand(3, -1, -1))


def test_layout_errors_name_the_problem():
    assert frame_layout(8, [1, 0]).frames == 4
    assert frame_layout(3, None).frames == 3
    with pytest.raises(FrameLayoutError, match="does not split into 2 guidance chunks"):
        frame_layout(5, [1, 0])
    with pytest.raises(ValueError, match="anchor frame 4 is outside the 4 frames"):
        patch_with(AnchorStrategy(anchor=4))(*(hidden_states(1, 4),) * 3, call_options([0], 4))


class SelfAttention(torch.nn.Module):
    """The call signature of ComfyUI's CrossAttention, with the projections used above."""

    def __init__(self):
        super().__init__()
        self.to_q, self.to_k, self.to_v = projections()

    def forward(self, x, context=None, value=None, mask=None, transformer_options=None):
        context = x if context is None else context
        value = context if value is None else value
        split = lambda t: t.view(t.shape[0], -1, HEADS, C // HEADS).transpose(1, 2)  # noqa: E731
        out = F.scaled_dot_product_attention(split(self.to_q(x)), split(self.to_k(context)), split(self.to_v(value)))
        return out.transpose(1, 2).reshape(x.shape[0], -1, C)


def test_the_module_form_equals_the_patch_form_and_is_inert_outside_a_chunk_aware_call():
    from kinema.frame_attention import FrameSourcedSelfAttention, GuidanceChunks

    chunks = GuidanceChunks()
    module = FrameSourcedSelfAttention(SelfAttention(), (("test", AnchorStrategy()),), chunks)
    x = hidden_states(2, 4)
    assert torch.equal(module(x), SelfAttention()(x)), "no chunk count: plain self-attention"
    chunks.count = 2
    torch.testing.assert_close(module(x), attend(x, [1, 0], AnchorStrategy()))
    text = torch.randn(8, 3, C)
    assert torch.equal(module(x, context=text), SelfAttention()(x, context=text)), "cross-attention calls pass through"


@pytest.mark.parametrize(("cond_or_uncond", "frames", "anchor"), [([0], 4, 0), ([1, 0], 3, 2), ([0, 1, 0], 2, 1)])
def test_folding_the_frames_into_one_query_sequence_is_the_same_attention(cond_or_uncond, frames, anchor):
    """With every frame sharing the anchor, [B*F, N] queries against repeated sources equal [B, F*N] against them once."""
    x = hidden_states(len(cond_or_uncond), frames)
    strategy = AnchorStrategy(anchor=anchor)
    copied = attend(x, cond_or_uncond, strategy)
    folded = attend(x, cond_or_uncond, strategy, fold=True)
    assert folded.shape == copied.shape
    torch.testing.assert_close(folded, copied, rtol=1e-6, atol=1e-6)


def test_the_patch_folds_only_when_allowed_and_only_shared_sources():
    x = hidden_states(2, 3)
    allowed = call_options([1, 0], 6, fold=True)
    n, k, v = patch_with(AnchorStrategy(anchor=1))(x, x, x, allowed)
    assert n.shape == (2, 3 * TOKENS, C) and k.shape == (2, TOKENS, C) and k is v
    assert n.data_ptr() == x.data_ptr() and k.data_ptr() == x[1].data_ptr(), "views of the hidden states, no copies"
    assert torch.equal(k, x[[1, 4]])
    n, k, _ = patch_with(AnchorStrategy())(x, x, x, call_options([1, 0], 6))
    assert n is x and k.shape == x.shape, "not allowed: per-frame sources, as before"
    n, k, _ = patch_with(AnchorStrategy(with_previous=True))(x, x, x, allowed)
    assert n is x and k.shape == (6, 2 * TOKENS, C), "anchor + previous frame differ per frame: never folded"
    assert RestoreFrameBatch()(x, allowed) is x, "an unfolded output passes through"
    with_previous = attend(x, [1, 0], AnchorStrategy(with_previous=True), fold=True)
    torch.testing.assert_close(with_previous, attend(x, [1, 0], AnchorStrategy(with_previous=True)))
