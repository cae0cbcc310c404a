"""Weight patches through ComfyUI's LoRA machinery. Checked on ComfyUI 0.3.75 and 0.8.0 (``comfy.lora.load_lora``)."""

from __future__ import annotations

import comfy.lora
import torch

from .patcher import ModelPatcher


def add_lora_patches(patcher: ModelPatcher, pairs: dict[str, tuple[torch.Tensor, torch.Tensor]], strength: float) -> int:
    """Patch ``weight_key <- weight_key + strength * up @ down`` on the patcher (no dense delta kept); returns how many.

    The caller has checked that every key exists with the LoRA's shape: ComfyUI would only
    log the ones that do not and patch the rest.
    """
    lora, key_map = {}, {}
    for index, (weight_key, (up, down)) in enumerate(pairs.items()):
        name = f"motion_lora_{index}"
        lora[f"{name}.lora_up.weight"] = up
        lora[f"{name}.lora_down.weight"] = down
        key_map[name] = weight_key
    patches = comfy.lora.load_lora(lora, key_map, log_missing=True)
    return len(patcher.add_patches(patches, strength_patch=strength))

