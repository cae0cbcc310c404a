"""StoryDiffusion inside a real ComfyUI on the full-size random SD1.5 (64x64 px): consistent self-attention in the UNet
(REFERENCE section 4 checks), the bank against the formula, same seed same bits through KSampler, errors before
sampling, and the SD1.5 comic workflow end to end."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from PIL import Image

from host_calls import frames_in, unet

CHARACTERS = "[Ann] a woman in a red coat"
STORY = "[Ann] at a station\n[Ann] on a train\n[Ann] in the rain #Rain.\n[NC] a harbour at night"
SIGMAS = torch.tensor([8.0, 3.0, 1.0, 0.0])
# the SDXL comic runs end to end through the batch runner's CLI (test_batch_runner.py); once is enough for CI's time
COMIC_WORKFLOWS = [Path(__file__).resolve().parents[2] / "workflows" / "api" / "storydiffusion_comic_sd15.json"]


def story(id_length: int = 2, text: str = STORY):
    from kinema.storydiffusion import parse_story

    return parse_story(CHARACTERS, text, id_length)


def consistent(model, parsed, sa: float = 0.5, gate: float = 1.0, keep_bank: bool = False):
    from kinema.nodes.storydiffusion_nodes import ConsistentSelfAttentionNode

    return ConsistentSelfAttentionNode.execute(model, parsed, sa, sa, gate, gate, 20, keep_bank, True, 8.0).args


def at_step(patcher, x: torch.Tensor, step: int, cond_or_uncond=(1, 0), seed: int = 3) -> torch.Tensor:
    """One UNet call of a sampling run at ``step`` of SIGMAS (the run's state as the binding's wrapper makes it)."""
    from kinema.frame_attention import RUN_OPTION, RunState
    from kinema.nodes.frame_attention_binding import model_patch

    patch = model_patch(patcher)
    run = RunState(seed=seed, banks=patch.banks if patch is not None else {})
    return unet(patcher, x, list(cond_or_uncond), sigmas=SIGMAS[step:step + 1], sample_sigmas=SIGMAS,
                **{RUN_OPTION: run})


@pytest.mark.heavy
def test_in_the_unet_the_reference_checks_hold(sd15):
    x = frames_in(8)  # two chunks (uncond, cond) of four panels: two identity images, a panel reading them, an [NC] panel
    plain = at_step(sd15, x, 1)
    model, _ = consistent(sd15, story())
    out = at_step(model, x, 1)
    assert torch.equal(at_step(consistent(sd15, story(), sa=0.0)[0], x, 1), plain), "sa = 0 is ordinary attention exactly"
    assert torch.equal(at_step(model, x, 0), at_step(sd15, x, 0)), "step 0 is plain"
    for frame in (0, 1, 2):
        assert not torch.allclose(out[4 + frame], plain[4 + frame], atol=1e-4), f"panel {frame} takes part"
    torch.testing.assert_close(out[7], plain[7], rtol=1e-5, atol=1e-5)  # the [NC] panel is ordinary generation
    single = at_step(consistent(sd15, story(id_length=1))[0], x, 1)
    torch.testing.assert_close(single[[4, 7]], plain[[4, 7]], rtol=1e-5, atol=1e-5)  # one identity image: ordinary
    moved = x.clone()
    moved[:4] += 0.5  # the uncond chunk
    assert torch.equal(at_step(model, moved, 1)[4:], out[4:]), "uncond never changes cond"


@pytest.mark.heavy
def test_the_bank_holds_what_the_formula_says_and_the_run_logs_it(sd15, caplog):
    from kinema.frame_attention import RunState
    from kinema.storydiffusion import SD15_LAYERS, expected_bank_bytes

    model, character_bank = consistent(sd15, story(text="[Ann] at a station\n[Ann] on a train"), sa=1.0, keep_bank=True)
    for step in range(3):
        at_step(model, frames_in(4), step)
    expected = expected_bank_bytes(SD15_LAYERS, {32: 1.0, 16: 1.0}, 64, 64, steps=3, identity_images=2, element_bytes=4)
    assert character_bank.bank.nbytes == expected
    from kinema.nodes.frame_attention_binding import _log_banks

    with caplog.at_level(logging.INFO):
        _log_banks(RunState(seed=0, banks={"kinema_storydiffusion": character_bank.bank}))
    assert f"{expected / 2**20:.1f} MiB" in caplog.text


@pytest.mark.heavy
def test_the_same_seed_gives_the_same_bits_through_ksampler_and_a_video_reads_the_bank(sd15, call_node):
    from kinema.nodes.storydiffusion_nodes import ConsistentCharacter

    model, character_bank = consistent(sd15, story(), gate=0.7, keep_bank=True)
    text = torch.randn(4, 77, 768, generator=torch.Generator().manual_seed(5))
    positive, negative = [[text, {}]], [[torch.zeros(1, 77, 768), {}]]
    latent = {"samples": torch.zeros(4, 4, 8, 8)}

    def sample(patched, seed: int, batch: dict = latent, cond=positive):
        return call_node("KSampler", model=patched, seed=seed, steps=3, cfg=5.0, sampler_name="ddim", scheduler="ddim_uniform",
                         positive=cond, negative=negative, latent_image=batch, denoise=1.0)[0]["samples"]

    first = sample(model, 1)
    sample(sd15, 2)
    assert torch.equal(sample(model, 1), first)
    assert not torch.equal(sample(sd15, 1), first)
    video = ConsistentCharacter.execute(sd15, character_bank, {"samples": first}, "Ann").args[0]
    frames = {"samples": torch.zeros(3, 4, 8, 8)}
    held = sample(video, 4, frames, [[text[:1], {}]])
    assert not torch.equal(held, sample(sd15, 4, frames, [[text[:1], {}]])), "the video frames read the identity bank"
    with pytest.raises(ValueError, match="'Bob' has no identity images"):
        ConsistentCharacter.execute(sd15, character_bank, {"samples": first}, "Bob")


def test_a_story_error_names_the_line_before_anything_runs(comfy_host, model_files):
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model_files["sd15"].name}},
        "2": {"class_type": "KinemaStoryPrompts", "inputs": {
            "clip": ["1", 1], "characters": CHARACTERS, "story": "[Ann] at a station\n[Ann] on a train\n[Bob] waves",
            "style": "(No style)", "negative": "", "id_length": 2, "width": 64, "height": 64}},
        "3": {"class_type": "KinemaComicPages", "inputs": {"images": ["4", 0], "story": ["2", 3], "layout": "Four Panel", "seed": 0}},
        "4": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 3, "color": 0}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
    result = comfy_host.run(prompt)
    assert not result.success and result.error["type"] == "prompt_outputs_failed_validation"
    errors = str(result.node_errors["2"]["errors"])
    assert "line 3" in errors and "Bob" in errors and "Ann" in errors


@pytest.mark.heavy
@pytest.mark.parametrize("path", COMIC_WORKFLOWS, ids=lambda p: p.stem)
def test_a_comic_workflow_writes_every_panel_and_its_pages(run_small, cpu_run_overrides, path):
    result, prompt = run_small(path, **cpu_run_overrides(path.stem))
    assert result.success, result.describe_failure()
    panels = sorted(f for f in result.files if "_panel" in f.name)
    pages = sorted(f for f in result.files if "_page" in f.name)
    assert len(panels) == 7 and all(Image.open(f).size == (64, 64) for f in panels), result.files
    # Four Panel: 7 panels padded to 8, two 2x2 pages of bordered 64-px panels (10-px borders)
    assert len(pages) == 2 and all(Image.open(f).size == (2 * 64 + 40, 2 * 64 + 40) for f in pages), result.files
    border = torch.tensor(list(Image.open(pages[1]).convert("RGB").getdata())).view(168, 168, 3)
    assert (border[:10] == 255).all() and (border[-84:, -84:] == 255).all(), "white borders and a white padding panel"

