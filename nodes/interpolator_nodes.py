"""Interpolator nodes: the frame halfway between two frames, for ControlVideo's interleaved-frame smoother.

Both output one KINEMA_INTERPOLATOR (interpolation/base.py's contract); the smoother node
imports ``Interpolator`` from here as its input type.
"""

from __future__ import annotations

from ..comfy_glue import devices, folders
from ..interpolation.optical_flow import PRESETS, OpticalFlowInterpolator
from ..interpolation.rife import RifeInterpolator, load_rife
from .input_checks import input_problem
from .schema import io

CATEGORY = "Kinema/ControlVideo"
Interpolator = io.Custom("KINEMA_INTERPOLATOR")
INTERPOLATOR_TIP = "Makes the frame halfway between two frames; connect to the ControlVideo smoother."


class OpticalFlowInterpolatorNode(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaOpticalFlowInterpolator",
            display_name="Optical Flow Interpolator (Kinema)",
            category=CATEGORY,
            description=(
                "A frame interpolator that needs no model file: OpenCV's DIS optical flow between the two frames, both "
                "ways, moves each frame halfway and blends them, leaning on the frame that still shows what the other "
                "one hides. Runs on the CPU. For ControlVideo's smoother when RIFE's flownet.pkl is not installed; "
                "RIFE handles large motion and occlusions better."
            ),
            inputs=[
                io.Combo.Input("quality", options=list(PRESETS), default="medium",
                               tooltip="DIS preset: 'medium' is the most accurate; 'fast' and 'ultrafast' trade accuracy for speed."),
            ],
            outputs=[Interpolator.Output(display_name="interpolator", tooltip=INTERPOLATOR_TIP)],
        )

    @classmethod
    def validate_inputs(cls, quality: str) -> bool | str:
        return input_problem(cls, quality=quality) or True  # 0.3.75 never checks a V3 combo's options

    @classmethod
    def execute(cls, quality: str) -> io.NodeOutput:
        return io.NodeOutput(OpticalFlowInterpolator(quality))


class LoadRifeInterpolator(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaLoadRIFEInterpolator",
            display_name="Load RIFE Interpolator (Kinema)",
            category=CATEGORY,
            description=(
                "Loads RIFE IFNet HDv3, the frame interpolator ControlVideo uses in its smoother, from models/rife "
                "(ControlVideo's checkpoints/flownet.pkl, MIT license, about 12 MB). The file's layout is checked; "
                "other RIFE versions and other models are refused with the reason. Runs on ComfyUI's device in float32."
            ),
            inputs=[
                io.Combo.Input("model_name", options=folders.list_model_files(folders.RIFE),
                               tooltip="A RIFE HDv3 weights file in models/rife (flownet.pkl; .pth/.pt/.safetensors copies also load)."),
            ],
            outputs=[Interpolator.Output(display_name="interpolator", tooltip=INTERPOLATOR_TIP)],
        )

    @classmethod
    def validate_inputs(cls, model_name: str) -> bool | str:
        # 0.3.75 does not check V3 combo values against their options: this is the check users meet.
        return folders.missing_model_file(folders.RIFE, model_name) or True

    @classmethod
    def execute(cls, model_name: str) -> io.NodeOutput:
        network = load_rife(folders.model_file_path(folders.RIFE, model_name))
        return io.NodeOutput(RifeInterpolator(network, device=devices.compute_device()))


NODES = [OpticalFlowInterpolatorNode, LoadRifeInterpolator]
