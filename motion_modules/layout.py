"""The shape of a motion-module set: channels per UNet level and module counts.

Pure data. The set mirrors the UNet's resolution levels: two modules per down level
(one after each ResBlock/SpatialTransformer pair), three per up level and, for some
families, one in the middle block. (Where each goes in ComfyUI's UNet: ``placement``.)
"""

from __future__ import annotations

from dataclasses import dataclass

SD15 = "SD15"
SDXL = "SDXL"


@dataclass(frozen=True)
class MotionLayout:
    """Channels per level of one motion-module set (from its weights) and the UNet it fits."""

    model_type: str  # SD15 or SDXL
    down_channels: tuple[int, ...]
    up_channels: tuple[int, ...]
    mid_channels: int | None  # middle-block channels, used only by sets that have a mid module
    down_modules_per_level: int = 2
    up_modules_per_level: int = 3


SD15_LAYOUT = MotionLayout(SD15, (320, 640, 1280, 1280), (1280, 1280, 640, 320), 1280)
# SDXL's level 3 and the middle block carry no motion modules in any released family.
SDXL_LAYOUT = MotionLayout(SDXL, (320, 640, 1280), (1280, 640, 320), None)
STANDARD_LAYOUTS = {SD15: SD15_LAYOUT, SDXL: SDXL_LAYOUT}


def module_names(layout: MotionLayout, has_mid_block: bool) -> list[str]:
    """State-dict prefixes of every temporal module, e.g. ``down_blocks.0.motion_modules.1``, in UNet order."""
    names = [
        f"down_blocks.{level}.motion_modules.{j}"
        for level in range(len(layout.down_channels))
        for j in range(layout.down_modules_per_level)
    ]
    if has_mid_block:
        names.append("mid_block.motion_modules.0")
    names += [
        f"up_blocks.{level}.motion_modules.{j}"
        for level in range(len(layout.up_channels))
        for j in range(layout.up_modules_per_level)
    ]
    return names

