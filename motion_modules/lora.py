"""Motion LoRAs (AnimateDiff ``v2_lora_*``): read, validate, and express as weight deltas.

A motion LoRA stores, per temporal attention projection,
``<module>.attention_blocks.k.processor.to_q_lora.{down,up}.weight`` (also to_k, to_v,
to_out). The target weight is the key without ``processor.``/``_lora``/``down.``/``up.``
and with ``to_out`` -> ``to_out.0``; the delta is ``strength * up @ down`` (no rank or
alpha scaling, as in AnimateDiff's own loader), computed in fp32.

The LoRA stays data here: the ComfyUI glue applies deltas as weight patches on the motion
model's ModelPatcher. ``apply_motion_loras`` does the same in plain torch, for tests.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from torch import Tensor

from .checkpoint_io import read_tensors
from .errors import MotionLoraFormatError

log = logging.getLogger(__name__)

MotionLora = dict[str, tuple[Tensor, Tensor]]  # target weight key -> (up [out, r], down [r, in])

_KEY = re.compile(r"^(?P<module>.+\.attention_blocks\.\d+)\.processor\.(?P<proj>to_q|to_k|to_v|to_out)_lora\.(?P<part>down|up)\.weight$")
_ANY_LORA = re.compile(r"_lora\.(down|up)\.|\.lora_(down|up)\.|\.lora_[AB]\.|\.lora\.(down|up)\.|^lora_(unet|te\d?)_")
_USE_MOTION_LORA = "Choose an AnimateDiff motion LoRA such as v2_lora_ZoomIn.ckpt"


def load_motion_lora(path: str | Path) -> MotionLora:
    """``{target weight key: (up, down)}`` for every projection the LoRA changes, in the file's dtype."""
    return parse_motion_lora(read_tensors(path), path)


def parse_motion_lora(tensors: Mapping[str, Tensor], path: str | Path) -> MotionLora:
    parts: dict[str, dict[str, Tensor]] = {}
    unknown = []
    for key, value in tensors.items():
        match = _KEY.match(key)
        if match is None or ".motion_modules." not in key:
            unknown.append(key)
            continue
        proj = "to_out.0" if match["proj"] == "to_out" else match["proj"]
        parts.setdefault(f"{match['module']}.{proj}.weight", {})[match["part"]] = value
    if not parts:
        raise MotionLoraFormatError(path, _not_a_motion_lora(list(tensors)), _USE_MOTION_LORA)
    if unknown:
        raise MotionLoraFormatError(
            path, f"{len(unknown)} keys are not motion-LoRA weights, e.g. {', '.join(unknown[:10])}",
            f"The file mixes in other weights or is another LoRA format. {_USE_MOTION_LORA}",
        )
    lora: MotionLora = {}
    for target, pair in parts.items():
        if set(pair) != {"up", "down"}:
            raise MotionLoraFormatError(path, f"{target} has only the '{next(iter(pair))}' half of its LoRA pair",
                                        "The file is incomplete: download it again")
        up, down = pair["up"], pair["down"]
        if up.dim() != 2 or down.dim() != 2 or up.shape[1] != down.shape[0]:
            raise MotionLoraFormatError(path, f"{target}: up {tuple(up.shape)} and down {tuple(down.shape)} do not "
                                        "multiply", "The file is damaged: download it again")
        lora[target] = (up, down)
    return lora


def _not_a_motion_lora(keys: list[str]) -> str:
    lora_keys = [k for k in keys if _ANY_LORA.search(k)]
    if any(".motion_modules." in k for k in lora_keys):
        return ("this motion LoRA uses key names Kinema does not read (e.g. diffusers/PEFT naming); use the original "
                "AnimateDiff release (v2_lora_*.ckpt), whose keys end in processor.to_q_lora.down.weight")
    if lora_keys:
        return ("this is a LoRA for the UNet's spatial (image) layers (for example AnimateDiff's v3_sd15_adapter), "
                "not a motion LoRA; load it with the core 'LoraLoaderModelOnly' node")
    if any(".motion_modules." in k or ".temporal_attentions." in k for k in keys):
        return "this is a motion module, not a motion LoRA; load it with 'Load Motion Module (Kinema)'"
    return f"this is not a LoRA (no LoRA weights; first keys: {', '.join(keys[:3]) or 'none'})"


def lora_weight_delta(up: Tensor, down: Tensor, strength: float) -> Tensor:
    """``strength * up @ down`` in fp32 (the caller casts to the weight's dtype after adding)."""
    return strength * (up.float() @ down.float())


def unmatched_targets(lora: MotionLora, state_dict_keys: Iterable[str]) -> list[str]:
    """LoRA targets the motion module lacks, e.g. mid-block entries of a v2 LoRA on a v3 module."""
    keys = set(state_dict_keys)
    return sorted(target for target in lora if target not in keys)


def apply_motion_loras(state_dict: Mapping[str, Tensor], loras: Iterable[tuple[MotionLora, float]]) -> dict[str, Tensor]:
    """A new state dict with every ``(lora, strength)`` added; unmatched targets are skipped with a warning."""
    out = dict(state_dict)
    for lora, strength in loras:
        missing = unmatched_targets(lora, out)
        if missing:
            log.warning("motion LoRA: %d targets are not in this motion module and are skipped, e.g. %s",
                        len(missing), missing[:3])
        for target, (up, down) in lora.items():
            if target not in out or strength == 0:
                continue
            weight = out[target]
            if (up.shape[0], down.shape[1]) != tuple(weight.shape):
                raise ValueError(
                    f"motion LoRA entry {target} is {up.shape[0]}x{down.shape[1]} but the motion module's weight is "
                    f"{tuple(weight.shape)}: the LoRA was made for another motion module type"
                )
            out[target] = (weight.float() + lora_weight_delta(up, down, strength)).to(weight.dtype)
    return out
