"""Kinema's motion module against diffusers' independent AnimateDiff implementation, same weights.

One known difference: diffusers' ``AnimateDiffTransformer3D`` runs its GroupNorm on
``[b, c, f, h, w]``, so statistics span frames, while the original AnimateDiff (and
Kinema) normalise each frame on its own. The comparisons therefore give diffusers a
per-frame GroupNorm with the same affine weights, or use one frame (where both agree);
a separate test pins the difference down. Tolerance: 1e-5 in fp32.
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from diffusers.models.unets import unet_motion_model
from torch import nn

from fixtures import motion_module_files  # scripts/ is on sys.path: root conftest
from kinema.motion_modules.formats import load_motion_module
from kinema.motion_modules.network import MotionModule

C, HEADS, PE, B, FRAMES, H, W = 64, 8, 32, 2, 8, 3, 4
TOL = dict(rtol=1e-5, atol=1e-5)


def seeded_(module: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=generator) * 0.2
            param.copy_(noise + 1.0 if name.endswith("weight") and param.dim() == 1 else noise)
    return module.eval()


def diffusers_reference() -> nn.Module:
    return unet_motion_model.AnimateDiffTransformer3D(
        num_attention_heads=HEADS, attention_head_dim=C // HEADS, in_channels=C, norm_num_groups=32,
        activation_fn="geglu", attention_bias=False, cross_attention_dim=None, double_self_attention=True,
        positional_embeddings="sinusoidal", num_positional_embeddings=PE,
    ).eval()


def to_diffusers_names(state_dict: dict) -> dict:
    """Original AnimateDiff names -> diffusers names, written out here independently of formats.py."""
    out = {}
    for key, value in state_dict.items():
        key = key.removeprefix("temporal_transformer.")
        if key.endswith("attention_blocks.1.pos_encoder.pe"):
            continue  # diffusers holds one table per transformer block (both tables are the same sinusoids)
        key = key.replace("attention_blocks.0.pos_encoder.pe", "pos_embed.pe")
        for old, new in (("norms.0", "norm1"), ("norms.1", "norm2"), ("ff_norm", "norm3"),
                         ("attention_blocks.0", "attn1"), ("attention_blocks.1", "attn2")):
            key = re.sub(rf"\.{re.escape(old)}\.", f".{new}.", key)
        out[key] = value
    return out


class PerFrameGroupNorm(nn.Module):
    """diffusers' GroupNorm (input [b, c, f, h, w]) with statistics per frame, same affine weights."""

    def __init__(self, norm: nn.GroupNorm):
        super().__init__()
        self.inner = norm

    def forward(self, x):
        b, c, f, h, w = x.shape
        # [b, c, f, h, w] -> [(b f), c, h, w] -> normalise each frame -> back
        frames = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        n = self.inner
        out = F.group_norm(frames, n.num_groups, n.weight, n.bias, n.eps)
        return out.reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)


@pytest.fixture
def pair():
    ours = seeded_(MotionModule(C, PE), seed=3)
    ref = diffusers_reference()
    ref.load_state_dict(to_diffusers_names(ours.state_dict()), strict=True)
    return ours, ref


def video(frames: int, seed: int = 5) -> torch.Tensor:
    return torch.randn((B * frames, C, H, W), generator=torch.Generator().manual_seed(seed))  # [(b f), c, h, w]


@torch.no_grad()
def test_matches_diffusers_given_a_per_frame_group_norm(pair):
    ours, ref = pair
    ref.norm = PerFrameGroupNorm(ref.norm)
    x = video(FRAMES)
    torch.testing.assert_close(ours(x, FRAMES), ref(x, num_frames=FRAMES), **TOL)


@torch.no_grad()
def test_matches_unmodified_diffusers_on_single_frames(pair):
    ours, ref = pair
    x = video(1)
    torch.testing.assert_close(ours(x, 1), ref(x, num_frames=1), **TOL)


@torch.no_grad()
def test_group_norm_is_per_frame_where_diffusers_spans_frames(pair):
    ours, ref = pair
    x = video(FRAMES)
    x[: FRAMES // 2] *= 3.0  # frames with different statistics
    assert not torch.allclose(ours(x, FRAMES), ref(x, num_frames=FRAMES), atol=1e-3)
    norm = ours.temporal_transformer.norm
    torch.testing.assert_close(norm(x), torch.cat([norm(x[i : i + 1]) for i in range(len(x))]), rtol=0, atol=0)


@torch.no_grad()
def test_loads_a_motion_adapter_saved_by_diffusers(tmp_path):
    adapter = unet_motion_model.MotionAdapter(
        block_out_channels=(64, 64, 128, 128), motion_layers_per_block=2, motion_num_attention_heads=HEADS,
        motion_norm_num_groups=32, motion_max_seq_length=24, use_motion_mid_block=True,
    )
    seeded_(adapter, seed=11).save_pretrained(tmp_path)
    network, info = load_motion_module(tmp_path / "diffusion_pytorch_model.safetensors")
    assert (info.family, info.model_type, info.pe_length, info.has_mid_block) == ("diffusers", "SD15", 24, True)
    for ours, ref in [(network.mid_block.motion_modules[0], adapter.mid_block.motion_modules[0]),
                      (network.up_blocks[2].motion_modules[2], adapter.up_blocks[2].motion_modules[2])]:
        ref.norm = PerFrameGroupNorm(ref.norm)
        # float64: this checks where every loaded weight went; fp32 rounding is the other tests' subject
        ours, ref = ours.double(), ref.double()
        x = torch.randn((B * 6, ours.channels, 2, 3), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        torch.testing.assert_close(ours(x, 6), ref(x, num_frames=6), **TOL)


def test_fixture_diffusers_layout_is_motion_adapters_own():
    with torch.device("meta"):  # full size, no memory
        expected = {k: tuple(v.shape) for k, v in unet_motion_model.MotionAdapter().state_dict().items()}
    assert motion_module_files.motion_module_shapes("diffusers") == expected
