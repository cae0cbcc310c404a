"""ControlVideo's interleaved-frame smoother as a SAMPLER for SamplerCustom / SamplerCustomAdvanced."""

from __future__ import annotations

import functools

from ..comfy_glue import sampling
from ..comfy_glue import vae as vae_glue
from ..controlvideo import InterleavedSmootherDDIM
from ..controlvideo.interleave import OFF
from ..interpolation.optical_flow import OpticalFlowInterpolator
from .input_checks import checks_inputs, input_problem
from .interpolator_nodes import Interpolator
from .schema import io

WHO = "Interleaved-Frame Smoother"


def fraction_problem(name: str, value: float | None) -> str | None:
    if value is None or 0.0 <= value <= OFF:
        return None
    return (f"{WHO}: {name} is {value}, outside 0..{OFF}. It is the fraction of the schedule at which that pass fires "
            f"(0.6 = step 30 of 50, the reference); {OFF} turns the pass off. Set a value from 0 to {OFF}.")


class InterleavedFrameSmoother(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaInterleavedFrameSmoother",
            display_name="Interleaved-Frame Smoother (Kinema)",
            category="Kinema/ControlVideo",
            description=(
                "ControlVideo's interleaved-frame smoother as a DDIM sampler for SamplerCustomAdvanced. At two consecutive steps "
                "(near 60% of the schedule) the predicted clean video is decoded with the VAE: first every odd frame is replaced "
                "by the frame halfway between its two even neighbours, at the next step every even frame by the one between its "
                "odd neighbours; the new frames are encoded again and sampling continues from them. This removes flicker "
                "between frames. Elsewhere it is exactly core's 'ddim' sampler. The latent batch is one clip, in frame order."
            ),
            inputs=[
                io.Vae.Input("vae", tooltip="The VAE of the checkpoint being sampled (SD1.5 or SDXL): it decodes the predicted frames "
                                            "and encodes the interpolated ones."),
                Interpolator.Input("interpolator", optional=True,
                                   tooltip="Makes the frame halfway between two frames (e.g. RIFE). Unconnected: the "
                                           "optical-flow interpolator (OpenCV DIS, medium preset), which needs no model file."),
                io.Float.Input("odd_frames_at", default=0.6, min=0.0, max=OFF, step=0.01,
                               tooltip="Fraction of the sampling steps at which the odd frames (2nd, 4th, ...) are replaced: step "
                                       "floor(fraction x steps), 0.6 = step 30 of 50 as in ControlVideo. 1.0 = never."),
                io.Float.Input("even_frames_at", default=0.62, min=0.0, max=OFF, step=0.01,
                               tooltip="The same for the even frames (1st, 3rd, ...): 0.62 = step 31 of 50. With few steps, if both "
                                       "land on one step this pass moves one step later; past the last step it is skipped with a "
                                       "warning. 1.0 = never."),
                io.Int.Input("decode_batch", default=4, min=1, max=256,
                             tooltip="Frames per VAE decode/encode and pairs per interpolator call: memory beyond the latents "
                                     "grows with this, not with the clip length. Lower it if the GPU runs out of memory."),
            ],
            outputs=[io.Sampler.Output(tooltip="A DDIM sampler with interleaved-frame smoothing, for SamplerCustom or "
                                               "SamplerCustomAdvanced (use a DDIM-style schedule such as ddim_uniform).")],
        )

    @classmethod
    def validate_inputs(cls, odd_frames_at: float | None = None, even_frames_at: float | None = None,
                        decode_batch: int | None = None) -> bool | str:
        for name, value in (("odd_frames_at", odd_frames_at), ("even_frames_at", even_frames_at)):
            problem = fraction_problem(name, value)
            if problem:
                return problem
        return input_problem(cls, decode_batch=decode_batch) or True

    @classmethod
    @checks_inputs  # a linked value; widget values are refused by validate_inputs above
    def execute(cls, vae, odd_frames_at: float, even_frames_at: float, decode_batch: int, interpolator=None) -> io.NodeOutput:
        vae_glue.check_image_vae(vae, WHO)
        smoother = InterleavedSmootherDDIM(
            decode=functools.partial(vae_glue.decode, vae), encode=functools.partial(vae_glue.encode, vae),
            interpolate=interpolator if interpolator is not None else OpticalFlowInterpolator(),
            odd_at=odd_frames_at, even_at=even_frames_at, decode_batch=decode_batch,
            latent_format=sampling.sampler_latent_format, progress=vae_glue.report_progress,
        )
        return io.NodeOutput(sampling.ddim_like_sampler(smoother))


NODES = [InterleavedFrameSmoother]
