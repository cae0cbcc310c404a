"""Text2Video-Zero inside a real ComfyUI 0.3.75 on the full-size random SD1.5 and SDXL (64x64 px).

Motion-dynamics latents against independent arithmetic (diffusers' scheduler and warp),
frame 1 against a plain core DDIM sample, cross-frame attention inside the real UNet, the
background-smoothing sampler, shared noise and anchored chunks.
"""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from host_calls import control_outputs, frames_in, unet

STEPS, T0, T1, FRAMES, CFG, SEED = 10, 4, 7, 3, 7.5, 11


def base_prompt(ckpt: str, frames: int = FRAMES) -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a horse galloping on a street"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "blurry"}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": frames}},
        "5": {"class_type": "KinemaCrossFrameAttention", "inputs": {"model": ["1", 0], "anchor_frame": 0, "attend_previous_frame": False}},
        "6": {"class_type": "CFGGuider", "inputs": {"model": ["5", 0], "positive": ["2", 0], "negative": ["3", 0], "cfg": CFG}},
        "7": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "ddim"}},
        "8": {"class_type": "DisableNoise", "inputs": {}},
    }


def motion_nodes(prompt: dict, **overrides) -> dict:
    inputs = {"guider": ["6", 0], "latent": ["4", 0], "seed": SEED, "steps": STEPS, "t0": T0, "t1": T1,
              "motion_x": 12.0, "motion_y": 12.0, "renoise_alpha": "reference", "reference_chunk_size": 0, **overrides}
    prompt["10"] = {"class_type": "KinemaMotionDynamicsLatents", "inputs": inputs}
    return prompt


def save(prompt: dict, node: str, source: list, prefix: str) -> None:
    prompt[node] = {"class_type": "SaveLatent", "inputs": {"samples": source, "filename_prefix": prefix}}


def latents(comfy_host, result, prefix: str) -> torch.Tensor:
    """The tensor a SaveLatent node with ``prefix`` wrote (ComfyUI lists it under "latents" in the ui output)."""
    assert result.success, result.describe_failure()
    entries = [entry for output in result.outputs.values() for entry in output.get("latents", [])]
    entry = next(e for e in entries if e["filename"].startswith(prefix))
    path = comfy_host.paths.output / entry.get("subfolder", "") / entry["filename"]
    return load_file(str(path))["latent_tensor"].float()


@pytest.fixture(scope="module")
def ckpt(model_files) -> str:
    return model_files["sd15"].name


# (fixture name, VAE latent scale): the motion latents convert between the sampler's and the DDPM scaling with it
CHECKPOINTS = {"sd15": ("sd15", 0.18215), "sdxl": ("sdxl", 0.13025)}


@pytest.fixture(scope="module", params=list(CHECKPOINTS))
def checkpoint(request, model_files) -> tuple[str, float]:
    name, scale = CHECKPOINTS[request.param]
    return model_files[name].name, scale


@pytest.mark.heavy
def test_frame_1_of_a_motion_dynamics_run_equals_a_plain_ddim_sample(comfy_host, checkpoint):
    ckpt, _ = checkpoint
    prompt = motion_nodes(base_prompt(ckpt))
    prompt["11"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["8", 0], "guider": ["6", 0], "sampler": ["7", 0], "sigmas": ["10", 1], "latent_image": ["10", 0]}}
    prompt["12"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    prompt["13"] = {"class_type": "KSampler", "inputs": {
        "model": ["1", 0], "seed": SEED, "steps": STEPS, "cfg": CFG, "sampler_name": "ddim", "scheduler": "ddim_uniform",
        "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["12", 0], "denoise": 1.0}}
    save(prompt, "20", ["11", 0], "t2vz_video")
    save(prompt, "21", ["13", 0], "t2vz_plain")
    result = comfy_host.run(prompt)
    video, plain = latents(comfy_host, result, "t2vz_video"), latents(comfy_host, result, "t2vz_plain")
    assert video.shape == (FRAMES, 4, 8, 8)
    torch.testing.assert_close(video[:1], plain, rtol=1e-4, atol=1e-4)
    assert (video[1:] - video[:1]).abs().amax() > 1e-2, "frames 2.. must differ from frame 1"


@pytest.mark.heavy
def test_motion_latents_match_independent_ddpm_arithmetic(comfy_host, checkpoint):
    """Frames 2..F = DDIM of frame 1 to t0 (core KSamplerAdvanced), warped by diffusers' function,
    re-noised in DDPM scaling with diffusers' scheduler alphas, back in ComfyUI's scaling."""
    ckpt, scale = checkpoint
    import diffusers
    from diffusers.pipelines.text_to_video_synthesis import pipeline_text_to_video_zero as t2vz
    prompt = motion_nodes(base_prompt(ckpt))
    prompt["12"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    t0_step = STEPS - T0 - 1
    prompt["13"] = {"class_type": "KSamplerAdvanced", "inputs": {
        "model": ["1", 0], "add_noise": "enable", "noise_seed": SEED, "steps": STEPS, "cfg": CFG, "sampler_name": "ddim",
        "scheduler": "ddim_uniform", "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["12", 0],
        "start_at_step": 0, "end_at_step": t0_step, "return_with_leftover_noise": "enable"}}
    save(prompt, "20", ["10", 0], "t2vz_init")
    save(prompt, "21", ["13", 0], "t2vz_t0")
    result = comfy_host.run(prompt)
    init, x1_t0 = latents(comfy_host, result, "t2vz_init"), latents(comfy_host, result, "t2vz_t0")

    scheduler = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                        steps_offset=1, set_alpha_to_one=False, clip_sample=False)
    scheduler.set_timesteps(STEPS)
    t0, t1 = scheduler.timesteps[-T0 - 1].item(), scheduler.timesteps[-T1 - 1].item()
    assert (t0, t1) == (401, 701)
    acp = scheduler.alphas_cumprod.double()
    x_ddpm = x1_t0.double() * scale * acp[t0].sqrt()
    warped = t2vz.create_motion_field_and_warp_latents(12.0, 12.0, list(range(1, FRAMES)), x_ddpm.repeat(FRAMES - 1, 1, 1, 1).float())
    generator = torch.Generator().manual_seed(SEED)
    torch.randn(1, 4, 8, 8, generator=generator)  # the draw that made x_T
    eps = torch.randn(FRAMES - 1, 4, 8, 8, generator=generator)
    alpha = torch.prod(scheduler.alphas[t0:t1].double())
    x_t1 = alpha.sqrt() * warped.double() + (1 - alpha).sqrt() * eps.double()
    expected = (x_t1 / acp[t1].sqrt() / scale).float()
    torch.testing.assert_close(init[1:], expected, rtol=1e-4, atol=1e-4)


@pytest.mark.heavy
def test_motion_latents_drive_an_animatediff_model(comfy_host, ckpt, model_files):
    """With a motion module under the cross-frame model, frame 1 is still sampled alone through the guider's model
    (equal to core KSamplerAdvanced on one frame, stopped at t1), and the whole clip samples from there."""
    prompt = base_prompt(ckpt)
    prompt["30"] = {"class_type": "KinemaLoadMotionModule", "inputs": {"model_name": model_files["mm_v2"].name}}
    prompt["31"] = {"class_type": "KinemaApplyMotionModule", "inputs": {
        "model": ["1", 0], "motion_model": ["30", 0], "scale": 1.0, "effect": 1.0, "beta_schedule": "autoselect"}}
    prompt["5"]["inputs"]["model"] = ["31", 0]
    motion_nodes(prompt)
    prompt["11"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["8", 0], "guider": ["6", 0], "sampler": ["7", 0], "sigmas": ["10", 1], "latent_image": ["10", 0]}}
    prompt["12"] = {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}}
    prompt["13"] = {"class_type": "KSamplerAdvanced", "inputs": {
        "model": ["5", 0], "add_noise": "enable", "noise_seed": SEED, "steps": STEPS, "cfg": CFG, "sampler_name": "ddim",
        "scheduler": "ddim_uniform", "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["12", 0],
        "start_at_step": 0, "end_at_step": STEPS - T1 - 1, "return_with_leftover_noise": "enable"}}
    save(prompt, "20", ["10", 0], "t2vz_ad_init")
    save(prompt, "21", ["13", 0], "t2vz_ad_t1")
    save(prompt, "22", ["11", 0], "t2vz_ad_video")
    result = comfy_host.run(prompt)
    init, x1_t1 = latents(comfy_host, result, "t2vz_ad_init"), latents(comfy_host, result, "t2vz_ad_t1")
    video = latents(comfy_host, result, "t2vz_ad_video")
    torch.testing.assert_close(init[:1], x1_t1, rtol=1e-4, atol=1e-4)
    assert video.shape == (FRAMES, 4, 8, 8) and torch.isfinite(video).all()
    assert (video[1:] - video[:1]).abs().amax() > 1e-2


@pytest.mark.heavy
def test_t1_beyond_the_schedule_and_a_chunk_of_1_are_refused_with_the_fix(comfy_host, ckpt):
    result = comfy_host.run(motion_nodes(base_prompt(ckpt), steps=20, t0=44, t1=47) | {
        "20": {"class_type": "SaveLatent", "inputs": {"samples": ["10", 0], "filename_prefix": "x"}}})
    assert not result.success
    message = str(result.node_errors or result.error)
    assert "t1=47" in message and "steps=20" in message and "t0=18, t1=19" in message
    result = comfy_host.run(motion_nodes(base_prompt(ckpt), reference_chunk_size=1) | {
        "20": {"class_type": "SaveLatent", "inputs": {"samples": ["10", 0], "filename_prefix": "x"}}})
    assert not result.success and "reference_chunk_size 1" in str(result.node_errors or result.error)


def smoothing_prompt(ckpt: str, strength: float) -> dict:
    prompt = motion_nodes(base_prompt(ckpt))
    prompt["14"] = {"class_type": "SolidMask", "inputs": {"value": 0.0, "width": 64, "height": 64}}
    prompt["15"] = {"class_type": "KinemaBackgroundSmoothing", "inputs": {"masks": ["14", 0], "strength": strength, "motion_x": 12.0, "motion_y": 12.0}}
    for node, sampler, prefix in (("11", ["7", 0], "t2vz_ddim"), ("16", ["15", 0], "t2vz_smooth")):
        prompt[node] = {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["8", 0], "guider": ["6", 0], "sampler": sampler, "sigmas": ["10", 1], "latent_image": ["10", 0]}}
        save(prompt, node + "0", [node, 0], prefix)
    return prompt


@pytest.mark.heavy
def test_background_smoothing_strength_0_is_core_ddim_and_frame_1_is_never_touched(comfy_host, ckpt):
    result = comfy_host.run(smoothing_prompt(ckpt, 0.0))
    assert torch.equal(latents(comfy_host, result, "t2vz_smooth"), latents(comfy_host, result, "t2vz_ddim"))
    result = comfy_host.run(smoothing_prompt(ckpt, 0.6))
    smooth, ddim = latents(comfy_host, result, "t2vz_smooth"), latents(comfy_host, result, "t2vz_ddim")
    torch.testing.assert_close(smooth[0], ddim[0], rtol=1e-5, atol=1e-5)
    assert (smooth[1:] - ddim[1:]).abs().amax() > 1e-3


@pytest.mark.heavy
def test_shared_noise_with_cross_frame_attention_gives_identical_frames(comfy_host, ckpt):
    prompt = base_prompt(ckpt, frames=4)
    prompt["9"] = {"class_type": "KinemaSharedNoise", "inputs": {"noise_seed": SEED}}
    prompt["12"] = {"class_type": "BasicScheduler", "inputs": {"model": ["5", 0], "scheduler": "ddim_uniform", "steps": 3, "denoise": 1.0}}
    prompt["11"] = {"class_type": "SamplerCustomAdvanced", "inputs": {
        "noise": ["9", 0], "guider": ["6", 0], "sampler": ["7", 0], "sigmas": ["12", 0], "latent_image": ["4", 0]}}
    save(prompt, "20", ["11", 0], "t2vz_shared")
    video = latents(comfy_host, comfy_host.run(prompt), "t2vz_shared")
    for f in range(1, 4):
        torch.testing.assert_close(video[f], video[0], rtol=1e-5, atol=1e-5)


@pytest.mark.heavy
def test_anchored_chunks_give_the_unchunked_result(comfy_host, ckpt):
    """Frame f depends only on frames 0 and f, so sampling in anchored chunks changes nothing but memory."""
    prompt = motion_nodes(base_prompt(ckpt, frames=7), steps=4, t0=1, t1=2)
    prompt["9"] = {"class_type": "KinemaAnchoredChunks", "inputs": {"model": ["5", 0], "chunk_size": 3}}
    prompt["16"] = {"class_type": "CFGGuider", "inputs": {"model": ["9", 0], "positive": ["2", 0], "negative": ["3", 0], "cfg": CFG}}
    for node, guider, prefix in (("11", ["6", 0], "t2vz_whole"), ("17", ["16", 0], "t2vz_chunked")):
        prompt[node] = {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["8", 0], "guider": guider, "sampler": ["7", 0], "sigmas": ["10", 1], "latent_image": ["10", 0]}}
        save(prompt, node + "0", [node, 0], prefix)
    result = comfy_host.run(prompt)
    torch.testing.assert_close(latents(comfy_host, result, "t2vz_chunked"), latents(comfy_host, result, "t2vz_whole"), rtol=1e-4, atol=1e-4)


@pytest.mark.heavy
def test_core_context_windows_run_with_cross_frame_attention(comfy_host, ckpt, context_windows_node):
    prompt = base_prompt(ckpt, frames=10)
    prompt["9"] = context_windows_node(["5", 0], 4, 1, context_schedule="standard_static")
    prompt["11"] = {"class_type": "KSampler", "inputs": {
        "model": ["9", 0], "seed": SEED, "steps": 2, "cfg": CFG, "sampler_name": "ddim", "scheduler": "ddim_uniform",
        "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0], "denoise": 1.0}}
    save(prompt, "20", ["11", 0], "t2vz_windows")
    assert latents(comfy_host, comfy_host.run(prompt), "t2vz_windows").shape == (10, 4, 8, 8)


# -- the patch inside ComfyUI's real SD1.5 UNet ---------------------------------------------
def cross_frame(model, **options):
    from kinema.nodes.text2video_zero_nodes import CrossFrameAttention

    return CrossFrameAttention.execute(model, options.get("anchor", 0), options.get("previous", False)).args[0]


@pytest.mark.heavy
def test_in_the_unet_frame_f_depends_only_on_frames_0_and_f(sd15):
    model = cross_frame(sd15)
    x = frames_in(4)
    base = unet(model, x, [0])
    for changed in (0, 2):
        y = x.clone()
        y[changed] += 0.5
        out = unet(model, y, [0])
        for f in range(4):
            assert (not torch.equal(out[f], base[f])) == (changed in (0, f)), (changed, f)


@pytest.mark.heavy
def test_in_the_unet_one_frame_is_the_plain_model_and_uncond_never_reaches_cond(sd15):
    model = cross_frame(sd15)
    x = frames_in(1)
    assert torch.equal(unet(model, x, [0]), unet(sd15, x, [0]))
    x = frames_in(6)  # [cond 3 frames; uncond 3 frames]
    y = x.clone()
    y[3:] = frames_in(3, seed=9)
    a, b = unet(model, x, [0, 1]), unet(model, y, [0, 1])
    assert torch.equal(a[:3], b[:3]) and not torch.equal(a[3:], b[3:])
    # cond and uncond in separate passes give the joint pass's frames
    torch.testing.assert_close(unet(model, x[:3], [0]), a[:3], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(unet(model, x[3:], [1]), a[3:], rtol=1e-4, atol=1e-4)


@pytest.mark.heavy
def test_stacks_with_animatediff_and_with_itself(sd15, model_files):
    from kinema.comfy_glue.patcher import wrap_in_patcher
    from kinema.motion_modules.formats import load_motion_module
    from kinema.motion_modules.injection import MotionSettings
    from kinema.nodes.motion_attach import attach_motion_modules

    motion_set, _ = load_motion_module(model_files["mm_v2"])
    animated = attach_motion_modules(sd15, wrap_in_patcher(motion_set.float()), MotionSettings(pe_length=32))
    x = frames_in(4)
    both = unet(cross_frame(animated), x, [0])
    assert not torch.equal(both, unet(animated, x, [0])) and not torch.equal(both, unet(cross_frame(sd15), x, [0]))
    # applying the node twice replaces our patch instead of stacking a second one
    from kinema.nodes.text2video_zero_nodes import FEATURE_KEY

    twice = cross_frame(cross_frame(sd15, anchor=1))
    patches = twice.model_options["transformer_options"]["patches"]["attn1_patch"]
    assert len(patches) == 1 and patches[0].feature(FEATURE_KEY).anchor == 0


def self_attention_batches(patcher, x: torch.Tensor, cond_or_uncond: list[int]) -> tuple[torch.Tensor, set[tuple[int, int]]]:
    """The UNet output, and (query batch, key batch) of every self-attention call (seen through ComfyUI's attention override)."""
    seen = set()

    def record(attention, q, k, v, *args, **kwargs):
        if k.shape[1] != 77:  # not cross-attention to the prompt
            seen.add((q.shape[0], k.shape[0]))
        return attention(q, k, v, *args, **kwargs)

    return unet(patcher, x, cond_or_uncond, optimized_attention_override=record), seen


@pytest.mark.heavy
def test_keys_and_values_are_never_copied_per_frame_and_other_nodes_replacements_keep_their_layers(sd15):
    """The anchor's K/V once per chunk: folded into one query sequence when nothing else sees the layout, else through our
    attn1 replacement from the projected keys (a later pack's patch then sees one row per frame); another node's
    replacement of a block (PAG-like) keeps that block."""
    x = frames_in(6)  # [cond 3 frames; uncond 3 frames]
    model = cross_frame(sd15)
    folded, batches = self_attention_batches(model, x, [0, 1])
    assert batches == {(2, 2)}, "one query sequence per guidance chunk"

    rows_seen = set()

    def later_patch(n, context, value, extra_options):
        rows_seen.add(n.shape[0])
        return n, context, value

    after_ours = model.clone()
    after_ours.set_model_attn1_patch(later_patch)  # a later pack's patch expects one row per frame
    replaced_route, batches = self_attention_batches(after_ours, x, [0, 1])
    assert rows_seen == {6} and batches == {(2, 2)}, "the later patch sees frames; the keys still come once per chunk"
    torch.testing.assert_close(replaced_route, folded, rtol=1e-4, atol=1e-4)

    pag_calls = []

    def pag_like(q, k, v, extra_options):
        pag_calls.append(q.shape[0])
        return v

    replaced = model.clone()
    replaced.set_model_attn1_replace(pag_like, "middle", 0)  # keyed by the block, as PAG does: ours hands it the call
    _, batches = self_attention_batches(replaced, x, [0, 1])
    assert pag_calls == [6] and batches == {(2, 2)}, "PAG's layer as PAG has it; the other layers still fold"
    before_ours = cross_frame(after_ours)  # ours re-applied: last again
    assert self_attention_batches(before_ours, x, [0, 1])[1] == {(2, 2)}


# -- ControlNet -------------------------------------------------------------------------------
@pytest.mark.heavy
def test_cross_frame_controlnet_couples_frames_to_the_anchor_only(comfy_host, sd15, model_files):
    import comfy.controlnet

    from kinema.nodes.text2video_zero_nodes import CrossFrameControlNet

    plain = comfy.controlnet.load_controlnet(str(model_files["controlnet_sd15_canny"]))
    ours = CrossFrameControlNet.execute(plain, 0, False).args[0]
    x = frames_in(4)
    y = x.clone()
    y[0] += 0.5  # change the anchor frame only
    base_plain, base_ours = control_outputs(plain, sd15, x, 1), control_outputs(ours, sd15, x, 1)
    moved_plain, moved_ours = control_outputs(plain, sd15, y, 1), control_outputs(ours, sd15, y, 1)
    assert torch.equal(moved_plain[1:], base_plain[1:]), "the core ControlNet treats frames independently"
    assert all(not torch.equal(moved_ours[f], base_ours[f]) for f in range(1, 4)), "patched: every frame follows the anchor"
    y = x.clone()
    y[2] += 0.5
    moved = control_outputs(ours, sd15, y, 1)
    assert [not torch.equal(moved[f], base_ours[f]) for f in range(4)] == [False, False, True, False]
    # two guidance chunks: the uncond chunk never reaches the cond chunk; the plain ControlNet is unchanged after all this
    x2 = frames_in(6)
    y2 = x2.clone()
    y2[3:] = frames_in(3, seed=9)
    assert torch.equal(control_outputs(ours, sd15, x2, 2)[:3], control_outputs(ours, sd15, y2, 2)[:3])
    assert torch.equal(control_outputs(plain, sd15, x, 1), base_plain)


@pytest.mark.heavy
def test_inside_a_window_the_cross_frame_controlnet_sees_that_windows_control_images(comfy_host, sd15, model_files):
    """Core 0.3.75 hands every context window (and anchored chunk) the clip's first control images."""
    import comfy.context_windows
    import comfy.controlnet

    from kinema.nodes.text2video_zero_nodes import CrossFrameControlNet

    ours = CrossFrameControlNet.execute(comfy.controlnet.load_controlnet(str(model_files["controlnet_sd15_canny"])), 0, False).args[0]
    hints = torch.rand(5, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    x = frames_in(3)
    text = torch.randn(1, 77, 768, generator=torch.Generator().manual_seed(0)).expand(3, -1, -1)

    def control(images, options):
        import comfy.model_management

        applied = ours.copy().set_cond_hint(images, 1.0)
        applied.pre_run(sd15.model, lambda percent: sd15.model.model_sampling.percent_to_sigma(percent))
        comfy.model_management.load_models_gpu(applied.get_models())
        try:
            with torch.inference_mode():
                out = applied.get_control(x, torch.full((3,), 3.0), {"c_crossattn": text}, 1, options)
        finally:
            applied.cleanup()
        return torch.cat([t.flatten(1) for part in out.values() for t in part if t is not None], dim=1)

    from kinema.comfy_glue.context_windows import index_list_window

    window = index_list_window([0, 3, 4], total_frames=5)
    in_window = control(hints, {"context_window": window})
    assert torch.equal(in_window, control(hints[[0, 3, 4]], {}))
    assert not torch.equal(in_window, control(hints[:3], {})), "the first three images would be core's choice"


@pytest.mark.heavy
def test_all_frames_attention_in_the_real_unet_gives_the_same_output_on_every_route(sd15):
    """Folded, through our replacement (a later pack's patch), and per-frame copies (a call with no route): one result."""
    from kinema.frame_attention import AllFramesStrategy
    from kinema.nodes.frame_attention_binding import apply_feature

    x = frames_in(6)
    model = apply_feature(sd15, "controlvideo", AllFramesStrategy())
    folded, batches = self_attention_batches(model, x, [0, 1])
    assert batches == {(2, 2)}
    later = model.clone()
    later.set_model_attn1_patch(lambda n, context, value, extra_options: (n, context, value))
    replaced, batches = self_attention_batches(later, x, [0, 1])
    assert batches == {(2, 2)}, "keys once per chunk"
    torch.testing.assert_close(replaced, folded, rtol=1e-4, atol=1e-4)
    copied = unet(model, x, [0, 1], wrappers={})  # no wrappers: no route, so every frame gets its own copy of the sources
    torch.testing.assert_close(copied, folded, rtol=1e-4, atol=1e-4)
    plain = unet(sd15, x, [0, 1])
    assert not torch.allclose(folded, plain, atol=1e-3)
    single = unet(model, x[:1], [0])
    torch.testing.assert_close(single, unet(sd15, x[:1], [0]), rtol=1e-5, atol=1e-5)
