"""Where ComfyUI computes. Checked on ComfyUI 0.3.75 and 0.8.0."""

from __future__ import annotations

import comfy.model_management
import torch


def compute_device() -> torch.device:
    """The device ComfyUI runs models on (its --cpu, --directml, ... choice)."""
    return comfy.model_management.get_torch_device()
