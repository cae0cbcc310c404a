"""Where AnimateDiff's motion modules sit in an SD UNet (pure: block indices only).

ComfyUI's ``openaimodel`` UNet keeps the original LDM layout: ``input_blocks`` hold one
ResBlock (+ SpatialTransformer) per entry, three entries per level with the first
entry of each level after the stem; ``output_blocks`` hold three entries per level;
``middle_block`` is ResBlock, SpatialTransformer, ResBlock. Motion module ``j`` of
down level ``i`` follows input block ``1 + 3i + j``; motion module ``j`` of up level
``i`` lives in output block ``3i + j``; the mid module sits in the middle block.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Placement:
    """One motion module and the UNet block it goes into."""

    module_path: str  # e.g. "down_blocks.1.motion_modules.0" (the key prefix in the file)
    role: str  # "input" | "middle" | "output"
    block_index: int


def placements(down_levels: int, modules_per_down: int, up_levels: int, modules_per_up: int, has_mid: bool) -> list[Placement]:
    out = []
    for level in range(down_levels):
        for j in range(modules_per_down):
            out.append(Placement(f"down_blocks.{level}.motion_modules.{j}", "input", 1 + 3 * level + j))
    if has_mid:
        out.append(Placement("mid_block.motion_modules.0", "middle", 0))
    for level in range(up_levels):
        for j in range(modules_per_up):
            out.append(Placement(f"up_blocks.{level}.motion_modules.{j}", "output", 3 * level + j))
    return out


def insert_position(layer_kinds: list[str]) -> int:
    """Index at which a motion module enters a block, given its layers' kinds.

    After the last spatial transformer when the block has one, else after its first
    ResBlock; so an Upsample (or Downsample) that ends a block stays after the module.
    Kinds: "transformer", "resblock", anything else.
    """
    transformers = [i for i, kind in enumerate(layer_kinds) if kind == "transformer"]
    if transformers:
        return transformers[-1] + 1
    resblocks = [i for i, kind in enumerate(layer_kinds) if kind == "resblock"]
    if not resblocks:
        raise ValueError(f"a UNet block with layers {layer_kinds} has neither a transformer nor a ResBlock")
    return resblocks[0] + 1
