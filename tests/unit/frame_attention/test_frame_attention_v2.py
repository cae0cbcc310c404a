"""One frame-attention mechanism for every strategy: context, plans, routes, features by key, run state and banks."""

from __future__ import annotations

import pytest
import torch

from frame_attention_support import LAYER, ROUTES, TOKENS, C, block, call_options, frames_in, patch_with, projections, read_facts, sdpa
from kinema.frame_attention import (
    AllFramesStrategy,
    AnchorStrategy,
    Bank,
    BankFullError,
    CallFacts,
    FrameAttention,
    RunState,
    frame_context,
    step_index,
)


@pytest.mark.parametrize("route", list(ROUTES))
@pytest.mark.parametrize("cond_or_uncond", [[0], [1, 0]])
def test_all_frames_is_self_attention_for_one_frame_and_for_identical_frames(route, cond_or_uncond):
    chunks = len(cond_or_uncond)
    one = frames_in(chunks, 1)
    options = call_options(cond_or_uncond, chunks, **ROUTES[route])
    torch.testing.assert_close(block(one, patch_with(AllFramesStrategy()), options), block(one, None, options))
    # [B, N, C] -> [B, 5, N, C] -> [B*5, N, C]: every frame the same
    same = one[:, None].expand(chunks, 5, TOKENS, C).reshape(chunks * 5, TOKENS, C)
    options = call_options(cond_or_uncond, chunks * 5, **ROUTES[route])
    torch.testing.assert_close(block(same, patch_with(AllFramesStrategy()), options), block(same, None, options))


@pytest.mark.parametrize("route", list(ROUTES))
def test_all_frames_permuting_frames_permutes_outputs_and_every_route_agrees(route):
    x = frames_in(2, 4)
    options = call_options([1, 0], 8, **ROUTES[route])
    out = block(x, patch_with(AllFramesStrategy()), options)
    order = torch.tensor([2, 0, 3, 1])
    permuted = torch.cat([x[:4][order], x[4:][order]])
    out_permuted = block(permuted, patch_with(AllFramesStrategy()), options)
    torch.testing.assert_close(out_permuted, torch.cat([out[:4][order], out[4:][order]]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(out, block(x, patch_with(AllFramesStrategy()), call_options([1, 0], 8)), rtol=1e-5, atol=1e-6)
    assert not torch.allclose(out, block(x, None, options), atol=1e-4), "frames do see each other"


def test_the_replacement_route_attends_from_the_one_buffer_of_projected_keys():
    seen = []

    def recording(q, k, v, extra_options):
        seen.append((q.shape, k.shape, k.data_ptr()))
        return sdpa(q, k, v)

    x = frames_in(2, 4)
    options = call_options([1, 0], 8, ours=(LAYER,))
    patch = FrameAttention(read_facts=read_facts, attend=recording).with_feature("controlvideo", AllFramesStrategy())
    n, context, value = patch(x, x, x, options)
    assert n is x and context is x and value is x, "the patch leaves the layout alone for other packs' later patches"
    wq, wk, wv = projections()
    k = x @ wk
    patch.replace(x @ wq, k, x @ wv, options)
    assert seen == [((2, 4 * TOKENS, C), (2, 4 * TOKENS, C), k.data_ptr())], "one call per batch, keys a view of the buffer"


STRATEGIES = {
    "anchor": lambda: AnchorStrategy(anchor=1),
    "anchor+previous": lambda: AnchorStrategy(with_previous=True),
    "all_frames": AllFramesStrategy,
}


@pytest.mark.parametrize("name", list(STRATEGIES))
@pytest.mark.parametrize("route", list(ROUTES))
def test_cond_never_depends_on_uncond(name, route):
    x = frames_in(2, 3)
    y = x.clone()
    y[:3] = frames_in(1, 3, seed=7)  # the uncond chunk (cond_or_uncond [1, 0])
    options = call_options([1, 0], 6, **ROUTES[route])
    a, b = block(x, patch_with(STRATEGIES[name]()), options), block(y, patch_with(STRATEGIES[name]()), options)
    assert torch.equal(a[3:], b[3:]) and not torch.equal(a[:3], b[:3])


def test_features_by_key_combine_and_reapplying_one_leaves_the_other():
    x = frames_in(1, 4)
    options = call_options([0], 4)
    anchor, all_frames = AnchorStrategy(anchor=2), AllFramesStrategy()
    both = patch_with(anchor, all_frames, keys=["t2vz", "controlvideo"])
    outputs = {name: block(x, patch, options) for name, patch in
               {"both": both, "anchor": patch_with(anchor), "all": patch_with(all_frames)}.items()}
    assert not torch.allclose(outputs["both"], outputs["anchor"]) and not torch.allclose(outputs["both"], outputs["all"])
    again = both.with_feature("t2vz", AnchorStrategy(anchor=0))
    assert [key for key, _ in again.features] == ["controlvideo", "t2vz"] and again.feature("controlvideo") is all_frames
    assert both.feature("t2vz") is anchor, "the model the node was given keeps its patch"


def test_a_bank_refuses_to_grow_past_its_limit_and_can_stay_on_the_cpu():
    bank = Bank(max_bytes=1000, on_cpu=True)
    bank.write(("layer", 0, 0), torch.zeros(10, 10))
    assert bank.read(("layer", 0, 0)).device.type == "cpu" and bank.nbytes == 400
    with pytest.raises(BankFullError, match="over its limit"):
        bank.write(("layer", 1, 0), torch.zeros(10, 20))


def test_the_context_carries_window_frames_layer_and_the_step_from_sigmas():
    facts = CallFacts(chunk_kinds=(1, 0), window_frames=(11, 12, 13), layer=("output", 5, 1), sigma=2.0,
                      sample_sigmas=(4.0, 2.0, 0.0), run=RunState(seed=1))
    ctx = frame_context(6, facts)
    assert (ctx.layout.chunks, ctx.layout.frames, ctx.frame_ids, ctx.layer, ctx.step) == (2, 3, (11, 12, 13), ("output", 5, 1), 1)
    assert frame_context(4, CallFacts()).frame_ids == (0, 1, 2, 3)
    assert step_index(2.00001, (4.0, 2.0, 0.0)) == 1 and step_index(3.0, (4.0, 2.0, 0.0)) is None and step_index(1.0, None) is None
    generator_a, generator_b = RunState(seed=4).generator("gate", 3, LAYER), RunState(seed=4).generator("gate", 3, LAYER)
    assert torch.equal(torch.rand(5, generator=generator_a), torch.rand(5, generator=generator_b))
    assert read_facts({"cond_or_uncond": [1, 0]}).chunk_kinds == (1, 0)
