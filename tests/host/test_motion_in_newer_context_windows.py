"""AnimateDiff under context windows with newer ComfyUI's causal anchor frame, through the real sampler.

ComfyUI after 0.8.0 adds ``causal_window_fix`` to core context windows (on by default):
every window but the first runs with the frame before it prepended, which is dropped again
before the windows are fused. That ComfyUI cannot run on these machines, so
``CausalAnchorHandler`` reproduces it on the host's own handler class, from the 0.38
``comfy/context_windows.py``: ``evaluate_context_windows`` with the anchor frame, and
``set_step`` reading ``timestep[0]`` as every release from 0.8.0 does. The motion module then
sees one frame more per pass; a window of exactly its frame limit would exceed it mid-sampling,
so Kinema refuses that before the first step.
"""

from __future__ import annotations

import pytest
import torch


def with_causal_windows(call_node, model, length: int, overlap: int):
    """``model`` with core Context Windows (Manual) whose handler runs as newer ComfyUI's with causal_window_fix on."""
    import comfy.context_windows as core_windows

    class CausalAnchorHandler(core_windows.IndexListContextHandler):
        causal_window_fix = True

        def set_step(self, timestep, model_options):
            super().set_step(timestep[:1], model_options)  # 0.8.0 on: the step is found from timestep[0]

        def evaluate_context_windows(self, calc_cond_batch, model, x_in, conds, timestep, enumerated_context_windows,
                                     model_options, device=None, first_device=None):
            results = []
            for window_idx, window in enumerated_context_windows:
                frames, anchor = list(window.index_list), window.index_list[0] - 1
                if 0 <= anchor < x_in.size(self.dim):
                    window.causal_anchor_index = anchor
                    frames = [anchor, *frames]
                model_options["transformer_options"]["context_window"] = window
                sub_conds = [self.get_resized_cond(cond, x_in, window, device) for cond in conds]
                out = calc_cond_batch(model, sub_conds, x_in[frames], timestep[frames], model_options)
                if len(frames) > len(window.index_list):
                    out = [o[1:] for o in out]  # the anchor frame's output is dropped before fusing
                results.append(core_windows.ContextResults(window_idx, out, sub_conds, window))
            return results

    (windowed,) = call_node("ContextWindowsManual", model=model, context_length=length, context_overlap=overlap,
                            context_schedule="standard_static", context_stride=1, closed_loop=False, fuse_method="pyramid",
                            dim=0, freenoise=False, causal_window_fix=True)
    core = windowed.model_options["context_handler"]
    windowed.model_options["context_handler"] = CausalAnchorHandler(
        core.context_schedule, core.fuse_method, context_length=core.context_length, context_overlap=core.context_overlap,
        context_stride=core.context_stride, closed_loop=core.closed_loop, dim=core.dim)
    return windowed


@pytest.fixture(scope="module")
def animated(model_files, call_node):
    model, clip, _ = call_node("CheckpointLoaderSimple", ckpt_name=model_files["sd15"].name)
    (motion,) = call_node("KinemaLoadMotionModule", model_name=model_files["mm_v2"].name)
    (model,) = call_node("KinemaApplyMotionModule", model=model, motion_model=motion, scale=1.0, effect=1.0, beta_schedule="autoselect")
    (positive,) = call_node("CLIPTextEncode", clip=clip, text="a lighthouse")
    (negative,) = call_node("CLIPTextEncode", clip=clip, text="blurry")
    return model, positive, negative


def sample(call_node, model, positive, negative, frames: int, size: int):
    (latent,) = call_node("EmptyLatentImage", width=size, height=size, batch_size=frames)
    (out,) = call_node("KSampler", model=model, seed=3, steps=1, cfg=7.5, sampler_name="euler", scheduler="normal",
                       positive=positive, negative=negative, latent_image=latent, denoise=1.0)
    return out["samples"]


@pytest.mark.heavy
def test_windows_of_the_module_limit_with_the_anchor_frame_are_refused_before_sampling(animated, call_node):
    model, positive, negative = animated
    with pytest.raises(ValueError, match=r"context windows of 32 frames run 33 frames per pass with causal_window_fix "
                       r"on.*limit of 32.*turn causal_window_fix off.*context_length to at most 31") as refused:
        sample(call_node, with_causal_windows(call_node, model, 32, 4), positive, negative, frames=40, size=64)
    assert refused.type.__name__ == "MotionFrameCountError"  # the class of the pack copy ComfyUI loaded


@pytest.mark.heavy
def test_the_motion_module_sees_each_window_with_its_anchor_frame(animated, call_node):
    """10 frames, windows of 4 (overlap 1): [0..3], then [3..6] and [6..9] each with the frame before them."""
    model, positive, negative = animated
    windowed = with_causal_windows(call_node, model, 4, 1)
    sequences = []

    def record(func, q, k, v, heads, *args, **kwargs):  # what an attention-backend node installs
        sequences.append(q.shape[1])
        return func(q, k, v, heads, *args, **kwargs)

    windowed.model_options["transformer_options"]["optimized_attention_override"] = record
    out = sample(call_node, windowed, positive, negative, frames=10, size=128)
    assert out.shape == (10, 4, 16, 16) and torch.isfinite(out).all()
    spatial = {256, 64, 16}  # tokens of the UNet's attention levels at 16x16 latents
    assert {n for n in sequences if n not in spatial} == {4, 5}, "temporal passes: 4 frames, then 1 + 4 with the anchor"
