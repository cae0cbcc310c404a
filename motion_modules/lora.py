"""Motion LoRAs (AnimateDiff ``v2_lora_*``): read, validate, and check that they fit a motion module.

A motion LoRA stores, per temporal attention projection,
``<module>.attention_blocks.k.processor.to_q_lora.{down,up}.weight`` (also to_k, to_v,
to_out). The target weight is the key without ``processor.``/``_lora``/``down.``/``up.``
and with ``to_out`` -> ``to_out.0``; the delta is ``strength * up @ down`` (no rank or
alpha scaling, as in AnimateDiff's own loader), computed in fp32.

The LoRA stays data here: the ComfyUI glue applies it as weight patches on the motion
model's ModelPatcher, after ``fit_motion_lora`` has checked that every weight it changes
exists in that motion module with its shape (ComfyUI itself would patch the ones that fit
and only log the rest, half-applying a LoRA made for another module type).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
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


class MotionLoraMismatchError(ValueError):
    """The motion LoRA was made for another motion module type than the one it is applied to."""


def fit_motion_lora(lora: MotionLora, module_shapes: Mapping[str, tuple[int, ...]], lora_name: str,
                    module_name: str) -> tuple[MotionLora, list[str]]:
    """(the LoRA entries to apply, the entries left out) for a motion module whose weights have ``module_shapes``.

    Every entry must find its weight with the LoRA's shape. The one exception is a v2 LoRA's
    mid-block entries on a module without a mid block (v3), which are left out: the rest
    of such a module matches the v2 layout exactly. Anything else is refused, naming both files.
    """
    wrong = [(target, (up.shape[0], down.shape[1]), module_shapes[target]) for target, (up, down) in lora.items()
             if target in module_shapes and (up.shape[0], down.shape[1]) != tuple(module_shapes[target])]
    absent = sorted(target for target in lora if target not in module_shapes)
    has_mid_block = any(key.startswith("mid_block.") for key in module_shapes)
    if wrong or (absent and (has_mid_block or not all(target.startswith("mid_block.") for target in absent))):
        if wrong:
            target, lora_shape, module_shape = wrong[0]
            example = f"{target} is {lora_shape[0]}x{lora_shape[1]} in the LoRA, {tuple(module_shape)} in the module"
        else:
            example = f"{absent[0]} is not in the module"
        raise MotionLoraMismatchError(
            f"motion LoRA {lora_name!r} was made for another motion module type than {module_name}: "
            f"{len(wrong) + len(absent)} of its {len(lora)} weights do not fit ({example}). Use a motion LoRA made for "
            "this module (AnimateDiff's v2_lora_* files are for mm_sd_v15_v2 and the v3 SD1.5 module), or load the "
            "motion module the LoRA was made for."
        )
    return {target: pair for target, pair in lora.items() if target in module_shapes}, absent
