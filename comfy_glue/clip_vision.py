"""Image embeddings from core's CLIP_VISION (the model "Load CLIP Vision" gives), as an embedder for video metrics.

Checked on ComfyUI 0.3.75 and 0.8.0: ``ClipVisionModel.encode_image(image, crop=True)`` takes an IMAGE batch
[N, H, W, C] in 0..1 (channels past 3 dropped), loads the model on its device, resizes the batch to the model's
square input (``crop=True``: the centre square; ``crop=False``: the whole frame squashed, core's CLIP Vision Encode
"none"), normalizes it and returns an ``Output`` whose ``image_embeds`` is [N, D] (the projected pooled embedding,
on the intermediate device). 0.3.75 preprocesses in ``comfy.clip_vision``, 0.8.0 in ``comfy.clip_model``, alike.
Whether ``encode_image`` takes ``crop`` is read from its signature. ``comfy.clip_vision.load(path)`` (what Load CLIP
Vision calls) returns None for a file whose keys match none of the image encoders it knows.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch

FRAMES_PER_CALL = 16  # frames per encode_image call: bounds the activations a long video needs at once


def takes_crop(clip_vision) -> bool:
    """Whether this host's ``encode_image`` has the ``crop`` parameter (0.3.75 and 0.8.0 do)."""
    try:
        return "crop" in inspect.signature(clip_vision.encode_image).parameters
    except (TypeError, ValueError):
        return False


def embed_images(clip_vision, images: torch.Tensor, whole_frame: bool = True) -> torch.Tensor:
    """``image_embeds`` [N, D] (float32, CPU) of an IMAGE batch [N, H, W, 3], ``FRAMES_PER_CALL`` frames per call.

    ``whole_frame``: squash the whole frame into the model's square input (else its centre square, core's default).
    """
    options = {"crop": not whole_frame} if takes_crop(clip_vision) else {}
    chunks = []
    with torch.no_grad():
        for start in range(0, images.shape[0], FRAMES_PER_CALL):
            output = clip_vision.encode_image(images[start:start + FRAMES_PER_CALL], **options)
            chunks.append(output.image_embeds.to("cpu", torch.float32))
    return torch.cat(chunks)


def image_embedder(clip_vision, whole_frame: bool = True) -> Callable[[torch.Tensor], torch.Tensor]:
    """``embed(frames [F, H, W, 3]) -> [F, D]`` over ``clip_vision`` (video_metrics' Embedder)."""
    return lambda frames: embed_images(clip_vision, frames, whole_frame)


def installed_clip_vision() -> list[str]:
    """The files in ComfyUI's clip_vision model folders, as Load CLIP Vision lists them."""
    import folder_paths

    return list(folder_paths.get_filename_list("clip_vision"))


def load_clip_vision(name: str):
    """Core's CLIP_VISION for a file listed by installed_clip_vision(); ValueError (a sentence) when it cannot be one."""
    import comfy.clip_vision
    import folder_paths

    path = folder_paths.get_full_path("clip_vision", name)
    if path is None:
        raise ValueError(f"CLIP vision model {name!r} is not in ComfyUI's clip_vision folders (models/clip_vision); "
                         f"installed: {', '.join(installed_clip_vision()) or 'none'}")
    try:
        model = comfy.clip_vision.load(path)
    except Exception as err:  # noqa: BLE001  (whatever the file is, the user gets one sentence naming it)
        raise ValueError(f"CLIP vision model {path} could not be loaded ({type(err).__name__}: {err}); replace the file "
                         "or choose another one") from err
    if model is None:
        raise ValueError(f"{path} is not an image encoder ComfyUI recognises (it knows CLIP ViT-L, ViT-H and ViT-bigG, "
                         "SigLIP and DINOv2 by their layer names); choose another file")
    return model
