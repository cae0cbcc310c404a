"""The AnimateDiff temporal transformer ("motion module") in plain PyTorch.

Follows the original ``VanillaTemporalModule``: per-frame GroupNorm, ``proj_in``, one
transformer block of two temporal self-attentions (pre-LayerNorm, sinusoidal position
encoding added after the norm and before q/k/v) and a GEGLU feed-forward, ``proj_out``,
residual. Module attribute names reproduce the original state-dict keys, so normalised
checkpoints load with ``strict=True``.

Everything after the GroupNorm is per token except the attention, so the whole
transformer runs in the ``[(b h w), f, c]`` layout (one permute in, one out) instead of
permuting around every attention as the original does; the result is the same.

Per-run options (``frames``, ``scale``, ``effect``, ``attention``) are forward
arguments, never module state. The layer classes (``Linear``, ``LayerNorm``,
``GroupNorm``) come from a ``layers`` namespace: by default torch.nn's (``OneDnnLinear``
for ``Linear``); ComfyUI's weight-casting layers let its memory manager keep part of the
weights in system RAM (low-VRAM mode) and stream them in per call. The linear layers compute
``F.linear``, handed to oneDNN's product on x86-64 CPUs in float32 (``onednn_linear``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layout import MotionLayout
from .onednn_linear import OneDnnLinear

HEADS = 8
# Everything after the GroupNorm is independent per (b h w) sequence, so the transformer runs
# over chunks of sequences whose widest intermediate (GEGLU's 8C projection) stays under this
# size: below glibc's 32 MiB mmap ceiling freed blocks are reused instead of fresh pages being
# faulted in for every large output (measured on CPU: 320-channel modules at a 16x16 latent,
# 2 x 16 frames, 0.28 s instead of 0.34 s), and peak activation memory stops scaling with the batch.
CHUNK_BYTES = 30 * 2**20

# A namespace with ``Linear``, ``LayerNorm`` and ``GroupNorm`` classes of torch.nn's signatures.
Layers = SimpleNamespace
TORCH_LAYERS = SimpleNamespace(Linear=OneDnnLinear, LayerNorm=nn.LayerNorm, GroupNorm=nn.GroupNorm)

# attention(q, k, v, heads) -> out, all [batch, tokens, heads * dim_head]: ComfyUI's optimized_attention signature.
AttentionFn = Callable[[Tensor, Tensor, Tensor, int], Tensor]


def sdpa_attention(q: Tensor, k: Tensor, v: Tensor, heads: int) -> Tensor:
    """Default attention: torch's fused scaled_dot_product_attention (never materialises more than f x f scores)."""
    batch, tokens, inner = q.shape
    dim_head = inner // heads
    # [B, T, H*D] -> [B, H, T, D]
    q, k, v = (t.reshape(batch, -1, heads, dim_head).transpose(1, 2) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v)
    # [B, H, T, D] -> [B, T, H*D]
    return out.transpose(1, 2).reshape(batch, tokens, inner)


def sinusoidal_position_encoding(length: int, channels: int, dtype: torch.dtype = torch.float32) -> Tensor:
    """``pe[0, pos, 2i] = sin(pos * 10000^(-2i/C))``, ``pe[0, pos, 2i+1] = cos(...)``; shape [1, length, channels]."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    inv_freq = torch.exp(torch.arange(0, channels, 2, dtype=torch.float32) * (-math.log(10000.0) / channels))
    pe = torch.zeros(1, length, channels)
    pe[0, :, 0::2] = torch.sin(position * inv_freq)
    pe[0, :, 1::2] = torch.cos(position * inv_freq)
    return pe.to(dtype)


class PositionalEncoding(nn.Module):
    """Adds the first ``f`` rows of a fixed sinusoid table (buffer ``pe`` [1, L, C], L read from the weights)."""

    def __init__(self, channels: int, max_len: int):
        super().__init__()
        self.register_buffer("pe", sinusoidal_position_encoding(max_len, channels))

    def forward(self, x: Tensor) -> Tensor:  # x: [(b h w), f, c]
        frames, max_len = x.shape[1], self.pe.shape[1]
        if frames > max_len:
            raise ValueError(
                f"{frames} frames in one motion-module pass, but this motion module's position encoding covers "
                f"{max_len}: use context windows of at most {max_len} frames, or generate fewer frames"
            )
        # the table is a buffer, which a partially loaded model leaves in system RAM
        return x + self.pe[:, :frames].to(device=x.device, dtype=x.dtype)


class TemporalSelfAttention(nn.Module):
    """Self-attention across frames; every spatial position of every video is one sequence."""

    def __init__(self, channels: int, heads: int, pe_length: int, layers: Layers = TORCH_LAYERS):
        super().__init__()
        self.heads = heads
        self.pos_encoder = PositionalEncoding(channels, pe_length)
        self.to_q = layers.Linear(channels, channels, bias=False)
        self.to_k = layers.Linear(channels, channels, bias=False)
        self.to_v = layers.Linear(channels, channels, bias=False)
        # A list so the key is ``to_out.0`` as in the original (index 1 was a parameter-free dropout).
        self.to_out = nn.ModuleList([layers.Linear(channels, channels)])

    def forward(self, x: Tensor, scale: float, attention: AttentionFn) -> Tensor:  # x: [(b h w), f, c]
        x = self.pos_encoder(x)
        q, k, v = self.to_q(x), self.to_k(x), self.to_v(x)
        if scale != 1.0:
            k = k.mul_(scale)  # attention temperature (AnimateDiff-Evolved's "scale"); k is this call's own tensor
        return self.to_out[0](attention(q, k, v, self.heads))


class GEGLU(nn.Module):
    def __init__(self, dim_in: int, dim_out: int, layers: Layers = TORCH_LAYERS):
        super().__init__()
        self.proj = layers.Linear(dim_in, dim_out * 2)

    def forward(self, x: Tensor) -> Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return F.gelu(gate).mul_(value)  # the product reuses gelu's fresh output: one [rows, 4C] allocation, not two


class FeedForward(nn.Module):
    def __init__(self, channels: int, mult: int = 4, layers: Layers = TORCH_LAYERS):
        super().__init__()
        # Keys ``net.0.proj`` and ``net.2``; index 1 was a parameter-free dropout.
        self.net = nn.ModuleList(
            [GEGLU(channels, channels * mult, layers), nn.Identity(), layers.Linear(channels * mult, channels)]
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.net[2](self.net[0](x))


class TemporalTransformerBlock(nn.Module):
    def __init__(self, channels: int, heads: int, pe_length: int, attention_blocks: int = 2, layers: Layers = TORCH_LAYERS):
        super().__init__()
        self.attention_blocks = nn.ModuleList(
            [TemporalSelfAttention(channels, heads, pe_length, layers) for _ in range(attention_blocks)]
        )
        self.norms = nn.ModuleList([layers.LayerNorm(channels) for _ in range(attention_blocks)])
        self.ff = FeedForward(channels, layers=layers)
        self.ff_norm = layers.LayerNorm(channels)

    def forward(self, x: Tensor, scale: float, attention: AttentionFn) -> Tensor:  # x: [(b h w), f, c]
        # each residual is added into the sublayer's fresh output (its output projection's), not a new tensor
        for attn, norm in zip(self.attention_blocks, self.norms, strict=True):
            x = attn(norm(x), scale, attention).add_(x)
        return self.ff(self.ff_norm(x)).add_(x)


class TemporalTransformer(nn.Module):
    def __init__(self, channels: int, heads: int, pe_length: int, groups: int = 32, layers: Layers = TORCH_LAYERS):
        super().__init__()
        self.norm = layers.GroupNorm(groups, channels, eps=1e-6, affine=True)
        self.proj_in = layers.Linear(channels, channels)
        self.transformer_blocks = nn.ModuleList([TemporalTransformerBlock(channels, heads, pe_length, layers=layers)])
        self.proj_out = layers.Linear(channels, channels)

    def forward(self, x: Tensor, frames: int, scale: float, attention: AttentionFn) -> Tensor:
        bf, c, h, w = x.shape
        b = bf // frames
        # GroupNorm on the (b f) batch axis: every frame is normalised with its own statistics.
        hidden = self.norm(x)
        # [(b f), c, h, w] -> [b, (h w), f, c] -> [(b h w), f, c]: frames become the attention sequence
        hidden = hidden.reshape(b, frames, c, h * w).permute(0, 3, 1, 2).reshape(b * h * w, frames, c)
        step = max(1, CHUNK_BYTES // (frames * 8 * c * hidden.element_size()))
        for start in range(0, hidden.shape[0], step):
            chunk = self.proj_in(hidden[start:start + step])
            for block in self.transformer_blocks:
                chunk = block(chunk, scale, attention)
            hidden[start:start + step] = self.proj_out(chunk)  # the normalised input of these rows is spent
        # [(b h w), f, c] -> [b, h, w, f, c] -> [b, f, c, h, w] (a view; the residual add writes the final layout)
        hidden = hidden.view(b, h, w, frames, c).permute(0, 3, 4, 1, 2)
        # x first, so the sum takes x's (contiguous NCHW) layout; [b, f, c, h, w] -> [(b f), c, h, w]
        return (x.reshape(b, frames, c, h, w) + hidden).reshape(bf, c, h, w)


class MotionModule(nn.Module):
    """One ``VanillaTemporalModule``: called on a UNet activation [(b f), c, h, w], returns the same shape."""

    def __init__(self, channels: int, pe_length: int, heads: int = HEADS, layers: Layers = TORCH_LAYERS):
        super().__init__()
        if channels % 32 or channels % heads:
            raise ValueError(f"motion module channels must be divisible by 32 (GroupNorm) and {heads} (heads): {channels}")
        self.channels = channels
        self.temporal_transformer = TemporalTransformer(channels, heads, pe_length, layers=layers)

    def forward(
        self,
        x: Tensor,
        frames: int,
        *,
        scale: float = 1.0,
        effect: float = 1.0,
        attention: AttentionFn | None = None,
    ) -> Tensor:
        """``x``: [(b f), c, h, w] with frames innermost; ``out = x*(1-effect) + module(x)*effect``."""
        if effect == 0.0:
            return x  # bit-identical and no compute
        if frames < 1 or x.shape[0] % frames:
            raise ValueError(f"batch of {x.shape[0]} activations is not a whole number of {frames}-frame videos")
        if x.shape[1] != self.channels:
            raise ValueError(f"motion module for {self.channels} channels got an activation with {x.shape[1]}")
        out = self.temporal_transformer(x, frames, scale, attention or sdpa_attention)
        if effect == 1.0:
            return out
        return torch.lerp(x, out, effect)  # x + e*(out - x) == x*(1-e) + out*e, one kernel


class MotionBlock(nn.Module):
    """The modules of one UNet level; exists so the keys read ``{block}.motion_modules.{j}``."""

    def __init__(self, channels: int, count: int, pe_length: int, heads: int, layers: Layers = TORCH_LAYERS):
        super().__init__()
        self.motion_modules = nn.ModuleList([MotionModule(channels, pe_length, heads, layers) for _ in range(count)])


class MotionModuleSet(nn.Module):
    """All motion modules of one checkpoint, with the original key layout."""

    def __init__(self, layout: MotionLayout, pe_length: int, has_mid_block: bool, heads: int = HEADS, layers: Layers = TORCH_LAYERS):
        super().__init__()
        if has_mid_block and layout.mid_channels is None:
            raise ValueError(f"a {layout.model_type} layout has no middle-block motion module")
        self.layout = layout
        self.pe_length = pe_length
        self.has_mid_block = has_mid_block
        self.down_blocks = nn.ModuleList(
            [MotionBlock(c, layout.down_modules_per_level, pe_length, heads, layers) for c in layout.down_channels]
        )
        self.up_blocks = nn.ModuleList(
            [MotionBlock(c, layout.up_modules_per_level, pe_length, heads, layers) for c in layout.up_channels]
        )
        self.mid_block = MotionBlock(layout.mid_channels, 1, pe_length, heads, layers) if has_mid_block else None

    def modules_by_name(self) -> dict[str, MotionModule]:
        """``{"down_blocks.0.motion_modules.0": module, ...}`` (names as in ``layout.module_names``)."""
        return {name: module for name, module in self.named_modules() if isinstance(module, MotionModule)}
