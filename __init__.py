"""Kinema: video generation nodes for ComfyUI (AnimateDiff, Text2Video-Zero, ControlVideo, StoryDiffusion).

Registration only. ComfyUI calls ``comfy_entrypoint``; the node modules are imported
there, so the pure algorithm packages (``motion_modules`` ...) import without ComfyUI.
"""


async def comfy_entrypoint():
    from .nodes import KinemaExtension

    return KinemaExtension()
