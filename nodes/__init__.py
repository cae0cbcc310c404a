"""The pack's node list, registered with ComfyUI through one V3 extension."""

from __future__ import annotations

from ..comfy_glue import folders
from . import (
    context_window_nodes,
    controlvideo_nodes,
    controlvideo_smoother_nodes,
    interpolator_nodes,
    motion_module_nodes,
    storydiffusion_nodes,
    text2video_zero_nodes,
    video_metrics_nodes,
)
from .schema import ComfyExtension, io

ALL_NODES: list[type[io.ComfyNode]] = [
    *motion_module_nodes.NODES, *text2video_zero_nodes.NODES, *context_window_nodes.NODES,
    *controlvideo_nodes.NODES, *controlvideo_smoother_nodes.NODES, *interpolator_nodes.NODES,
    *storydiffusion_nodes.NODES, *video_metrics_nodes.NODES,
]


class KinemaExtension(ComfyExtension):
    async def on_load(self) -> None:
        # Newer ComfyUI awaits this before get_node_list; 0.3.75 and 0.8.0 never call it.
        folders.register_model_folders()

    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        folders.register_model_folders()  # idempotent: registering twice adds no second folder
        return ALL_NODES
