"""AnimateDiff nodes: load a motion module and motion LoRAs, apply them to any SD model."""

from __future__ import annotations

import dataclasses
import logging

from ..comfy_glue import folders, layers, lora, patcher, sampling
from ..motion_modules.formats import load_motion_module
from ..motion_modules.injection import MotionSettings
from ..motion_modules.lora import fit_motion_lora, load_motion_lora
from ..motion_modules.schedules import SCHEDULE_CHOICES, resolve_schedule
from .input_checks import checks_inputs, input_problem
from .motion_attach import attach_motion_modules, check_fits
from .schema import io

log = logging.getLogger(__name__)

# Families trained with UNet GroupNorm statistics spanning all frames of a clip.
FRAME_SPANNING_FAMILIES = ("v1", "hotshotxl")
MotionModel = io.Custom("KINEMA_MOTION_MODEL")
MotionLoraList = io.Custom("KINEMA_MOTION_LORA")


@dataclasses.dataclass(frozen=True)
class LoadedMotionModel:
    """What flows between the nodes: the weights' patcher and what the file was."""

    patcher: object  # comfy ModelPatcher around a MotionModuleSet
    info: object  # motion_modules.formats.MotionModuleInfo
    file_name: str

    def describe(self) -> str:
        return f"motion module {self.file_name!r} ({self.info.description})"


@dataclasses.dataclass(frozen=True)
class MotionLoraEntry:
    file_name: str
    strength: float
    pairs: dict  # weight key -> (up, down)


class LoadMotionModule(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaLoadMotionModule",
            display_name="Load Motion Module (Kinema)",
            category="Kinema/AnimateDiff",
            description=(
                "Loads an AnimateDiff motion module (v1, v2, v3, SDXL, HotShot-XL, AnimateLCM or diffusers format) "
                "from models/animatediff_models. The format is detected from the file's keys; files that are not "
                "motion modules are refused with the reason. Weights are loaded once, in ComfyUI's UNet compute dtype."
            ),
            inputs=[
                io.Combo.Input(
                    "model_name", options=folders.list_model_files(folders.MOTION_MODELS),
                    tooltip="A motion module file in models/animatediff_models (.ckpt, .pt, .safetensors).",
                ),
            ],
            outputs=[MotionModel.Output(display_name="motion_model", tooltip="The loaded motion module, for Apply Motion Module.")],
        )

    @classmethod
    def validate_inputs(cls, model_name: str) -> bool | str:
        # 0.3.75 does not check V3 combo values against their options, and 0.8.0 on skips the ones named here: this
        # check, with the folders searched and the fix, is the one users meet.
        return folders.missing_model_file(folders.MOTION_MODELS, model_name) or True

    @classmethod
    def execute(cls, model_name: str) -> io.NodeOutput:
        path = folders.model_file_path(folders.MOTION_MODELS, model_name)
        motion_set, info = load_motion_module(path, layers.weight_casting_layers())
        motion_set = motion_set.to(layers.motion_module_dtype())
        return io.NodeOutput(LoadedMotionModel(patcher.wrap_in_patcher(motion_set), info, model_name))


class LoadMotionLora(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaLoadMotionLora",
            display_name="Load Motion LoRA (Kinema)",
            category="Kinema/AnimateDiff",
            description=(
                "Loads a motion LoRA (e.g. v2_lora_ZoomIn) from models/animatediff_motion_lora. Chain several; "
                "Apply Motion Module patches them onto the motion module's attention weights."
            ),
            inputs=[
                io.Combo.Input(
                    "lora_name", options=folders.list_model_files(folders.MOTION_LORAS),
                    tooltip="A motion LoRA file in models/animatediff_motion_lora. Made for v2 motion modules.",
                ),
                io.Float.Input("strength", default=1.0, min=-10.0, max=10.0, step=0.01,
                               tooltip="How strongly the LoRA changes the motion: 0 = no change, 1 = as trained."),
                MotionLoraList.Input("previous", optional=True,
                                                      tooltip="Motion LoRAs loaded earlier in a chain; this one is added to them."),
            ],
            outputs=[MotionLoraList.Output(display_name="motion_lora", tooltip="The chain of motion LoRAs so far.")],
        )

    @classmethod
    def validate_inputs(cls, lora_name: str, strength: float | None = None) -> bool | str:
        # Named inputs only: a **kwargs signature makes ComfyUI skip its own min/max checks on the rest.
        return folders.missing_model_file(folders.MOTION_LORAS, lora_name) or input_problem(cls, strength=strength) or True

    @classmethod
    @checks_inputs
    def execute(cls, lora_name: str, strength: float, previous=None) -> io.NodeOutput:
        pairs = load_motion_lora(folders.model_file_path(folders.MOTION_LORAS, lora_name))
        return io.NodeOutput(list(previous or []) + [MotionLoraEntry(lora_name, strength, pairs)])


class ApplyMotionModule(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaApplyMotionModule",
            display_name="Apply Motion Module (Kinema)",
            category="Kinema/AnimateDiff",
            description=(
                "Turns an SD1.5 or SDXL model into a video model: the latent batch becomes the frames of one clip. "
                "Returns a patched copy of the model; the input model is unchanged. For more frames than the "
                "module's limit (24 or 32, 64 for AnimateLCM), add core 'Context Windows (Manual)' after this node."
            ),
            inputs=[
                io.Model.Input("model", tooltip="An SD1.5 or SDXL model from a checkpoint loader (LoRAs may be applied before or after)."),
                MotionModel.Input("motion_model", tooltip="From Load Motion Module. Must be made for this model's type."),
                io.Float.Input("scale", default=1.0, min=0.0, max=10.0, step=0.01,
                               tooltip="Attention temperature of the temporal layers: below 1 softens, above 1 sharpens how frames follow each other."),
                io.Float.Input("effect", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="How much of the motion module's change to keep: 0 = the plain image model, 1 = full motion."),
                io.Combo.Input("beta_schedule", options=SCHEDULE_CHOICES, default=SCHEDULE_CHOICES[0],
                               tooltip="Noise schedule. 'autoselect' uses the one the motion module was trained with; 'model default' keeps the checkpoint's."),
                MotionLoraList.Input("motion_lora", optional=True, tooltip="Motion LoRAs to patch onto the motion module."),
            ],
            outputs=[io.Model.Output(tooltip="The model with motion modules; sample a batch of latents as frames.")],
        )

    @classmethod
    def validate_inputs(cls, beta_schedule: str, scale: float | None = None, effect: float | None = None) -> bool | str:
        return input_problem(cls, beta_schedule=beta_schedule, scale=scale, effect=effect) or True

    @classmethod
    @checks_inputs
    def execute(cls, model, motion_model: LoadedMotionModel, scale: float, effect: float, beta_schedule: str,
                motion_lora=None) -> io.NodeOutput:
        check_fits(model, motion_model.patcher.model, motion_model.describe())
        motion_patcher = motion_model.patcher.clone()
        shapes = {key: tuple(value.shape) for key, value in motion_model.patcher.model.state_dict().items()}
        for entry in motion_lora or []:
            pairs, left_out = fit_motion_lora(entry.pairs, shapes, entry.file_name, motion_model.describe())
            if left_out:
                log.warning("motion LoRA %s: %d mid-block weights left out (%s has no mid block)", entry.file_name,
                            len(left_out), motion_model.describe())
            patched = lora.add_lora_patches(motion_patcher, pairs, entry.strength)
            log.info("motion LoRA %s: %d weights patched at strength %s", entry.file_name, patched, entry.strength)
        settings = MotionSettings(
            scale=scale, effect=effect, pe_length=motion_model.info.pe_length,
            frame_spanning_norms=motion_model.info.family in FRAME_SPANNING_FAMILIES,
        )
        patched_model = attach_motion_modules(model, motion_patcher, settings)
        schedule = resolve_schedule(beta_schedule, motion_model.info.family)
        if schedule is not None:
            patcher.set_model_sampling(patched_model, sampling.training_sampling(
                schedule.kind, schedule.beta_schedule, schedule.linear_start, schedule.linear_end))
        return io.NodeOutput(patched_model)


NODES = [LoadMotionModule, LoadMotionLora, ApplyMotionModule]
