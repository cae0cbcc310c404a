"""ControlVideo nodes: fully cross-frame attention, the hierarchical long-video sampler, and a ControlNet for both.

The interleaved-frame smoother and the interpolators have their own files.
"""

from __future__ import annotations

from ..comfy_glue import context_windows, controlnet, patcher
from ..controlvideo.attention import FullyCrossFrameStrategy
from ..controlvideo.hierarchy import hierarchical_layout
from ..frame_attention import FrameSourcedSelfAttention, GuidanceChunks
from ..windowing import window_plan
from .frame_attention_binding import apply_feature
from .frame_batch_windows import images_for_window
from .input_checks import input_problem
from .schema import io

FEATURE_KEY = "kinema_controlvideo"  # the fully cross-frame feature's key in a model's frame attention
HIERARCHY_KEY = "kinema_controlvideo_hierarchy"
CONTROL_CHECK_KEY = "kinema_controlvideo_control_check"
CATEGORY = "Kinema/ControlVideo"
CLIP_KEYS = ("both key frames", "reference [0, -1]")
CONTROLNET_ATTENTION = ("per frame (reference)", "all frames")


class FullyCrossFrameAttention(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaFullyCrossFrameAttention",
            display_name="Fully Cross-Frame Attention (Kinema)",
            category=CATEGORY,
            description=(
                "ControlVideo's fully cross-frame attention: in every self-attention layer of the UNet, each frame takes "
                "keys and values from all frames of the batch, so the clip keeps one look without any training. Cond and "
                "uncond never mix; cross-attention to the prompt is untouched. Memory grows linearly with the frame count "
                "(no frames-squared score matrix). With Context Windows, a window's frames attend to each other. Use "
                "Shared Noise, a ControlNet per frame (e.g. canny or depth of a video) and, for fewer flickers, the "
                "Interleaved-Frame Smoother."
            ),
            inputs=[io.Model.Input("model", tooltip="An SD1.5/SDXL model (LoRAs may be applied before or after).")],
            outputs=[io.Model.Output(tooltip="A patched copy of the model; the input model is unchanged.")],
        )

    @classmethod
    def execute(cls, model) -> io.NodeOutput:
        return io.NodeOutput(apply_feature(model, FEATURE_KEY, FullyCrossFrameStrategy()))


class HierarchicalLongVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaControlVideoLongVideo",
            display_name="ControlVideo Long Video (Kinema)",
            category=CATEGORY,
            description=(
                "ControlVideo's hierarchical sampler for long videos, with fully cross-frame attention: at every step the "
                "key frames (every window-1 frames, and the last) are denoised together attending to each other, and each "
                "stretch between two key frames is denoised with those two key frames, attending to them. Memory stays that "
                "of the largest pass (about sqrt(frames) + 2 frames), not of the clip. Works with KSampler and "
                "SamplerCustomAdvanced; control images follow the frames of each pass when the ControlNet comes through "
                "ControlVideo ControlNet or Windowed ControlNet. Replaces Context Windows on this model."
            ),
            inputs=[
                io.Model.Input("model", tooltip="An SD1.5/SDXL model (Fully Cross-Frame Attention is included: no need to add it)."),
                io.Int.Input("key_frame_window", default=0, min=0, max=4096,
                             tooltip="Key frames every window-1 frames; 0 = the reference's int(sqrt(frames)) (10 for 100 frames). At least 3."),
                io.Combo.Input("clip_attends_to", options=list(CLIP_KEYS), default=CLIP_KEYS[0],
                               tooltip="What the frames between two key frames attend to: both key frames (default), or the reference "
                                       "code's positions [0, -1] (the first key frame and the last in-between frame), to match its outputs."),
            ],
            outputs=[io.Model.Output(tooltip="A copy of the model that samples long clips key frames first; the input is unchanged.")],
        )

    @classmethod
    def validate_inputs(cls, key_frame_window: int | None = None, clip_attends_to: str | None = None) -> bool | str:
        # Named inputs only: ComfyUI skips its own checks for these (for all, given **kwargs), so input_problem does them.
        problem = input_problem(cls, key_frame_window=key_frame_window, clip_attends_to=clip_attends_to)
        if problem:
            return problem
        if key_frame_window not in (None, 0) and key_frame_window < 3:
            return (f"ControlVideo Long Video: key_frame_window {key_frame_window} leaves no frame between key frames; "
                    "use 0 (automatic) or at least 3.")
        return True

    @classmethod
    def execute(cls, model, key_frame_window: int, clip_attends_to: str) -> io.NodeOutput:
        patched = apply_feature(model, FEATURE_KEY, FullyCrossFrameStrategy(reference_clip_positions=clip_attends_to == CLIP_KEYS[1]))
        repair = window_plan(1, causal_anchor=False, frames_as_batch=True,
                             host_reads_batch_timestep=context_windows.reads_frame_batch_timestep()).repair_step

        def handler_for(frames: int):
            layout = hierarchical_layout(frames, key_frame_window)  # the window was validated: it splits any clip
            return context_windows.frame_windows_handler(
                layout.largest_pass, lambda count: hierarchical_layout(count, key_frame_window).passes(), repair,
                weights=lambda window_frames, count: hierarchical_layout(count, key_frame_window).weights(window_frames))

        context_windows.set_run_frame_windows(patched, HIERARCHY_KEY, handler_for)
        patcher.set_outer_sample_wrapper(patched, CONTROL_CHECK_KEY, _refuse_controlnets_that_ignore_passes)
        return io.NodeOutput(patched)


def _refuse_controlnets_that_ignore_passes(executor, *args, **kwargs):
    """Before sampling: a core ControlNet with several control images would give every pass the clip's first images."""
    for control in controlnet.controlnets_in_run(executor):
        count = controlnet.control_image_count(control)
        if count > 1 and not controlnet.follows_windows(control):
            raise ValueError(
                f"ControlVideo Long Video: a {type(control).__name__} with {count} control images is applied as loaded, so "
                "every pass of the long-video sampler (the key frames, each clip) would get the first images of the clip "
                "instead of its own frames' images; put ControlVideo ControlNet (or Windowed ControlNet) between Load "
                "ControlNet Model and Apply ControlNet.")
    return executor(*args, **kwargs)


class ControlVideoControlNet(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="KinemaControlVideoControlNet",
            display_name="ControlVideo ControlNet (Kinema)",
            category=CATEGORY,
            description=(
                "A ControlNet for ControlVideo: each pass of the UNet (the whole clip, a context window, or the long-video "
                "sampler's key frames and clips) gets the control images of its own frames. Optionally its self-attention "
                "also sees all frames, like the UNet's Fully Cross-Frame Attention (the reference keeps it per frame). "
                "Place it between Load ControlNet Model and Apply ControlNet."
            ),
            inputs=[
                io.ControlNet.Input("control_net", tooltip="A full SD1.5/SDXL ControlNet from Load ControlNet Model."),
                io.Combo.Input("attention", options=list(CONTROLNET_ATTENTION), default=CONTROLNET_ATTENTION[0],
                               tooltip="per frame: the ControlNet as trained, as the reference runs it; all frames: its "
                                       "self-attention attends to every frame of the pass, like the UNet."),
            ],
            outputs=[io.ControlNet.Output(tooltip="A copy of the ControlNet sharing its weights; the input is unchanged.")],
        )

    @classmethod
    def validate_inputs(cls, attention: str | None = None) -> bool | str:
        return input_problem(cls, attention=attention) or True  # 0.3.75 never checks a V3 combo's options

    @classmethod
    def execute(cls, control_net, attention: str) -> io.NodeOutput:
        chunks = GuidanceChunks()
        patched = controlnet.window_aware_controlnet(control_net, images_for_window, chunks)
        if attention == CONTROLNET_ATTENTION[1]:
            strategy = FullyCrossFrameStrategy()
            controlnet.with_self_attention(patched, lambda original: FrameSourcedSelfAttention(original, ((FEATURE_KEY, strategy),), chunks))
        return io.NodeOutput(patched)


NODES = [FullyCrossFrameAttention, HierarchicalLongVideo, ControlVideoControlNet]
