"""Recognise, normalise and load AnimateDiff-family motion-module checkpoints.

Every supported family is renamed to the original AnimateDiff key template
(``{down_blocks.i|up_blocks.i|mid_block}.motion_modules.j.temporal_transformer.…``),
missing position-encoding tables are regenerated, and the family is described in a
``MotionModuleInfo``. Files that are something else (a motion LoRA, a spatial LoRA,
AnimateLCM-I2V, PIA, CameraCtrl, SparseCtrl, an SD checkpoint...) are refused with a
message that says what they look like and what to do instead.

Position-encoding lengths when the file stores none: AnimateLCM 64 (what its reference
code assumes); diffusers MotionAdapter files 32 (``MotionAdapter``'s default
``motion_max_seq_length``) unless a ``config.json`` of class MotionAdapter next to the
file says otherwise (a whole number up to ``MAX_PE_LENGTH``, else refused). Files written by
recent diffusers store ``pos_embed.pe`` and need neither default.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .checkpoint_io import read_tensors
from .errors import MotionModuleFormatError
from .layout import SD15, SDXL, MotionLayout
from .network import HEADS, TORCH_LAYERS, Layers, MotionModuleSet, sinusoidal_position_encoding

log = logging.getLogger(__name__)

FAMILIES = ("v1", "v2", "v3", "sdxl", "hotshotxl", "animatelcm", "diffusers")
ANIMATEDIFF, HOTSHOTXL, DIFFUSERS = "animatediff", "hotshotxl", "diffusers"
ANIMATELCM_PE_LENGTH = 64
DIFFUSERS_PE_LENGTH = 32
# Longest position table a config.json may ask for: 16x AnimateLCM's 64, the longest published; its
# regenerated SD1.5 tables take about 150 MB in float32, and no single pass gets near it.
MAX_PE_LENGTH = 1024
_PICK_A_MODULE = (
    "Choose an AnimateDiff motion module (e.g. mm_sd_v15_v2.ckpt, v3_sd15_mm.ckpt, mm_sdxl_v10_beta.ckpt, "
    "AnimateLCM_sd15_t2v.ckpt, hsxl_temporal_layers.safetensors)"
)


@dataclass(frozen=True)
class MotionModuleInfo:
    name: str  # file name
    family: str  # one of FAMILIES
    model_type: str  # "SD15" or "SDXL"
    pe_length: int  # frames one pass can cover without context windows
    pe_in_file: bool  # False when the sinusoids were regenerated (AnimateLCM, older diffusers files)
    has_mid_block: bool
    channels: tuple[int, ...]  # per down level
    original_format: str  # "animatediff", "hotshotxl" or "diffusers" key names
    description: str
    layout: MotionLayout


def load_motion_module(path: str | Path, layers: Layers = TORCH_LAYERS) -> tuple[MotionModuleSet, MotionModuleInfo]:
    """Read, normalise, detect, build (of ``layers``' classes) and load; the weights keep the file's dtype (the caller casts)."""
    path = Path(path)
    tensors = read_tensors(path)
    config_pe_length = _diffusers_config_pe_length(path) if _needs_config_pe_length(tensors) else None
    state_dict, info = normalize_motion_state_dict(tensors, path, config_pe_length)
    # Built on the meta device and filled by assignment: no random init, no second copy of 1.8 GB.
    with torch.device("meta"):
        network = MotionModuleSet(info.layout, info.pe_length, info.has_mid_block, layers=layers)
    fix = f"The file is damaged or a variant Kinema does not know. {_PICK_A_MODULE}"
    try:
        result = network.load_state_dict(state_dict, strict=False, assign=True)
    except RuntimeError as exc:  # shape mismatches
        lines = str(exc).strip().splitlines()
        raise MotionModuleFormatError(path, f"weights do not fit a {info.description}: {' '.join(lines[1:11])}", fix) from exc
    if result.missing_keys or result.unexpected_keys:
        raise MotionModuleFormatError(path, _key_report(info, result.missing_keys, result.unexpected_keys), fix)
    network.eval().requires_grad_(False)
    log.info("loaded motion module %s: %s", path.name, info.description)
    return network, info


def normalize_motion_state_dict(
    tensors: dict[str, Tensor], path: str | Path, diffusers_pe_length: int | None = None
) -> tuple[dict[str, Tensor], MotionModuleInfo]:
    """Refuse other model kinds, rename to the original template, add missing PE tables, describe."""
    path = Path(path)
    refusal = _refusal(tensors)
    if refusal:
        raise MotionModuleFormatError(path, *refusal)
    original_format = _detect_format(tensors)
    rename = {HOTSHOTXL: _rename_hotshot, DIFFUSERS: _rename_diffusers}.get(original_format, lambda k: [k])
    state_dict: dict[str, Tensor] = {}
    for key, value in tensors.items():
        for i, new_key in enumerate(rename(key)):
            # One tensor can feed two keys (diffusers' shared pos_embed): clone so buffers never alias.
            state_dict[new_key] = value if i == 0 else value.clone()
    dropped = [k for k in state_dict if ".motion_modules." not in k]
    for key in dropped:
        del state_dict[key]
    if dropped:
        log.debug("%s: ignoring %d keys outside the motion modules: %s", path, len(dropped), dropped[:10])
    layout, has_mid = _detect_layout(state_dict, path)
    default_pe = ANIMATELCM_PE_LENGTH if original_format == ANIMATEDIFF else diffusers_pe_length or DIFFUSERS_PE_LENGTH
    pe_length, pe_in_file = _ensure_position_encodings(state_dict, default_pe, path)
    family = _family(original_format, layout.model_type, has_mid, pe_length, pe_in_file)
    info = MotionModuleInfo(
        name=path.name, family=family, model_type=layout.model_type, pe_length=pe_length, pe_in_file=pe_in_file,
        has_mid_block=has_mid, channels=layout.down_channels, original_format=original_format,
        description=_describe(family, layout.model_type, has_mid, pe_length, pe_in_file), layout=layout,
    )
    return state_dict, info


# -- refusals ------------------------------------------------------------------------------
_LORA_KEY = re.compile(r"_lora\.(down|up)\.|\.lora_(down|up)\.|\.lora_[AB]\.|\.lora\.(down|up)\.|^lora_(unet|te\d?)_")


def _refusal(tensors: dict[str, Tensor]) -> tuple[str, str] | None:
    """(what the file looks like, what to do) for files that are not a loadable motion module."""
    keys = list(tensors)
    lora_keys = [k for k in keys if _LORA_KEY.search(k)]
    if lora_keys and any(".motion_modules." in k for k in lora_keys):
        return ("this is a motion LoRA (LoRA weights for the temporal attention, e.g. v2_lora_ZoomIn), not a motion "
                "module", "Load it with 'Load Motion LoRA (Kinema)' and connect that to 'Apply Motion Module (Kinema)'")
    if lora_keys:
        return ("this is a LoRA for the UNet's spatial (image) layers, such as AnimateDiff's v3_sd15_adapter domain "
                "adapter, not a motion module", "Load it with the core 'LoraLoaderModelOnly' node on the model")
    if any(k.startswith("img_encoder.") for k in keys):
        return ("this is AnimateLCM-I2V (it carries an image encoder, img_encoder.*), which Kinema does not support",
                "Use AnimateLCM_sd15_t2v.ckpt for text-to-video with AnimateLCM")
    conv_in = tensors.get("conv_in.weight")
    if conv_in is not None and conv_in.dim() == 4 and conv_in.shape[1] == 9:
        return ("this is PIA (image animation: its conv_in takes 9 input channels), which Kinema does not support",
                _PICK_A_MODULE)
    if any(k.startswith("encoder_") or ".qkv_merge." in k for k in keys):
        return ("this is CameraCtrl (camera-pose encoder encoder_* and qkv_merge attention), which Kinema does not "
                "support", _PICK_A_MODULE)
    if any(k.startswith("controlnet_") for k in keys):
        return ("this is a SparseCtrl ControlNet (controlnet_* keys), not a motion module", _PICK_A_MODULE)
    if not any(".motion_modules." in k or ".temporal_attentions." in k for k in keys):
        return (f"it contains no motion-module weights; it looks like {_guess_kind(keys)}", _PICK_A_MODULE)
    return None


def _guess_kind(keys: list[str]) -> str:
    if not keys:
        return "an empty checkpoint"
    if any(k.startswith("model.diffusion_model.") for k in keys):
        return "a Stable Diffusion checkpoint (load it with 'Load Checkpoint')"
    if any(k.startswith(("control_model.", "input_hint_block.")) for k in keys):
        return "a ControlNet"
    if any(k.startswith(("first_stage_model.", "encoder.down.", "decoder.up.")) for k in keys):
        return "a VAE"
    return f"another kind of model (first keys: {', '.join(keys[:3])})"


# -- renames -------------------------------------------------------------------------------
def _detect_format(tensors: dict[str, Tensor]) -> str:
    if any(".temporal_attentions." in k for k in tensors):
        return HOTSHOTXL
    motion = [k for k in tensors if ".motion_modules." in k]
    if motion and not any(".temporal_transformer." in k for k in motion):
        return DIFFUSERS
    return ANIMATEDIFF


_HOTSHOT_MODULE = re.compile(r"\.temporal_attentions\.(\d+)\.")


def _rename_hotshot(key: str) -> list[str]:
    """``temporal_attentions.j.`` -> ``motion_modules.j.temporal_transformer.``; ``positional_encoding`` -> ``pe``."""
    key = _HOTSHOT_MODULE.sub(r".motion_modules.\1.temporal_transformer.", key, count=1)
    return [re.sub(r"\.pos_encoder\.positional_encoding$", ".pos_encoder.pe", key)]


_DIFFUSERS_MODULE = re.compile(r"\.motion_modules\.(\d+)\.")
_DIFFUSERS_PART = re.compile(r"(\.transformer_blocks\.\d+\.)(norm1|norm2|norm3|attn1|attn2)\.")
_DIFFUSERS_PARTS = {"norm1": "norms.0", "norm2": "norms.1", "norm3": "ff_norm",
                    "attn1": "attention_blocks.0", "attn2": "attention_blocks.1"}


def _rename_diffusers(key: str) -> list[str]:
    """diffusers MotionAdapter names -> original names (the inverse of diffusers' own conversion)."""
    key = _DIFFUSERS_MODULE.sub(r".motion_modules.\1.temporal_transformer.", key, count=1)
    key = _DIFFUSERS_PART.sub(lambda m: m.group(1) + _DIFFUSERS_PARTS[m.group(2)] + ".", key)
    if key.endswith(".pos_embed.pe"):
        # diffusers keeps one table per transformer block; the original one per attention block.
        base = key[: -len("pos_embed.pe")]
        return [f"{base}attention_blocks.{i}.pos_encoder.pe" for i in (0, 1)]
    return [key]


# -- structure -----------------------------------------------------------------------------
_LEVEL_NORM = re.compile(r"^(down_blocks|up_blocks)\.(\d+)\.motion_modules\.0\.temporal_transformer\.norm\.weight$")
_MID_NORM = "mid_block.motion_modules.0.temporal_transformer.norm.weight"


def _detect_layout(state_dict: dict[str, Tensor], path: Path) -> tuple[MotionLayout, bool]:
    levels: dict[str, dict[int, int]] = {"down_blocks": {}, "up_blocks": {}}
    for key, value in state_dict.items():
        match = _LEVEL_NORM.match(key)
        if match:
            levels[match.group(1)][int(match.group(2))] = value.shape[0]
    down, up = levels["down_blocks"], levels["up_blocks"]
    model_type = {4: SD15, 3: SDXL}.get(len(down))
    if model_type is None or sorted(down) != list(range(len(down))) or sorted(up) != sorted(down):
        raise MotionModuleFormatError(
            path, f"motion modules on down levels {sorted(down)} and up levels {sorted(up)}: neither the SD1.5 "
            "layout (levels 0-3) nor the SDXL layout (levels 0-2), or the file is incomplete", _PICK_A_MODULE)
    mid = state_dict.get(_MID_NORM)
    layout = MotionLayout(
        model_type, tuple(down[i] for i in range(len(down))), tuple(up[i] for i in range(len(up))),
        None if mid is None else mid.shape[0],
    )
    bad = [c for c in (*layout.down_channels, *layout.up_channels) if c % 32 or c % HEADS]
    if bad:
        raise MotionModuleFormatError(path, f"channel counts {bad} are not multiples of 32", _PICK_A_MODULE)
    return layout, mid is not None


def _ensure_position_encodings(state_dict: dict[str, Tensor], default_length: int, path: Path) -> tuple[int, bool]:
    """The PE length from the file, or regenerate the (fixed, never trained) sinusoid tables at ``default_length``."""
    lengths = {v.shape[1] for k, v in state_dict.items() if k.endswith(".pos_encoder.pe")}
    if len(lengths) > 1:
        raise MotionModuleFormatError(path, f"inconsistent position-encoding lengths {sorted(lengths)}", _PICK_A_MODULE)
    if lengths:
        return lengths.pop(), True
    for key in [k for k in state_dict if k.endswith(".to_q.weight")]:
        weight = state_dict[key]
        pe_key = key[: -len("to_q.weight")] + "pos_encoder.pe"
        state_dict[pe_key] = sinusoidal_position_encoding(default_length, weight.shape[1], weight.dtype)
    log.debug("%s: no position-encoding tables stored; regenerated with %d positions", path, default_length)
    return default_length, False


def _family(original_format: str, model_type: str, has_mid: bool, pe_length: int, pe_in_file: bool) -> str:
    if original_format in (HOTSHOTXL, DIFFUSERS):
        return original_format
    if not pe_in_file:
        return "animatelcm"
    if model_type == SDXL:
        return "sdxl"
    if has_mid:
        return "v2"
    return "v3" if pe_length == 32 else "v1"


_FAMILY_NAMES = {
    "v1": "AnimateDiff v1 motion module", "v2": "AnimateDiff v2 motion module",
    "v3": "AnimateDiff v3 motion module", "sdxl": "AnimateDiff-SDXL motion module",
    "hotshotxl": "HotShot-XL temporal layers (renamed from HotShot-XL keys)",
    "animatelcm": "AnimateLCM motion module (sample with LCM)",
    "diffusers": "diffusers MotionAdapter (renamed from diffusers keys)",
}


def _describe(family: str, model_type: str, has_mid: bool, pe_length: int, pe_in_file: bool) -> str:
    target = "SD1.5" if model_type == SD15 else "SDXL"
    mid = "with" if has_mid else "no"
    pe = f"{pe_length}-frame position encoding" + ("" if pe_in_file else " (regenerated)")
    return f"{_FAMILY_NAMES[family]} for {target} ({mid} mid block, {pe})"


def _key_report(info: MotionModuleInfo, missing: list[str], unexpected: list[str]) -> str:
    parts = [f"the weights do not match a {info.description}"]
    if missing:
        parts.append(f"{len(missing)} missing keys, e.g. {', '.join(missing[:10])}")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys, e.g. {', '.join(unexpected[:10])}")
    return "; ".join(parts)


def _needs_config_pe_length(tensors: dict[str, Tensor]) -> bool:
    """Only a diffusers file without position tables takes its length from config.json."""
    return _detect_format(tensors) == DIFFUSERS and not any(k.endswith(".pos_embed.pe") for k in tensors)


def _diffusers_config_pe_length(path: Path) -> int | None:
    """``motion_max_seq_length`` from a diffusers ``config.json`` beside the file, if it is a MotionAdapter's.

    The tables are built from it, so a value that is not a whole number from 1 to MAX_PE_LENGTH is
    refused here: a huge one would otherwise allocate gigabytes before failing.
    """
    config = path.parent / "config.json"
    try:
        data = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("_class_name") != "MotionAdapter" or "motion_max_seq_length" not in data:
        return None
    value = data["motion_max_seq_length"]
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_PE_LENGTH:
        return value
    raise MotionModuleFormatError(
        path, f"its diffusers config.json ({config}) sets motion_max_seq_length to {json.dumps(value)}; the file stores no "
        f"position tables, so they would be built that long, and it must be a whole number of frames from 1 to {MAX_PE_LENGTH}",
        f"Set motion_max_seq_length in config.json to the length the adapter was trained with ({DIFFUSERS_PE_LENGTH}, "
        "MotionAdapter's default, for most), or remove that line to use the default")
