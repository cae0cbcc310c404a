"""Kinema: video generation nodes for ComfyUI (AnimateDiff and Text2Video-Zero, on SD1.5 and SDXL).

Registration only. ComfyUI calls ``comfy_entrypoint``; the node modules are imported
there, so the pure core packages (``motion_modules``, ``frame_attention``, ``text2video_zero``,
``windowing``) import without ComfyUI.
"""


async def comfy_entrypoint():
    from .nodes import KinemaExtension

    return KinemaExtension()
