"""The Interleaved-Frame Smoother inside a real ComfyUI on the full-size random SD1.5 (8 frames, 64x64 px, 5 steps).

(a) with both passes off it is core's "ddim" sampler bit for bit, and out-of-range fractions are refused;
(b) the VAE round trip and the interpolation are the only changes: with the real VAE and a no-op
    interpolator every frame no pass replaces is ddim's exactly; with an identity VAE (a lossless
    VAE-like double of ours) and a no-op interpolator the whole clip is ddim's;
(c) the node runs end to end with the real VAE and the built-in optical-flow interpolator, fires at the
    steps and with the tables of the reference, and reports progress on ComfyUI's progress bar.
"""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

FRAMES, STEPS, CFG, SEED = 8, 5, 7.5, 3
# 5 steps: odd frames at floor(0.6 * 5) = 3; even frames at floor(0.62 * 5) = 3, one step later: 4
ODD_AT_STEP_3 = [(1, 0, 2), (3, 2, 4), (5, 4, 6)]
EVEN_AT_STEP_4 = [(0, 0, 1), (2, 1, 3), (4, 3, 5), (6, 5, 7)]


@pytest.fixture(scope="module")
def ckpt(model_files) -> str:
    return model_files["sd15"].name


def prompt_with_both_samplers(ckpt: str, **smoother_inputs) -> dict:
    """One graph sampling the same noise twice: core's ddim (SaveLatent "ism_ddim") and the smoother ("ism_smooth")."""
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "a boat on a lake"}},
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["1", 1], "text": "blurry"}},
        "4": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": FRAMES}},
        "5": {"class_type": "CFGGuider", "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "cfg": CFG}},
        "6": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "ddim_uniform", "steps": STEPS, "denoise": 1.0}},
        "7": {"class_type": "RandomNoise", "inputs": {"noise_seed": SEED}},
        "8": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "ddim"}},
        "9": {"class_type": "KinemaInterleavedFrameSmoother", "inputs": {
            "vae": ["1", 2], "odd_frames_at": 0.6, "even_frames_at": 0.62, "decode_batch": 3, **smoother_inputs}},
    }
    for node, sampler, prefix in (("10", ["8", 0], "ism_ddim"), ("11", ["9", 0], "ism_smooth")):
        prompt[node] = {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["7", 0], "guider": ["5", 0], "sampler": sampler, "sigmas": ["6", 0], "latent_image": ["4", 0]}}
        prompt[node + "0"] = {"class_type": "SaveLatent", "inputs": {"samples": [node, 0], "filename_prefix": prefix}}
    return prompt


def saved(comfy_host, result, prefix: str) -> torch.Tensor:
    assert result.success, result.describe_failure()
    entries = [entry for output in result.outputs.values() for entry in output.get("latents", [])]
    entry = next(e for e in entries if e["filename"].startswith(prefix))
    return load_file(str(comfy_host.paths.output / entry.get("subfolder", "") / entry["filename"]))["latent_tensor"]


def firings(records) -> list[tuple[int, str, list[tuple[int, int, int]]]]:
    """The smoother's firings as logged (ComfyUI imports the pack under a name of its own, so the logger's name varies)."""
    return [(r.kinema_firing.step, r.kinema_firing.phase, [tuple(p) for p in r.kinema_firing.replacements])
            for r in records if hasattr(r, "kinema_firing")]


@pytest.mark.heavy
def test_with_both_passes_past_the_schedule_it_is_core_ddim_bit_for_bit(comfy_host, ckpt, caplog):
    with caplog.at_level(logging.INFO):
        result = comfy_host.run(prompt_with_both_samplers(ckpt, odd_frames_at=1.0, even_frames_at=1.0))
    assert torch.equal(saved(comfy_host, result, "ism_smooth"), saved(comfy_host, result, "ism_ddim"))
    assert firings(caplog.records) == [] and "skipped" not in caplog.text  # 1.0 is off on purpose: no warning
    for name in ("odd_frames_at", "even_frames_at"):
        prompt = prompt_with_both_samplers(ckpt, **{name: 1.5})
        del prompt["10"], prompt["100"]  # only the smoother's output: ComfyUI runs the valid outputs of a prompt
        result = comfy_host.run(prompt)
        assert not result.success
        message = str(result.node_errors or result.error)
        assert f"{name} is 1.5, outside 0..1.0" in message and "Set a value from 0 to 1.0" in message


@pytest.mark.heavy
def test_end_to_end_with_the_real_vae_and_the_optical_flow_interpolator(comfy_host, ckpt, caplog):
    import comfy.utils

    reported = []
    previous = comfy.utils.PROGRESS_BAR_HOOK
    comfy.utils.set_progress_bar_global_hook(lambda value, total, preview, **ids: reported.append((value, total)))
    try:
        with caplog.at_level(logging.INFO):
            result = comfy_host.run(prompt_with_both_samplers(ckpt))  # interpolator unconnected: optical flow
    finally:
        comfy.utils.set_progress_bar_global_hook(previous)
    smooth, ddim = saved(comfy_host, result, "ism_smooth"), saved(comfy_host, result, "ism_ddim")
    assert firings(caplog.records) == [(3, "odd", ODD_AT_STEP_3), (4, "even", EVEN_AT_STEP_4)]
    assert smooth.shape == ddim.shape == (FRAMES, 4, 8, 8) and torch.isfinite(smooth).all()
    assert (smooth - ddim).abs().amax() > 1e-3
    # per firing: frames decoded + pairs interpolated + frames encoded (odd 4 + 3 + 3, even 5 + 4 + 4), each reaching its total
    for total in (10, 13):
        assert (total, total) in reported, reported


class IdentityVAE:
    """A VAE-like double: latents [n, 4, h, w] <-> images [n, 2h, 2w, 3] losslessly (each latent channel is one
    pixel of a 2x2 block, repeated over RGB), so decode then encode gives the latents back bit for bit."""

    latent_dim = 2

    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        # [n, 4, h, w] -> [n, 1, 2h, 2w] -> [n, 2h, 2w, 1] -> [n, 2h, 2w, 3]
        return F.pixel_shuffle(latents, 2).movedim(1, -1).expand(-1, -1, -1, 3)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        # [n, 2h, 2w, 3] -> [n, 1, 2h, 2w] -> [n, 4, h, w]
        return F.pixel_unshuffle(images[..., :1].movedim(-1, 1), 2)


class NoOpInterpolator:
    """Returns, for each pair, ``vae``'s image of the frame that pair is about to replace: smoothing changes nothing
    but what the VAE round trip changes. It learns the targets from the smoother's firing log (written before a
    firing runs) and the prediction from a post-CFG hook on the model (what the sampler function receives)."""

    name = "no-op"

    def __init__(self, vae, to_vae, caplog) -> None:
        self.vae, self.to_vae, self.caplog = vae, to_vae, caplog
        self.prediction, self.firings_seen, self.pending = None, 0, []

    def observe(self, args: dict) -> torch.Tensor:
        self.prediction = args["denoised"]
        return args["denoised"]

    def __call__(self, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
        logged = [r.kinema_firing for r in self.caplog.records if hasattr(r, "kinema_firing")]
        for firing in logged[self.firings_seen:]:
            self.pending.extend(pair.target for pair in firing.replacements)
        self.firings_seen = len(logged)
        targets, self.pending = self.pending[:len(first)], self.pending[len(first):]
        return self.vae.decode(self.to_vae(self.prediction[targets]))


@pytest.fixture(scope="module")
def loaded(call_node, ckpt, free_in_process_models):
    """(model, positive, negative, real VAE) from core's own checkpoint loader and text encoder."""
    free_in_process_models()  # the prompts above hold a copy of SD1.5 in the host's cache: one copy at a time
    model, clip, vae = call_node("CheckpointLoaderSimple", ckpt_name=ckpt)[:3]
    positive = call_node("CLIPTextEncode", clip=clip, text="a boat on a lake")[0]
    negative = call_node("CLIPTextEncode", clip=clip, text="blurry")[0]
    return model, positive, negative, vae


def sample(call_node, loaded, sampler, post_cfg=None) -> torch.Tensor:
    """Core SamplerCustomAdvanced with CFGGuider, ddim_uniform sigmas and RandomNoise; ``post_cfg`` observes each prediction."""
    model, positive, negative, _ = loaded
    if post_cfg is not None:
        model = model.clone()
        model.set_model_sampler_post_cfg_function(post_cfg)
    guider = call_node("CFGGuider", model=model, positive=positive, negative=negative, cfg=CFG)[0]
    sigmas = call_node("BasicScheduler", model=model, scheduler="ddim_uniform", steps=STEPS, denoise=1.0)[0]
    noise = call_node("RandomNoise", noise_seed=SEED)[0]
    latent = {"samples": torch.zeros(FRAMES, 4, 8, 8)}
    with torch.inference_mode():  # as ComfyUI's executor runs nodes
        return call_node("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler, sigmas=sigmas,
                         latent_image=latent)[0]["samples"]


@pytest.fixture(scope="module")
def ddim(call_node, loaded) -> torch.Tensor:
    return sample(call_node, loaded, call_node("KSamplerSelect", sampler_name="ddim")[0])


def smoother(call_node, vae, interpolator, **fractions):
    inputs = {"odd_frames_at": 0.6, "even_frames_at": 0.62, **fractions}
    return call_node("KinemaInterleavedFrameSmoother", vae=vae, interpolator=interpolator, decode_batch=2, **inputs)[0]


@pytest.mark.heavy
def test_an_identity_vae_and_a_no_op_interpolator_give_core_ddim(call_node, loaded, ddim, caplog):
    to_vae = loaded[0].get_model_object("latent_format").process_out
    no_op = NoOpInterpolator(IdentityVAE(), to_vae, caplog)
    with caplog.at_level(logging.INFO):
        out = sample(call_node, loaded, smoother(call_node, IdentityVAE(), no_op), post_cfg=no_op.observe)
    assert firings(caplog.records) == [(3, "odd", ODD_AT_STEP_3), (4, "even", EVEN_AT_STEP_4)]
    # x0' = process_in(process_out(x0)): equal to fp32 rounding of the latent scale, then carried through one UNet step
    torch.testing.assert_close(out, ddim, rtol=1e-4, atol=1e-4)


@pytest.mark.heavy
def test_with_the_real_vae_and_a_no_op_interpolator_frames_no_pass_replaces_are_core_ddim_exactly(call_node, loaded, ddim, caplog):
    vae = loaded[3]
    no_op = NoOpInterpolator(vae, loaded[0].get_model_object("latent_format").process_out, caplog)
    with caplog.at_level(logging.INFO):
        out = sample(call_node, loaded, smoother(call_node, vae, no_op, even_frames_at=1.0), post_cfg=no_op.observe)
    assert firings(caplog.records) == [(3, "odd", ODD_AT_STEP_3)]
    untouched, replaced = [0, 2, 4, 6, 7], [1, 3, 5]
    assert torch.equal(out[untouched], ddim[untouched])
    assert (out[replaced] - ddim[replaced]).abs().amax() > 1e-4  # the VAE round trip of a random-weight VAE is lossy


def test_a_video_vae_is_refused_with_the_fix(call_node):
    class VideoVAE(IdentityVAE):
        latent_dim = 3

    with pytest.raises(ValueError, match="Interleaved-Frame Smoother: the connected VAE works on 3-D latents.*SD1.5 or SDXL"):
        smoother(call_node, VideoVAE(), None)
