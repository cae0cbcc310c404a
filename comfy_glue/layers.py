"""Layer classes and dtypes for models ComfyUI's memory manager holds (the motion modules).

Checked on ComfyUI 0.3.75 and 0.8.0. Newer ComfyUI under DynamicVRAM builds
``disable_weight_init.Linear`` with ``weight``/``bias`` None until ``_load_from_state_dict``
fills them; the classes here inherit that, so motion modules must be filled by
``load_state_dict`` before use (``motion_modules.formats.load_motion_module`` does).
"""

from __future__ import annotations

import types

import comfy.model_management
import comfy.ops
import torch

from ..motion_modules.onednn_linear import OneDnnLinear


def motion_module_dtype() -> torch.dtype:
    """ComfyUI's UNet compute dtype: its storage dtype, or for fp8 storage the dtype it computes in."""
    dtype = comfy.model_management.unet_dtype()
    compute = comfy.model_management.unet_manual_cast(dtype, comfy.model_management.get_torch_device())
    return compute if compute is not None and dtype.itemsize == 1 else dtype


def weight_casting_layers() -> types.SimpleNamespace:
    """ComfyUI's layer classes (``Linear``, ``LayerNorm``, ``GroupNorm``) for a model its memory manager may load
    partially: in low-VRAM mode the weights that do not fit stay in system RAM and are cast onto the device per call,
    with weight patches (LoRAs) applied on the way; otherwise they are torch.nn's layers, with ComfyUI's interrupt
    check per call."""
    ops = comfy.ops.disable_weight_init
    return types.SimpleNamespace(Linear=WeightCastingLinear, LayerNorm=ops.LayerNorm, GroupNorm=ops.GroupNorm)


class WeightCastingLinear(comfy.ops.disable_weight_init.Linear, OneDnnLinear):
    """ComfyUI's Linear (interrupt check, weight casting, weight patches) whose uncast product is ``OneDnnLinear``'s.

    ComfyUI's ``forward`` ends in ``super().forward(...)`` when it casts nothing (0.3.75, 0.8.0 and the newer
    DynamicVRAM releases alike); with this base order that call reaches ``OneDnnLinear.forward`` instead of
    ``torch.nn.Linear.forward``. The casting path keeps ComfyUI's own ``F.linear``."""
