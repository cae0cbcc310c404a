"""Motion modules inside an SD UNet (plain PyTorch): where they run, how, and the frame checks.

The UNet's blocks and the kind of each layer come in from the caller (the node binds them
to ComfyUI through ``comfy_glue``). Each motion module runs on the output of the UNet layer
it follows in the original AnimateDiff (a block's last spatial transformer, else its first
ResBlock), through a forward hook added while a patched model is loaded and removed after.
Nothing is inserted into the UNet's module tree: ComfyUI finds weights by their state-dict
path (low-VRAM loading, pinned memory), and a layer moved one place along would make such
a path name another module. A ``MotionSlot`` holds its module in a tuple so it is never a
submodule: the weights belong to the motion model's own patcher, not to the UNet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from .network import AttentionFn
from .placement import Placement, insert_position, placements

Blocks = dict[str, list[torch.nn.Module]]  # 'input' | 'middle' | 'output' -> block containers, in UNet order
LayerKind = Callable[[torch.nn.Module], str]  # 'transformer', 'resblock' or anything else


class MotionCompatibilityError(ValueError):
    """The motion module was made for another kind of UNet."""


class MotionFrameCountError(ValueError):
    """The pass holds more frames than the module's position encoding covers."""


@dataclasses.dataclass(frozen=True)
class MotionSettings:
    scale: float = 1.0  # attention temperature: multiplies keys before attention
    effect: float = 1.0  # blend with the identity: x*(1-effect) + module(x)*effect
    pe_length: int = 32
    frame_spanning_norms: bool = False  # v1 / HotShot-XL: ResBlock and output GroupNorm statistics span the clip


class MotionSlot:
    """One motion module and where it sits, run on the output of the UNet layer it follows."""

    def __init__(self, module: torch.nn.Module, settings: MotionSettings, name: str) -> None:
        self._module = (module,)
        self.settings = settings
        self.name = name

    def run(self, x: torch.Tensor, chunks: int, attention: AttentionFn) -> torch.Tensor:
        """``x`` [(chunks frames), c, h, w]: ``chunks`` guidance chunks (cond, uncond ...) of one clip each."""
        frames = frames_per_chunk(x.shape[0], chunks, self.name)
        problem = frames_per_pass_error(frames, None, self.settings.pe_length)
        if problem:  # the sampling wrapper catches this earlier; other callers of the UNet land here
            raise MotionFrameCountError(f"{self.name}: {problem}")
        if self.settings.effect == 0.0:
            return x
        module = self._module[0]
        weight_dtype = module.temporal_transformer.proj_in.weight.dtype
        # A UNet computing in another dtype than the module's weights meets the module in the module's dtype.
        out = module(x.to(weight_dtype), frames=frames, scale=self.settings.scale, effect=self.settings.effect, attention=attention)
        return out.to(x.dtype)

    def __repr__(self) -> str:
        return f"MotionSlot({self.name}, {self.settings})"


@dataclasses.dataclass
class UNetCall:
    """What the slots need of the current UNet call; set around each call of the patched clone, empty outside one."""

    chunks: int | None = None  # guidance chunks (cond, uncond ...) stacked on the batch axis
    attention: AttentionFn | None = None  # the host's attention for this call (honouring the user's backend)


def frames_per_chunk(batch: int, chunks: int, where: str) -> int:
    """Frames in each guidance chunk of a UNet batch: ComfyUI stacks the chunks of one clip on the batch axis."""
    if batch % chunks:
        raise ValueError(f"{where}: batch {batch} does not split into {chunks} guidance chunks")
    return batch // chunks


def layout_placements(motion_set: torch.nn.Module) -> list[Placement]:
    """Placements for the levels and module counts this motion set actually has."""
    down, up = motion_set.down_blocks, motion_set.up_blocks
    return placements(
        down_levels=len(down), modules_per_down=len(down[0].motion_modules),
        up_levels=len(up), modules_per_up=len(up[0].motion_modules),
        has_mid=getattr(motion_set, "mid_block", None) is not None,
    )


def slot_points(blocks: Blocks, layer_kind: LayerKind, motion_set: torch.nn.Module,
                settings: MotionSettings) -> list[tuple[torch.nn.Module, MotionSlot]]:
    """(the UNet layer whose output a motion module takes, the slot running that module), one pair per module."""
    points = []
    for place in layout_placements(motion_set):
        layers = list(blocks[place.role][place.block_index])
        follows = layers[insert_position([layer_kind(layer) for layer in layers]) - 1]
        points.append((follows, MotionSlot(motion_set.get_submodule(place.module_path), settings, place.module_path)))
    return points


def hook_slots(points: list[tuple[torch.nn.Module, MotionSlot]], call: UNetCall) -> list:
    """Forward hooks running each slot on its layer's output during ``call``; returns their handles (``.remove()``).

    Outside a call of the clone that added them (``call`` empty) the hooks leave outputs alone.
    """

    def hook_for(slot: MotionSlot):
        def hook(layer, args, output):
            return None if call.chunks is None else slot.run(output, call.chunks, call.attention)

        return hook

    return [layer.register_forward_hook(hook_for(slot)) for layer, slot in points]


def check_fits_unet(blocks: Blocks, layer_kind: LayerKind, layer_channels: Callable[[torch.nn.Module], int | None],
                    model_type: str, motion_set: torch.nn.Module, describe: str) -> None:
    """Refuse a motion module whose levels or channels do not match the UNet, naming both."""
    for place in layout_placements(motion_set):
        module_channels = motion_set.get_submodule(place.module_path).temporal_transformer.norm.num_channels
        found = None
        if place.block_index < len(blocks[place.role]):
            block = list(blocks[place.role][place.block_index])
            before = block[: insert_position([layer_kind(layer) for layer in block])]
            found = next((channels for channels in map(layer_channels, reversed(before)) if channels is not None), None)
        if found != module_channels:
            where = f"{place.role} block {place.block_index}"
            has = f"has {found} channels" if found is not None else "does not exist"
            raise MotionCompatibilityError(
                f"{describe} does not fit this {model_type} model: {place.module_path} expects {module_channels} "
                f"channels but the UNet's {where} {has}. Load a checkpoint of the type the motion module was made "
                f"for, or a motion module made for {model_type}."
            )


def frames_per_pass_error(frames: int, window: int | None, pe_length: int, causal_anchor: bool = False) -> str | None:
    """Why a clip of ``frames`` latents cannot run through a module with ``pe_length`` positions, or None.

    ``window``: core context windows' length, when they are on; ``causal_anchor``: their
    ``causal_window_fix`` (ComfyUI after 0.8.0) adds the frame before each window but the first.
    """
    if window is not None and window > pe_length and frames > pe_length:
        return (
            f"context windows of {window} frames exceed this motion module's limit of {pe_length} frames per pass: "
            f"set context_length to at most {pe_length} in 'Context Windows (Manual)'."
        )
    if window is None or frames <= window:  # core runs the clip in one pass
        if frames <= pe_length:
            return None
        return (
            f"{frames} frames exceed this motion module's limit of {pe_length} frames per pass. Use at most "
            f"{pe_length} frames, or add core 'Context Windows (Manual)' after Apply Motion Module with "
            f"context_length <= {pe_length} (16 is a good choice) for any length."
        )
    if causal_anchor and window + 1 > pe_length:
        return (
            f"context windows of {window} frames run {window + 1} frames per pass with causal_window_fix on (it adds the "
            f"frame before each window), over this motion module's limit of {pe_length}: turn causal_window_fix off in "
            f"'Context Windows (Manual)' (AnimateDiff gains nothing from it) or set context_length to at most {pe_length - 1}."
        )
    return None
