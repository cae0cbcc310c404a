"""Windowed ControlNet under core context windows, through ComfyUI's real sampler (SD1.5 + v2 module, 64 px).

Core 0.3.75 does not cut the control images to the window: when cond and uncond share a
pass, a window of 6 frames x 2 chunks has as many rows as a 12-image hint batch, so the
uncond half of every window is guided by frames 6..11's images. With the node, each
window sees exactly its own frames' images, for cond and uncond alike.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

FRAMES, WINDOW, OVERLAP = 12, 6, 2


def prompt(model_files, context_windows_node, windowed: bool, late_colour: float, prefix: str) -> dict:
    """Control images: frames 0..5 grey, frames 6..11 ``late_colour``; latent saved under ``prefix``."""
    control = ["15", 0]
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model_files["sd15"].name}},
        "2": {"class_type": "KinemaLoadMotionModule", "inputs": {"model_name": model_files["mm_v2"].name}},
        "3": {"class_type": "KinemaApplyMotionModule", "inputs": {
            "model": ["1", 0], "motion_model": ["2", 0], "scale": 1.0, "effect": 1.0, "beta_schedule": "autoselect"}},
        "4": context_windows_node(["3", 0], WINDOW, OVERLAP),
        "5": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a lantern"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "blurry"}},
        "10": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": FRAMES // 2, "color": 0x808080}},
        "11": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": FRAMES // 2,
                                                       "color": int(late_colour * 255) * 0x010101}},
        "12": {"class_type": "ImageBatch", "inputs": {"image1": ["10", 0], "image2": ["11", 0]}},
        "15": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": model_files["controlnet_sd15_canny"].name}},
        "17": {"class_type": "ControlNetApplyAdvanced", "inputs": {
            "positive": ["5", 0], "negative": ["6", 0], "control_net": control, "image": ["12", 0],
            "strength": 1.0, "start_percent": 0.0, "end_percent": 1.0}},
        "18": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": FRAMES}},
        "19": {"class_type": "KSampler", "inputs": {
            "model": ["4", 0], "seed": 3, "steps": 1, "cfg": 7.5, "sampler_name": "euler", "scheduler": "normal",
            "positive": ["17", 0], "negative": ["17", 1], "latent_image": ["18", 0], "denoise": 1.0}},
        "20": {"class_type": "SaveLatent", "inputs": {"samples": ["19", 0], "filename_prefix": prefix}},
    }
    if windowed:
        graph["16"] = {"class_type": "KinemaWindowedControlNet", "inputs": {"control_net": ["15", 0]}}
        graph["17"]["inputs"]["control_net"] = ["16", 0]
    return graph


def sampled(comfy_host, graph: dict, prefix: str) -> torch.Tensor:
    result = comfy_host.run(graph)
    assert result.success, result.describe_failure()
    entry = next(e for output in result.outputs.values() for e in output.get("latents", []) if e["filename"].startswith(prefix))
    return load_file(str(comfy_host.paths.output / entry.get("subfolder", "") / entry["filename"]))["latent_tensor"].float()


@pytest.mark.heavy
@pytest.mark.parametrize("windowed", [False, True], ids=["core", "windowed"])
def test_each_window_sees_its_own_control_images(comfy_host, model_files, context_windows_node, windowed):
    """Change only the control images of frames 6..11: frames only the first window holds must not move, the last ones must."""
    tag = "win" if windowed else "core"
    dark = sampled(comfy_host, prompt(model_files, context_windows_node, windowed, 0.0, f"wcn_{tag}_dark"), f"wcn_{tag}_dark")
    light = sampled(comfy_host, prompt(model_files, context_windows_node, windowed, 1.0, f"wcn_{tag}_light"), f"wcn_{tag}_light")
    assert dark.shape == (FRAMES, 4, 8, 8)
    # one step, so frames 0 and 1 come from the first window [0..5] alone
    early_moved = not torch.allclose(dark[:2], light[:2], atol=1e-5)
    late_moved = not torch.allclose(dark[-2:], light[-2:], atol=1e-5)
    if windowed:
        assert not early_moved and late_moved
    else:
        assert early_moved, "core 0.3.75 guides the first window's uncond half with frames 6..11's images"
