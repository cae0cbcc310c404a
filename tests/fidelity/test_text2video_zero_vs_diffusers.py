"""Kinema's Text2Video-Zero pieces against diffusers' (deprecated) implementation on identical inputs.

Warp: bit-identical (max abs diff 0). Cross-frame attention: ComfyUI's own transformer block
with Kinema's attn1 patch against diffusers' block with ``CrossFrameAttnProcessor2_0``, same
weights, within 1e-5 in fp32.
"""

from __future__ import annotations

import pytest
import torch
from diffusers.pipelines.text_to_video_synthesis import pipeline_text_to_video_zero as t2vz

from kinema.frame_attention import ROUTE_OPTION, AnchorStrategy, FrameAttention, FrameAttentionReplacement, RestoreFrameBatch, Route
from kinema.text2video_zero import warp_frames

TOL = dict(rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("height", "width"), [(64, 64), (96, 96), (128, 128), (40, 72)])
@pytest.mark.parametrize(("sx", "sy"), [(12.0, 12.0), (7.3, -5.0), (0.0, 20.0)])
def test_motion_field_and_warp_are_bit_identical(height, width, sx, sy):
    latents = torch.randn(8, 4, height, width, generator=torch.Generator().manual_seed(0))
    frame_ids = list(range(1, 9))  # frames 2..F of the reference (global ids 1..8)
    with torch.no_grad():
        expected = t2vz.create_motion_field_and_warp_latents(sx, sy, frame_ids, latents)
    ours = warp_frames(latents, frame_ids, sx, sy)
    assert (ours - expected).abs().max().item() == 0.0


def seeded(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random weights at a scale that keeps activations near 1, so 1e-5 is a meaningful fp32 tolerance."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            param.copy_(torch.randn(param.shape, generator=generator) * 0.1 + (1.0 if name.endswith("weight") and param.dim() == 1 else 0.0))
    return module.eval()


@pytest.fixture(scope="module")
def blocks(comfy_host):
    """diffusers' BasicTransformerBlock with cross-frame attn1, and ComfyUI's with the same weights."""
    from comfy.ldm.modules.attention import BasicTransformerBlock as ComfyBlock
    from diffusers.models.attention import BasicTransformerBlock

    dim, heads, context_dim = 64, 4, 32
    theirs = seeded(BasicTransformerBlock(dim, heads, dim // heads, cross_attention_dim=context_dim, activation_fn="geglu"), 1)
    theirs.attn1.set_processor(t2vz.CrossFrameAttnProcessor2_0(batch_size=2))
    ours = ComfyBlock(dim, heads, dim // heads, context_dim=context_dim).eval()
    missing, unexpected = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert not missing and not unexpected
    return theirs, ours, context_dim


LAYER = ("output", 3, 0)


def cross_frame_patch() -> FrameAttention:
    """Our patch as Cross-Frame Attention makes it, with the glue's facts and attention (kinema.nodes binding)."""
    from kinema.comfy_glue.attention import self_attention
    from kinema.nodes.frame_attention_binding import read_facts

    return FrameAttention(read_facts=read_facts, attend=self_attention).with_feature("t2vz", AnchorStrategy())


@pytest.mark.parametrize("way", ["copy", "fold", "replacement"], ids=["per-frame sources", "frames folded", "our replacement"])
def test_cross_frame_attention_matches_diffusers_in_a_real_comfy_block(blocks, way):
    theirs, ours, context_dim = blocks
    frames, tokens = 6, 20
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2 * frames, tokens, 64, generator=generator)
    # [2, 77-ish, D] per chunk -> one text embedding per frame, uncond chunk first as in diffusers
    text = torch.randn(2, 7, context_dim, generator=generator).repeat_interleave(frames, 0)
    patch = cross_frame_patch()
    patches = {"attn1_patch": [patch], "attn1_output_patch": [RestoreFrameBatch()]}
    route = Route(batch=x.shape[0], fold=way == "fold", ours=frozenset({LAYER}) if way == "replacement" else frozenset())
    options = {"patches": patches, "cond_or_uncond": [1, 0], "block": LAYER[:2], "block_index": LAYER[2], ROUTE_OPTION: route}
    if way == "replacement":
        options["patches_replace"] = {"attn1": {LAYER: FrameAttentionReplacement(patch)}}
    with torch.no_grad():
        expected = theirs(x, encoder_hidden_states=text)
        got = ours(x, context=text, transformer_options=options)
        plain = ours(x, context=text, transformer_options={"cond_or_uncond": [1, 0]})
    torch.testing.assert_close(got, expected, **TOL)
    assert (got - plain).abs().max() > 1e-3, "the patch must change frames other than the anchor"


def test_cross_frame_attention_output_matches_the_processor(blocks):
    """The attention layer alone: diffusers' processor vs ComfyUI's CrossAttention fed our patched K/V sources."""
    theirs, ours, _ = blocks
    frames = 5
    hidden = torch.randn(2 * frames, 16, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected = theirs.attn1(hidden)
        n, context, value = cross_frame_patch()(hidden, hidden, hidden, {"cond_or_uncond": [1, 0]})
        got = ours.attn1(n, context=context, value=value)
    torch.testing.assert_close(got, expected, **TOL)
