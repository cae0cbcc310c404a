"""Text2Video-Zero nodes: cross-frame attention, motion-dynamics latents, background smoothing,
shared noise (ControlNet mode) and anchored chunks (long videos)."""

from __future__ import annotations

import dataclasses

import torch

from ..comfy_glue import context_windows, controlnet, sampling
from ..frame_attention import AnchorStrategy, FrameSourcedSelfAttention, GuidanceChunks
from ..text2video_zero import anchored_chunks, motion_schedule
from ..text2video_zero.motion_latents import MotionSettings, SamplingHooks, motion_dynamics_latents
from ..text2video_zero.renoise import alphabar_of_sigma
from ..text2video_zero.smoothing import BackgroundSmoothingDDIM
from ..windowing import window_plan
from .frame_attention_binding import apply_feature
from .frame_batch_windows import images_for_window
from .input_checks import checks_inputs, input_problem
from .schema import io

FEATURE_KEY = "kinema_text2video_zero"  # the cross-frame feature's key in a model's frame attention
CATEGORY = "Kinema/Text2Video-Zero"
MOTION_X_TIP = "Camera-like drift per frame, in pixels of a 512-px grid (also at other sizes): frame k moves by k times this along x. 0 = no drift."
MOTION_Y_TIP = "The same along y (down is positive)."


class CrossFrameAttention(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaCrossFrameAttention",
            display_name="Cross-Frame Attention (Kinema)",
            category=CATEGORY,
            description=(
                "Text2Video-Zero's cross-frame attention: in every self-attention layer of the UNet, each frame of the "
                "latent batch takes its keys and values from an anchor frame, so all frames keep the anchor's look. "
                "Cond and uncond never mix; cross-attention to the prompt is untouched. Stacks with other attention "
                "patches and with Apply Motion Module; with Context Windows the anchor is counted inside each window."
            ),
            inputs=[
                io.Model.Input("model", tooltip="An SD1.5/SDXL model (motion modules and LoRAs may be applied before or after)."),
                io.Int.Input("anchor_frame", default=0, min=0, max=4096,
                             tooltip="Which frame all others copy their look from (0 = the first). Counted inside each context window when windows are on."),
                io.Boolean.Input("attend_previous_frame", default=False,
                                 tooltip="Also attend to the previous frame (Tune-A-Video's sparse-causal attention): smoother change, a little more memory."),
            ],
            outputs=[io.Model.Output(tooltip="A patched copy of the model; the input model is unchanged.")],
        )

    @classmethod
    def execute(cls, model, anchor_frame: int, attend_previous_frame: bool) -> io.NodeOutput:
        strategy = AnchorStrategy(anchor=anchor_frame, with_previous=attend_previous_frame)
        return io.NodeOutput(apply_feature(model, FEATURE_KEY, strategy))


class MotionDynamicsLatents(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaMotionDynamicsLatents",
            display_name="Motion-Dynamics Latents (Kinema)",
            category=CATEGORY,
            description=(
                "Text2Video-Zero's starting latents. Denoises frame 1 alone with DDIM from the seed, takes copies of it "
                "part-way through, shifts copy k by k times the motion, adds fresh noise back, and returns all frames "
                "at the same noise level plus the remaining noise schedule. Wire: latent and sigmas into "
                "SamplerCustomAdvanced with the same guider, DisableNoise and sampler 'ddim' (or Background Smoothing)."
            ),
            inputs=[
                io.Guider.Input("guider", tooltip="The guider that will sample the video (e.g. CFGGuider with the cross-frame model, prompts and cfg)."),
                io.Latent.Input("latent", tooltip="An empty latent whose batch size is the frame count (Empty Latent Image)."),
                io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                             tooltip="One seed for the whole clip: frame 1's noise and every other frame's fresh noise."),
                io.Int.Input("steps", default=50, min=2, max=1000, tooltip="DDIM steps of the whole schedule (the reference uses 50)."),
                io.Int.Input("t0", default=44, min=0, max=999,
                             tooltip="How far frame 1 is denoised before it is copied and shifted, counted in steps back from the clean end: "
                                     "lower = more of frame 1's layout is fixed before the motion is applied. Must be below t1."),
                io.Int.Input("t1", default=47, min=1, max=999,
                             tooltip="The noise level all frames restart from, counted in steps back from the clean end: the shifted copies are "
                                     "re-noised from t0 up to t1, then every frame is denoised together from here. Must be below steps."),
                io.Float.Input("motion_x", default=12.0, min=-512.0, max=512.0, step=0.1, tooltip=MOTION_X_TIP),
                io.Float.Input("motion_y", default=12.0, min=-512.0, max=512.0, step=0.1, tooltip=MOTION_Y_TIP),
                io.Combo.Input("renoise_alpha", options=["reference", "exact"], default="reference",
                               tooltip="'reference' reproduces the published noise factor (a product of per-step alphas one index "
                                       "off); 'exact' uses alphabar(t1)/alphabar(t0)."),
                io.Int.Input("reference_chunk_size", default=0, min=0, max=4096,
                             tooltip="0 = every frame gets its own fresh noise (recommended). To reproduce the reference's long-video "
                                     "loop, set Anchored Chunks' chunk_size here: the reference re-seeds every chunk, so frame k "
                                     "reuses the noise of frame k mod (chunk_size - 1)."),
            ],
            outputs=[
                io.Latent.Output(display_name="latent", tooltip="All frames at the t1 noise level, for SamplerCustomAdvanced with DisableNoise."),
                io.Sigmas.Output(display_name="sigmas", tooltip="The rest of the DDIM schedule, from t1 to the end."),
                io.Int.Output(display_name="start_at_step", tooltip="The same point as a step index, for KSamplerAdvanced (add_noise disable, ddim, ddim_uniform, same steps)."),
            ],
        )

    @classmethod
    def validate_inputs(cls, steps: int | None = None, t0: int | None = None, t1: int | None = None,
                        reference_chunk_size: int | None = None, motion_x: float | None = None,
                        motion_y: float | None = None, renoise_alpha: str | None = None) -> bool | str:
        # ComfyUI skips its own checks for the inputs named here: input_problem does them (and 0.3.75's missing combo check)
        problem = input_problem(cls, steps=steps, t0=t0, t1=t1, reference_chunk_size=reference_chunk_size, motion_x=motion_x,
                                motion_y=motion_y, renoise_alpha=renoise_alpha)
        if problem:
            return problem
        if reference_chunk_size == 1:
            return ("reference_chunk_size 1 cannot hold the anchor and a frame: use 0 (every frame its own noise) "
                    "or Anchored Chunks' chunk_size (at least 2)")
        if None in (steps, t0, t1):
            return True
        try:
            motion_schedule(steps, t0, t1)
        except ValueError as error:
            return str(error)
        return True

    @classmethod
    @checks_inputs
    def execute(cls, guider, latent: dict, seed: int, steps: int, t0: int, t1: int, motion_x: float, motion_y: float,
                renoise_alpha: str, reference_chunk_size: int) -> io.NodeOutput:
        settings = MotionSettings(steps=steps, t0=t0, t1=t1, motion_x=motion_x, motion_y=motion_y,
                                  exact_alpha=renoise_alpha == "exact", reference_chunk_size=reference_chunk_size)
        schedule = motion_schedule(steps, t0, t1)
        model = sampling.guider_model(guider)
        training = sampling.discrete_schedule(model, "ddim_uniform", steps)
        if training is None:
            raise ValueError("Motion-Dynamics Latents needs a model with a discrete training schedule such as SD1.5 or SDXL; "
                             f"the guider's model samples with {sampling.model_sampling_name(model)}")
        sigmas = training.sigmas
        to_x, from_x = sampling.latent_format_scale(model)
        hooks = SamplingHooks(
            sample=lambda samples, part, add_noise: sampling.ddim_sample(guider, samples, part, seed, add_noise),
            sigmas=sigmas, alphas_cumprod=alphabar_of_sigma(training.training_sigmas.double()),
            timestep_of=training.timestep_of, to_x=to_x, from_x=from_x,
        )
        samples = motion_dynamics_latents(latent["samples"], seed, settings, hooks)
        out = {key: value for key, value in latent.items() if key not in ("samples", "batch_index", "noise_mask")}
        out["samples"] = samples
        return io.NodeOutput(out, sigmas[schedule.t1_step:].clone(), schedule.t1_step)


class BackgroundSmoothing(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaBackgroundSmoothing",
            display_name="Background Smoothing (Kinema)",
            category=CATEGORY,
            description=(
                "Text2Video-Zero's background smoothing as a DDIM sampler for SamplerCustomAdvanced: before every step, "
                "the background of frame k (where the mask is 0) is pulled toward frame 1 shifted by frame k's motion, "
                "so backgrounds stay steady while the foreground moves. Use the same motion as Motion-Dynamics Latents."
            ),
            inputs=[
                io.Mask.Input("masks", tooltip="Foreground masks, one per frame (or one for all): 1 = foreground (left alone), 0 = background (smoothed)."),
                io.Float.Input("strength", default=0.6, min=0.0, max=1.0, step=0.01,
                               tooltip="How much of the background comes from the shifted frame 1: 0 = plain DDIM, 0.6 = the paper's value, 1 = a copy of frame 1."),
                io.Float.Input("motion_x", default=12.0, min=-512.0, max=512.0, step=0.1, tooltip=MOTION_X_TIP),
                io.Float.Input("motion_y", default=12.0, min=-512.0, max=512.0, step=0.1, tooltip=MOTION_Y_TIP),
            ],
            outputs=[io.Sampler.Output(tooltip="A DDIM sampler with background smoothing, for SamplerCustomAdvanced.")],
        )

    @classmethod
    def validate_inputs(cls, strength: float | None = None, motion_x: float | None = None,
                        motion_y: float | None = None) -> bool | str:
        return input_problem(cls, strength=strength, motion_x=motion_x, motion_y=motion_y) or True

    @classmethod
    @checks_inputs
    def execute(cls, masks: torch.Tensor, strength: float, motion_x: float, motion_y: float) -> io.NodeOutput:
        return io.NodeOutput(sampling.custom_sampler(BackgroundSmoothingDDIM(masks.detach().cpu(), strength, motion_x, motion_y)))


@dataclasses.dataclass(frozen=True)
class _SharedNoise:
    """A core NOISE: frame 1's noise from the seed, the same for every frame of the batch."""

    seed: int

    def generate_noise(self, input_latent: dict) -> torch.Tensor:
        samples = input_latent["samples"]
        # [1, C, h, w] -> [F, C, h, w]
        return sampling.seeded_noise(samples[:1], self.seed).repeat(samples.shape[0], *([1] * (samples.ndim - 1)))


class SharedNoise(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaSharedNoise",
            display_name="Shared Noise (Kinema)",
            category=CATEGORY,
            description=("One noise image from the seed, used for every frame (Text2Video-Zero's ControlNet mode, and ControlVideo, "
                         "which starts all frames from the same noise). For SamplerCustomAdvanced."),
            inputs=[io.Int.Input("noise_seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                                 tooltip="The seed of the one noise image all frames start from.")],
            outputs=[io.Noise.Output(tooltip="Noise for SamplerCustomAdvanced: identical for every frame.")],
        )

    @classmethod
    def execute(cls, noise_seed: int) -> io.NodeOutput:
        return io.NodeOutput(_SharedNoise(noise_seed))


class AnchoredChunks(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaAnchoredChunks",
            display_name="Anchored Chunks (Kinema)",
            category=CATEGORY,
            description=(
                "Long videos the Text2Video-Zero way: the UNet sees the clip in chunks of chunk_size frames, each starting "
                "with frame 1, so every chunk's cross-frame attention copies the same first frame and memory stays that of "
                "one chunk. Put it after Cross-Frame Attention (anchor_frame 0). Replaces core Context Windows on this model."
            ),
            inputs=[
                io.Model.Input("model", tooltip="A model with Cross-Frame Attention applied."),
                io.Int.Input("chunk_size", default=8, min=2, max=4096,
                             tooltip="Frames per UNet pass, including the repeated first frame (the reference uses 8)."),
            ],
            outputs=[io.Model.Output(tooltip="A copy of the model that samples the clip chunk by chunk.")],
        )

    @classmethod
    def execute(cls, model, chunk_size: int) -> io.NodeOutput:
        patched = model.clone()
        plan = window_plan(chunk_size, causal_anchor=False, frames_as_batch=True,
                           host_reads_batch_timestep=context_windows.reads_frame_batch_timestep())
        context_windows.set_frame_windows(patched, chunk_size, lambda frames: anchored_chunks(frames, chunk_size),
                                          one_sigma_steps=plan.repair_step)
        return io.NodeOutput(patched)


class CrossFrameControlNet(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaCrossFrameControlNet",
            display_name="Cross-Frame ControlNet (Kinema)",
            category=CATEGORY,
            description=(
                "Gives a ControlNet the same cross-frame attention as the UNet (as Text2Video-Zero's ControlNet mode does): "
                "its self-attention layers take keys and values from the anchor frame. ComfyUI does not pass attention "
                "patches to ControlNets, so this patches the ControlNet's own copy. Place it between Load ControlNet Model "
                "and Apply ControlNet."
            ),
            inputs=[
                io.ControlNet.Input("control_net", tooltip="A full SD1.5/SDXL ControlNet from Load ControlNet Model."),
                io.Int.Input("anchor_frame", default=0, min=0, max=4096, tooltip="Use the same anchor as Cross-Frame Attention on the model."),
                io.Boolean.Input("attend_previous_frame", default=False, tooltip="Use the same setting as Cross-Frame Attention on the model."),
            ],
            outputs=[io.ControlNet.Output(tooltip="A patched copy of the ControlNet; the input is unchanged.")],
        )

    @classmethod
    def execute(cls, control_net, anchor_frame: int, attend_previous_frame: bool) -> io.NodeOutput:
        strategy = AnchorStrategy(anchor=anchor_frame, with_previous=attend_previous_frame)
        chunks = GuidanceChunks()
        patched = controlnet.window_aware_controlnet(control_net, images_for_window, chunks)
        controlnet.with_self_attention(patched, lambda original: FrameSourcedSelfAttention(original, ((FEATURE_KEY, strategy),), chunks))
        return io.NodeOutput(patched)


NODES = [CrossFrameAttention, CrossFrameControlNet, MotionDynamicsLatents, BackgroundSmoothing, SharedNoise, AnchoredChunks]
