"""What ``--metrics`` measures with: the CLIP vision model for CLIP consistency, chosen before any job runs.

CLIP consistency needs an image encoder, which the runner loads with ComfyUI's own loader in
its own process, so only an embedded batch (ComfyUI in this process) measures it. The model
is chosen by ``--clip-vision NAME``; without the option, the one file in ComfyUI's
clip_vision folders when there is exactly one (several: the user must choose); ``none``
leaves CLIP consistency out. Warp error and SSIM need no model and are always measured.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

NO_MODEL = "none"


def choose_clip_vision(requested: str | None, installed: list[str], embedded: bool) -> str | None:
    """The clip_vision file to measure CLIP consistency with, or None; ValueError (a sentence) for a choice that cannot be."""
    if requested == NO_MODEL:
        return None
    if not embedded:
        if requested:
            raise ValueError(f"--clip-vision {requested}: CLIP consistency is measured in this process with ComfyUI's "
                             "CLIP vision loader, and with --server or --ray ComfyUI runs elsewhere. Run the batch "
                             "embedded (no --server/--ray), put Video Consistency Metrics (Kinema) into the workflow so "
                             "the server measures it, or leave --clip-vision out")
        return None
    if requested:
        if requested not in installed:
            raise ValueError(f"--clip-vision {requested!r}: no such file in ComfyUI's clip_vision folders "
                             f"(models/clip_vision); installed: {', '.join(installed) or 'none'}. Name one of those, "
                             f"or '{NO_MODEL}' to leave CLIP consistency out")
        return requested
    if len(installed) > 1:
        raise ValueError(f"--metrics: {len(installed)} CLIP vision models are installed ({', '.join(installed)}); choose "
                         f"the one for CLIP consistency with --clip-vision NAME, or --clip-vision {NO_MODEL}")
    return installed[0] if installed else None


def chosen_clip_vision(metrics: bool, requested: str | None, embedded: bool) -> str | None:
    """The command line's choice, checked against what this ComfyUI has installed."""
    if not metrics:
        if requested:
            raise ValueError(f"--clip-vision {requested}: it chooses the model for --metrics; add --metrics")
        return None
    if not embedded:
        return choose_clip_vision(requested, [], embedded)
    from ..comfy_glue.clip_vision import installed_clip_vision

    return choose_clip_vision(requested, installed_clip_vision(), embedded)


def measurer(clip_vision: str | None) -> Callable[[list[Path]], dict[str, dict]]:
    """``measure(paths) -> {path: figures}`` for the batch, with the CLIP vision model loaded once, up front."""
    from .output_metrics import measure_outputs

    if clip_vision is None:
        return measure_outputs
    from ..comfy_glue.clip_vision import image_embedder, load_clip_vision

    embed = image_embedder(load_clip_vision(clip_vision))
    log.info("--metrics: CLIP consistency with %s", clip_vision)
    return functools.partial(measure_outputs, embed=embed)
