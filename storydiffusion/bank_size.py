"""How many bytes a consistent-attention bank holds: REFERENCE section 4's formula, for any set of layers.

Per identity image and guidance chunk, every step banks ``rate * tokens`` hidden states of
``channels`` values at each taking-part layer. For SDXL at 768 px, 35 steps, fp16 and rates
0.5 / 0.5 this is about 2.0 GiB per identity image; at 1024 px and 50 steps about 5.1 GiB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

# the decoder self-attention layers StoryDiffusion uses: (image pixels per token side, channels) of each
SDXL_LAYERS = ((32, 1280),) * 30 + ((16, 640),) * 6  # output blocks 0-2 (10 transformers each), 3-5 (2 each)
SD15_LAYERS = ((32, 1280),) * 3 + ((16, 640),) * 3  # output blocks 3-5 and 6-8 (one transformer each)


def expected_bank_bytes(layers: Sequence[tuple[int, int]], rates: Mapping[int, float], width: int, height: int, steps: int,
                        identity_images: int, guidance_chunks: int = 2, element_bytes: int = 2) -> float:
    """Expected bytes of the bank of ``identity_images`` images generated at ``width`` x ``height`` px for ``steps`` steps."""
    per_image_step = sum(rates.get(pixels, 0.0) * (height // pixels) * (width // pixels) * channels for pixels, channels in layers)
    return per_image_step * steps * identity_images * guidance_chunks * element_bytes
