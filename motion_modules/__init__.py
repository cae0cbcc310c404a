"""AnimateDiff motion modules: the network, checkpoint formats and motion LoRAs, in plain PyTorch.

Nothing imported here touches ComfyUI; the ComfyUI binding lives in ``injection`` and is
imported explicitly by the nodes.
"""

from .checkpoint_io import read_tensors
from .errors import MotionLoraFormatError, MotionModuleError, MotionModuleFileError, MotionModuleFormatError
from .formats import FAMILIES, MotionModuleInfo, load_motion_module, normalize_motion_state_dict
from .layout import SD15, SD15_LAYOUT, SDXL, SDXL_LAYOUT, MotionLayout
from .lora import apply_motion_loras, load_motion_lora, lora_weight_delta, unmatched_targets
from .network import AttentionFn, MotionModule, MotionModuleSet, sdpa_attention

__all__ = [
    "FAMILIES", "SD15", "SD15_LAYOUT", "SDXL", "SDXL_LAYOUT", "AttentionFn", "MotionLayout", "MotionLoraFormatError",
    "MotionModule", "MotionModuleError", "MotionModuleFileError", "MotionModuleFormatError", "MotionModuleInfo",
    "MotionModuleSet", "apply_motion_loras", "load_motion_lora", "load_motion_module", "lora_weight_delta",
    "normalize_motion_state_dict", "read_tensors", "sdpa_attention", "unmatched_targets",
]
