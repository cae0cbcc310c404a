"""Video Consistency Metrics inside a real ComfyUI: the node's numbers are measure_video's, the UI text comes through
the executor, and CLIP consistency runs on core's own ClipVisionModel (a tiny random model built in-process from
core's ViT-L config with smaller sizes: a real-layout CLIP vision file is ViT-L/14 or larger, too slow for CI on CPU)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

NODE = "KinemaVideoConsistencyMetrics"
# the tiny model: core's clip_vision_config_vitl.json with these sizes
TINY = {"hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 2, "num_hidden_layers": 2, "image_size": 32,
        "patch_size": 8, "projection_dim": 16}


def pan(frames: int = 5, height: int = 64, width: int = 64) -> torch.Tensor:
    """A smooth random texture panned 2 px right per frame, [frames, height, width, 3] in 0..1."""
    noise = torch.rand(1, 3, height + 8, width + 2 * frames, generator=torch.Generator().manual_seed(0))
    texture = torch.nn.functional.avg_pool2d(noise, 5, stride=1, padding=2)[0].movedim(0, -1)  # [3, h, w] -> [h, w, 3]
    texture = (texture - texture.min()) / (texture.max() - texture.min())
    left = 2 * frames
    return torch.stack([texture[4:4 + height, left - 2 * t:left - 2 * t + width] for t in range(frames)])


@pytest.fixture(scope="module")
def tiny_clip_vision(comfy_host, tmp_path_factory):
    """core's ClipVisionModel (what Load CLIP Vision returns) on a tiny config, with seeded random weights."""
    import comfy.clip_vision

    config = json.loads((Path(comfy.clip_vision.__file__).parent / "clip_vision_config_vitl.json").read_text())
    path = tmp_path_factory.mktemp("clip_vision") / "tiny_vit.json"
    path.write_text(json.dumps({**config, **TINY}))
    model = comfy.clip_vision.ClipVisionModel(str(path))
    generator = torch.Generator().manual_seed(7)
    state = {}
    for key, value in model.get_sd().items():
        if "layer_norm" in key or "layernorm" in key or "layrnorm" in key:
            state[key] = torch.ones(value.shape) if key.endswith(".weight") else torch.zeros(value.shape)
        else:
            state[key] = torch.randn(value.shape, generator=generator) * 0.2
    missing, unexpected = model.load_sd(state)
    assert not missing and not unexpected
    return model


def test_the_node_outputs_what_measure_video_measures(call_node):
    from kinema.video_metrics import measure_video

    frames = pan()
    warp, ssim, clip, plots, summary = call_node(NODE, images=frames)
    expected = measure_video(frames)
    assert warp == pytest.approx(expected.mean_warp_error) and ssim == pytest.approx(expected.mean_ssim)
    assert clip == 0.0  # not measured without a CLIP vision model ...
    data = json.loads(summary)
    assert data["mean"]["clip_consistency"] is None  # ... and the summary says so
    assert data["per_pair"]["ssim"] == pytest.approx(list(expected.ssim))
    assert plots.shape == (2, 240, 400, 3) and plots.dtype == torch.float32
    assert 0.0 <= float(plots.min()) and float(plots.max()) <= 1.0 and float(plots.std()) > 0


def test_through_the_executor_the_numbers_show_on_the_node(comfy_host):
    prompt = {
        "1": {"class_type": "EmptyImage", "inputs": {"width": 48, "height": 32, "batch_size": 3, "color": 0x336699}},
        "2": {"class_type": NODE, "inputs": {"images": ["1", 0]}},  # an output node: runs with nothing connected
    }
    result = comfy_host.run(prompt)
    assert result.success, result.error
    (text,) = result.outputs["2"]["text"]
    assert "3 frames, 48x32 px, 2 adjacent pairs" in text
    assert "warp error: 0.00000" in text and "SSIM: 1.0000" in text and "CLIP consistency: not measured" in text


def test_bad_input_fails_with_the_node_name_and_the_fix(call_node):
    with pytest.raises(ValueError, match="Video Consistency Metrics: .*at least 2 frames; got 1"):
        call_node(NODE, images=pan(frames=1))


def test_clip_consistency_is_the_cosine_of_core_image_embeddings_of_whole_frames(call_node, tiny_clip_vision):
    frames = pan(frames=4, height=48, width=80)  # not square: the whole frame and the centre crop differ
    *_, clip, _, summary = call_node(NODE, images=frames, clip_vision=tiny_clip_vision)
    with torch.no_grad():
        whole = tiny_clip_vision.encode_image(frames, crop=False).image_embeds.double()
        centre = tiny_clip_vision.encode_image(frames, crop=True).image_embeds.double()
    cosines = torch.nn.functional.cosine_similarity(whole[:-1], whole[1:], dim=1)
    assert json.loads(summary)["per_pair"]["clip_consistency"] == pytest.approx(cosines.tolist(), abs=1e-5)
    assert clip == pytest.approx(float(cosines.mean()), abs=1e-5)
    assert not torch.allclose(torch.nn.functional.cosine_similarity(centre[:-1], centre[1:], dim=1), cosines, atol=1e-4)


def test_identical_frames_score_one_and_a_cut_scores_lower(call_node, tiny_clip_vision):
    still = pan(frames=1).expand(3, -1, -1, -1)
    *_, clip_still, _, _ = call_node(NODE, images=still, clip_vision=tiny_clip_vision)
    assert clip_still == pytest.approx(1.0, abs=1e-5)
    cut = torch.cat([still[:2], 1.0 - still[:1]])
    *_, clip_cut, _, summary = call_node(NODE, images=cut, clip_vision=tiny_clip_vision)
    per_pair = json.loads(summary)["per_pair"]["clip_consistency"]
    assert per_pair[0] == pytest.approx(1.0, abs=1e-5) and per_pair[1] < 0.99
