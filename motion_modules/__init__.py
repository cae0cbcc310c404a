"""AnimateDiff motion modules: the network, checkpoint formats and motion LoRAs, in plain PyTorch.

Nothing here imports ComfyUI; the nodes bind it to ComfyUI through ``comfy_glue``.
"""

from .checkpoint_io import read_tensors
from .errors import MotionLoraFormatError, MotionModuleError, MotionModuleFileError, MotionModuleFormatError
from .formats import FAMILIES, MotionModuleInfo, load_motion_module, normalize_motion_state_dict
from .layout import SD15, SD15_LAYOUT, SDXL, SDXL_LAYOUT, MotionLayout
from .lora import MotionLoraMismatchError, fit_motion_lora, load_motion_lora
from .network import AttentionFn, MotionModule, MotionModuleSet, sdpa_attention

__all__ = [
    "FAMILIES", "SD15", "SD15_LAYOUT", "SDXL", "SDXL_LAYOUT", "AttentionFn", "MotionLayout", "MotionLoraFormatError",
    "MotionModule", "MotionModuleError", "MotionModuleFileError", "MotionModuleFormatError", "MotionModuleInfo",
    "MotionLoraMismatchError", "MotionModuleSet", "fit_motion_lora", "load_motion_lora", "load_motion_module",
    "normalize_motion_state_dict", "read_tensors", "sdpa_attention",
]
