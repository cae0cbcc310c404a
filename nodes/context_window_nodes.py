"""Helpers for core context windows on frames-as-batch video (AnimateDiff, Text2Video-Zero)."""

from __future__ import annotations

from ..comfy_glue import controlnet
from .frame_batch_windows import images_for_window
from .schema import io


class WindowedControlNet(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaWindowedControlNet",
            display_name="Windowed ControlNet (Kinema)",
            category="Kinema/Context Windows",
            description=(
                "Makes a ControlNet follow context windows: inside each window it uses that window's control images, "
                "for cond and uncond alike. ComfyUI 0.3.75 does not cut the images to the window, so frames get guided by "
                "other frames' pictures (the clip's first images, or, when cond and uncond share a pass, the next frames' "
                "images for uncond). Place it between Load ControlNet Model and Apply ControlNet. Without context windows "
                "it behaves exactly like the ControlNet it was given."
            ),
            inputs=[
                io.ControlNet.Input("control_net", tooltip="A full SD1.5/SDXL ControlNet from Load ControlNet Model "
                                                           "(ControlLoRA, T2I adapters and DiT ControlNets are not supported)."),
            ],
            outputs=[io.ControlNet.Output(tooltip="A copy of the ControlNet sharing its weights; the input is unchanged.")],
        )

    @classmethod
    def execute(cls, control_net) -> io.NodeOutput:
        return io.NodeOutput(controlnet.window_aware_controlnet(control_net, images_for_window))


NODES = [WindowedControlNet]
