"""The pack's node list, registered with ComfyUI through one V3 extension."""

from __future__ import annotations

from .. import comfy_glue
from . import context_window_nodes, motion_module_nodes, text2video_zero_nodes
from .schema import ComfyExtension, io

ALL_NODES: list[type[io.ComfyNode]] = [*motion_module_nodes.NODES, *text2video_zero_nodes.NODES, *context_window_nodes.NODES]


class KinemaExtension(ComfyExtension):
    async def get_node_list(self) -> list[type[io.ComfyNode]]:
        # ComfyUI 0.3.75 never calls on_load; this runs once, when the pack is loaded.
        comfy_glue.register_model_folders()
        return ALL_NODES
