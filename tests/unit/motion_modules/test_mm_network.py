"""Properties of the temporal transformer (small: C=64, 8 heads, GroupNorm 32)."""

from __future__ import annotations

import pytest
import torch

from kinema.motion_modules.layout import SD15_LAYOUT, SDXL_LAYOUT, module_names
from kinema.motion_modules.network import MotionModuleSet, sdpa_attention

C, B, F, H, W = 64, 2, 8, 3, 4


class SpyAttention:
    """Records what the module passes to the attention callable, then runs the default."""

    def __init__(self):
        self.calls = []

    def __call__(self, q, k, v, heads):
        self.calls.append((q.shape, k.clone(), heads))
        return sdpa_attention(q, k, v, heads)


@pytest.fixture
def x(rand):
    return rand(B * F, C, H, W)  # [(b f), c, h, w]


def frame(t: torch.Tensor, video: int, f: int) -> torch.Tensor:
    return t[video * F + f]


def test_output_has_input_shape_dtype_and_layout(make_module, x):
    out = make_module()(x, F)
    assert out.shape == x.shape and out.dtype == x.dtype and out.is_contiguous()
    assert not torch.allclose(out, x)  # random non-zero proj_out: the module does something


def test_zero_proj_out_is_bit_identical_identity(make_module, x):
    module = make_module()
    with torch.no_grad():
        module.temporal_transformer.proj_out.weight.zero_()
        module.temporal_transformer.proj_out.bias.zero_()
        assert torch.equal(module(x, F), x)


def test_effect_zero_returns_input_without_computing(make_module, x):
    spy = SpyAttention()
    out = make_module()(x, F, effect=0.0, attention=spy)
    assert out is x and spy.calls == []


def test_effect_blends_input_and_module_output(make_module, x):
    module = make_module()
    with torch.no_grad():
        full, blended = module(x, F), module(x, F, effect=0.3)
    torch.testing.assert_close(blended, x * 0.7 + full * 0.3, rtol=1e-5, atol=1e-6)


def test_custom_attention_is_the_one_used(make_module, x):
    spy = SpyAttention()
    module = make_module()
    with torch.no_grad():
        assert torch.equal(module(x, F, attention=spy), module(x, F))
    # two temporal self-attentions, each over sequences of F frames, one per spatial position per video
    assert [(shape, heads) for shape, _, heads in spy.calls] == [(torch.Size([B * H * W, F, C]), 8)] * 2


def test_scale_multiplies_keys_before_attention(make_module, x):
    module = make_module()
    plain, scaled = SpyAttention(), SpyAttention()
    with torch.no_grad():
        out_plain = module(x, F, attention=plain)
        out_scaled = module(x, F, scale=1.5, attention=scaled)
    # the first attention of both runs sees the same input, so only the scale differs there
    torch.testing.assert_close(scaled.calls[0][1], plain.calls[0][1] * 1.5)
    assert not torch.allclose(out_plain, out_scaled)


def test_default_attention_is_softmax_attention_per_head(rand):
    q, k, v = rand(5, 7, 64, seed=1), rand(5, 7, 64, seed=2), rand(5, 7, 64, seed=3)

    def split(t):  # [B, T, H*D] -> [B, H, T, D]
        return t.view(5, 7, 8, 8).transpose(1, 2)

    weights = torch.softmax(split(q) @ split(k).transpose(-1, -2) / 8**0.5, dim=-1)
    expected = (weights @ split(v)).transpose(1, 2).reshape(5, 7, 64)
    torch.testing.assert_close(sdpa_attention(q, k, v, 8), expected, rtol=1e-5, atol=1e-6)


def test_frames_are_coupled_within_a_video_only(make_module, x):
    module = make_module()
    perturbed = x.clone()
    perturbed[0 * F + 2] += 1.0  # video 0, frame 2
    with torch.no_grad():
        before, after = module(x, F), module(perturbed, F)
    assert not torch.allclose(frame(before, 0, 5), frame(after, 0, 5))  # another frame of the same video changes
    torch.testing.assert_close(before[F:], after[F:], rtol=0, atol=1e-6)  # the other video does not


def test_without_position_encoding_permuting_frames_permutes_outputs(make_module, x):
    module, x = make_module().double(), x.double()  # fp64: equality up to summation order only
    permutation = torch.tensor([3, 0, 7, 1, 6, 2, 5, 4])
    index = torch.cat([permutation + v * F for v in range(B)])  # same frame order change in every video
    with torch.no_grad():
        with_pe = module(x[index], F), module(x, F)[index]
        for buffer_name, buffer in module.named_buffers():
            assert buffer_name.endswith("pos_encoder.pe")
            buffer.zero_()
        without_pe = module(x[index], F), module(x, F)[index]
    torch.testing.assert_close(*without_pe, rtol=1e-10, atol=1e-10)
    assert not torch.allclose(*with_pe, atol=1e-3)  # the sinusoids are what tells frames apart


def test_group_norm_statistics_do_not_span_frames(make_module, x):
    module = make_module()
    captured = []
    module.temporal_transformer.norm.register_forward_hook(lambda mod, inp, out: captured.append(out))
    changed = x.clone()
    changed[3] = changed[3] * 7.0 + 2.0  # frame 3 of video 0 gets very different statistics
    with torch.no_grad():
        module(x, F)
        module(changed, F)
    before, after = captured
    assert torch.equal(torch.cat([before[:3], before[4:]]), torch.cat([after[:3], after[4:]]))
    assert not torch.allclose(before[3], after[3])


def test_more_frames_than_position_encoding_is_a_clear_error(make_module, rand):
    module = make_module(pe_length=4)
    with pytest.raises(ValueError, match=r"6 frames.*covers 4.*context windows"):
        module(rand(6, C, 2, 2), 6)


def test_batch_must_be_whole_videos_and_channels_must_match(make_module, rand):
    module = make_module()
    with pytest.raises(ValueError, match="whole number of 4-frame videos"):
        module(rand(6, C, 2, 2), 4)
    with pytest.raises(ValueError, match="64 channels got an activation with 32"):
        module(rand(4, 32, 2, 2), 4)


def test_runs_in_half_precision(make_module, x):
    module = make_module().to(torch.bfloat16)
    out = module(x.to(torch.bfloat16), F)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


MODULE_KEYS = sorted(
    [f"temporal_transformer.{n}.{p}" for n in ("norm", "proj_in", "proj_out") for p in ("weight", "bias")]
    + [f"temporal_transformer.transformer_blocks.0.{n}.{p}" for n in ("norms.0", "norms.1", "ff_norm", "ff.net.0.proj", "ff.net.2") for p in ("weight", "bias")]
    + [f"temporal_transformer.transformer_blocks.0.attention_blocks.{k}.{n}" for k in (0, 1)
       for n in ("to_q.weight", "to_k.weight", "to_v.weight", "to_out.0.weight", "to_out.0.bias", "pos_encoder.pe")]
)


@pytest.mark.parametrize("layout, has_mid, count, params", [
    (SD15_LAYOUT, True, 21, 453_209_280), (SD15_LAYOUT, False, 20, 417_137_600), (SDXL_LAYOUT, False, 15, 236_779_200),
])
def test_module_set_has_the_original_key_template(layout, has_mid, count, params):
    with torch.device("meta"):
        network = MotionModuleSet(layout, 32, has_mid)
    keys = list(network.state_dict())
    prefixes = module_names(layout, has_mid)
    assert len(prefixes) == count
    assert sorted(keys) == sorted(f"{p}.{k}" for p in prefixes for k in MODULE_KEYS)
    # 22 C^2 + 21 C parameters per module (REFERENCE), summed over the layout
    assert sum(p.numel() for p in network.parameters()) == params
    assert set(network.modules_by_name()) == set(prefixes)


def test_chunked_sequences_give_the_same_output(monkeypatch):
    """The transformer runs over chunks of (b h w) sequences; chunk size never changes the result."""
    from kinema.motion_modules import network

    torch.manual_seed(0)
    module = network.MotionModule(64, pe_length=24).eval()
    with torch.no_grad():
        for param in module.parameters():
            param.normal_(0, 0.1)
    x = torch.randn(2 * 6, 64, 5, 3)
    with torch.inference_mode():
        monkeypatch.setattr(network, "CHUNK_BYTES", 2**40)
        whole = module(x, frames=6)
        monkeypatch.setattr(network, "CHUNK_BYTES", 1)  # one sequence per chunk
        one_by_one = module(x, frames=6)
    torch.testing.assert_close(one_by_one, whole, rtol=1e-5, atol=1e-5)
    assert not torch.equal(whole, x)
