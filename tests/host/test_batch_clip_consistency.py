"""``--metrics`` with a CLIP vision model installed: CLIP consistency of every saved video, the model chosen up front.

The model is the random real-layout ViT-L/14 image encoder (fixtures/clip_vision_files.py, 0.61 GB) in the clip_vision
folder the host registers. Core runs it in fp16, slow on a CPU, so the videos are 3 frames long.
"""

from __future__ import annotations

import json

import pytest
import torch
from manifest_records import latest_records
from metrics_batch import decoded_video, run_metrics_batch, short_clip_workflow

from kinema.runner.manifest import DONE

FIXTURE = "clip_vision_vit_l"
FRAMES = 3


@pytest.fixture(scope="module")
def clip_vision_name(model_files):
    return model_files[FIXTURE].name  # written on first use into the registered clip_vision folder


@pytest.fixture(scope="module")
def clip_batch(comfy_host, home, stand_ins, tmp_path_factory, clip_vision_name):
    """One job, no --clip-vision: the one installed model is used."""
    output = tmp_path_factory.mktemp("clip_metrics") / "batch"
    workflow = short_clip_workflow(output.parent, FRAMES)
    assert run_metrics_batch(comfy_host, home, stand_ins, output, workflow, options=()) == 0
    (record,) = latest_records(output / "manifest.jsonl")
    return record


def test_the_only_installed_model_measures_every_adjacent_pair(clip_batch):
    assert clip_batch["status"] == DONE
    (video,) = clip_batch["outputs"]
    figures = clip_batch["metrics"][video]
    per_pair = figures["per_pair"]["clip_consistency"]
    assert figures["frames"] == FRAMES and len(per_pair) == FRAMES - 1
    assert all(-1.0 <= value <= 1.0 for value in per_pair)
    assert figures["mean"]["clip_consistency"] == pytest.approx(sum(per_pair) / len(per_pair), abs=1e-12)


def test_the_runner_records_what_the_node_measures_with_core_load_clip_vision(clip_batch, call_node, clip_vision_name):
    """Same video frames, same file: the manifest's figures are those of the node fed by core's Load CLIP Vision."""
    (video,) = clip_batch["outputs"]
    (clip_vision,) = call_node("CLIPVisionLoader", clip_name=clip_vision_name)
    *_, clip, _, summary = call_node("KinemaVideoConsistencyMetrics", images=decoded_video(video), clip_vision=clip_vision)
    recorded = clip_batch["metrics"][video]
    assert recorded["per_pair"]["clip_consistency"] == pytest.approx(json.loads(summary)["per_pair"]["clip_consistency"],
                                                                     abs=1e-6)
    assert recorded["mean"]["clip_consistency"] == pytest.approx(clip, abs=1e-6)


def test_core_reads_the_fixture_as_transformers_does(model_files, comfy_host, tmp_path):
    """The fixture's layout is transformers' CLIPVisionModelWithProjection: both load it strictly and embed alike."""
    import comfy.clip_vision
    from safetensors.torch import load_file
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from fixtures.clip_vision_files import VIT_L_14

    path = model_files[FIXTURE]
    core = comfy.clip_vision.load(str(path))
    folder = tmp_path / "transformers_model"  # the file as transformers finds it: config.json + model.safetensors
    CLIPVisionConfig(**VIT_L_14).save_pretrained(folder)
    (folder / "model.safetensors").symlink_to(path)
    reference = CLIPVisionModelWithProjection.from_pretrained(folder, torch_dtype=torch.float32).eval()
    stored = load_file(str(path))
    assert set(stored) == set(reference.state_dict())  # every key, and nothing more
    assert all(reference.state_dict()[key].equal(value.float()) for key, value in stored.items())
    pixels = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(3))  # normalised pixel values
    core.model.float()  # this test's own instance, in fp32 like the reference (core's fp16 on a CPU is slow and looser)
    with torch.no_grad():
        expected = reference(pixel_values=pixels).image_embeds  # [2, 768]
        got = core.model(pixel_values=pixels)[2]  # core's outputs: (last, intermediate, projected, ...)
    assert got.shape == expected.shape == (2, 768)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


def test_a_model_that_is_not_installed_is_refused_before_any_job(comfy_host, home, stand_ins, tmp_path, capsys,
                                                                 clip_vision_name):
    output = tmp_path / "batch"
    workflow = short_clip_workflow(tmp_path, FRAMES)
    assert run_metrics_batch(comfy_host, home, stand_ins, output, workflow,
                             options=("--clip-vision", "clip_vision_h.safetensors")) == 2
    error = capsys.readouterr().err
    assert "--clip-vision 'clip_vision_h.safetensors': no such file in ComfyUI's clip_vision folders" in error
    assert f"installed: {clip_vision_name}" in error
    assert not (output / "manifest.jsonl").exists() and not list(output.rglob("*.mp4"))


def test_a_file_comfyui_does_not_recognise_is_refused_before_any_job(comfy_host, home, stand_ins, tmp_path, capsys,
                                                                     tmp_path_factory, clip_vision_name):
    """A safetensors file of another kind in a clip_vision folder: one sentence naming it, no job run."""
    import folder_paths
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("clip_vision")  # registered for the session: it must outlive this test
    stray = folder / "not_an_image_encoder.safetensors"
    save_file({"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(4, 4)}, str(stray))
    folder_paths.add_model_folder_path("clip_vision", str(folder))  # as extra_model_paths.yaml would
    output = tmp_path / "batch"
    try:
        code = run_metrics_batch(comfy_host, home, stand_ins, output, short_clip_workflow(tmp_path, FRAMES),
                                 options=("--clip-vision", stray.name))
    finally:
        stray.unlink()  # the folder stays registered, empty: the next test sees one model again
    assert code == 2
    error = capsys.readouterr().err
    assert f"{stray} is not an image encoder ComfyUI recognises" in error
    assert not (output / "manifest.jsonl").exists() and not list(output.rglob("*.mp4"))
