"""Every shipped API workflow validates and executes headless on CPU with random real-layout models."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinema.runner.media import describe_video

API_WORKFLOWS = sorted((Path(__file__).resolve().parents[2] / "workflows" / "api").glob("*.json"))
VIDEO_WORKFLOWS = [path for path in API_WORKFLOWS if '"SaveVideo"' in path.read_text()]  # the comics: test_storydiffusion.py
def _expected_frames(prompt: dict) -> int:
    """The latent batch size, or for vid2vid the frame count of the sample clip."""
    from fixtures.sample_inputs import SAMPLE_FRAMES

    empty = [node["inputs"]["batch_size"] for node in prompt.values() if node["class_type"] == "EmptyLatentImage"]
    return empty[0] if empty else SAMPLE_FRAMES


def _fps(prompt: dict) -> float:
    """CreateVideo's fps, or the sample clip's when it is wired to the source video."""
    from fixtures.sample_inputs import SAMPLE_FPS

    fps = next(node["inputs"]["fps"] for node in prompt.values() if node["class_type"] == "CreateVideo")
    return SAMPLE_FPS if isinstance(fps, list) else fps


@pytest.mark.heavy
@pytest.mark.parametrize("path", VIDEO_WORKFLOWS, ids=lambda p: p.stem)
def test_workflow_writes_the_video_it_promises(run_small, cpu_run_overrides, path):
    # CPU-sized (tests/conftest.py): 64x64 px, few steps; long videos still span several context windows
    result, prompt = run_small(path, **cpu_run_overrides(path.stem))
    assert result.success, result.describe_failure()
    videos = [f for f in result.files if f.suffix == ".mp4"]
    assert len(videos) == 1, result.files
    facts = describe_video(videos[0])
    assert (facts.frames, facts.width, facts.height) == (_expected_frames(prompt), 64, 64), facts
    assert float(facts.fps) == pytest.approx(_fps(prompt)), facts


def test_validation_errors_come_back_verbatim_with_the_node(comfy_host, model_files):
    prompt = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": model_files["sd15"].name}},
        "2": {"class_type": "KinemaLoadMotionModule", "inputs": {"model_name": "no-such-module.ckpt"}},
        "3": {"class_type": "KinemaApplyMotionModule",
              "inputs": {"model": ["1", 0], "motion_model": ["2", 0], "scale": 1.0, "effect": 1.0, "beta_schedule": "autoselect"}},
        "4": {"class_type": "CheckpointSave", "inputs": {"model": ["3", 0], "clip": ["1", 1], "vae": ["1", 2], "filename_prefix": "x"}},
    }
    result = comfy_host.run(prompt)
    assert not result.success
    assert result.error["type"] == "prompt_outputs_failed_validation"
    assert result.node_errors["2"]["class_type"] == "KinemaLoadMotionModule"
    assert "no-such-module.ckpt" in str(result.node_errors["2"]["errors"])
    assert "node 2 (KinemaLoadMotionModule)" in result.describe_failure()


@pytest.mark.heavy
def test_more_frames_than_the_module_covers_is_refused_before_sampling(run_small):
    path = next(p for p in API_WORKFLOWS if p.stem == "animatediff_txt2vid_sd15")
    result, _ = run_small(path, batch_size=40)
    assert not result.success
    assert result.error["node_type"] == "KSampler"
    message = result.error["exception_message"]
    assert "40 frames exceed" in message and "limit of 32" in message and "Context Windows (Manual)" in message
    assert "execution_error" not in message
    assert result.node_seconds.get("7", 0.0) < 5.0, "the refusal should come before any sampling step"


def _apply_prompt(ckpt_name: str, module_name: str) -> dict:
    return {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt_name}},
        "2": {"class_type": "KinemaLoadMotionModule", "inputs": {"model_name": module_name}},
        "3": {"class_type": "KinemaApplyMotionModule",
              "inputs": {"model": ["1", 0], "motion_model": ["2", 0], "scale": 1.0, "effect": 1.0, "beta_schedule": "autoselect"}},
        "4": {"class_type": "CheckpointSave", "inputs": {"model": ["3", 0], "clip": ["1", 1], "vae": ["1", 2], "filename_prefix": "x"}},
    }


@pytest.fixture
def motion_folder(tmp_path):
    """An extra animatediff_models folder for this test only."""
    import folder_paths

    folder = tmp_path / "animatediff_models"
    folder.mkdir()
    paths = folder_paths.folder_names_and_paths["animatediff_models"][0]
    paths.append(str(folder))
    yield folder
    paths.remove(str(folder))


def test_an_html_page_saved_as_ckpt_fails_in_the_loader_node_with_the_file_named(comfy_host, model_files, motion_folder):
    (motion_folder / "mm_sd_v15_v2.ckpt").write_text("<!DOCTYPE html><html><body>Sign in to download</body></html>")
    result = comfy_host.run(_apply_prompt(model_files["sd15"].name, "mm_sd_v15_v2.ckpt"))
    assert not result.success
    assert result.error["node_type"] == "KinemaLoadMotionModule"
    message = result.error["exception_message"]
    assert "mm_sd_v15_v2.ckpt" in message and "HTML" in message


@pytest.mark.heavy
def test_an_sd15_motion_module_is_refused_on_an_sdxl_model(comfy_host, model_files):
    result = comfy_host.run(_apply_prompt(model_files["sdxl"].name, model_files["mm_v2"].name))
    assert not result.success
    assert result.error["node_type"] == "KinemaApplyMotionModule"
    message = result.error["exception_message"]
    assert model_files["mm_v2"].name in message and "SDXL" in message and "channels" in message


@pytest.mark.heavy
def test_a_v2_motion_lora_on_an_sdxl_module_is_refused_in_apply_motion_module(comfy_host, model_files):
    """ComfyUI would patch the LoRA weights that happen to fit (about 120 of 168) and only log the rest."""
    prompt = _apply_prompt(model_files["sdxl"].name, model_files["mm_sdxl"].name)  # the loader's output is cached from above
    prompt["5"] = {"class_type": "KinemaLoadMotionLora", "inputs": {"lora_name": model_files["motion_lora_v2"].name, "strength": 1.0}}
    prompt["3"]["inputs"]["motion_lora"] = ["5", 0]
    result = comfy_host.run(prompt)
    assert not result.success
    assert result.error["node_type"] == "KinemaApplyMotionModule"
    message = result.error["exception_message"]
    assert f"motion LoRA {model_files['motion_lora_v2'].name!r} was made for another motion module type" in message
    assert model_files["mm_sdxl"].name in message and "of its 168 weights do not fit" in message
    assert "Use a motion LoRA made for this module" in message
