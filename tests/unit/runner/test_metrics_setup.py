"""--metrics --clip-vision: which CLIP vision model measures CLIP consistency, decided before any job runs."""

from __future__ import annotations

import pytest

from kinema.runner import cli
from kinema.runner.metrics_setup import NO_MODEL, choose_clip_vision, chosen_clip_vision

INSTALLED = ["clip_vision_l.safetensors"]


def test_the_only_installed_model_is_used_without_the_option():
    assert choose_clip_vision(None, INSTALLED, embedded=True) == "clip_vision_l.safetensors"


def test_nothing_installed_or_none_asked_for_leaves_clip_out():
    assert choose_clip_vision(None, [], embedded=True) is None
    assert choose_clip_vision(NO_MODEL, INSTALLED, embedded=True) is None
    assert choose_clip_vision(NO_MODEL, [], embedded=False) is None


def test_a_named_model_must_be_installed_and_the_sentence_lists_what_is():
    assert choose_clip_vision("b.safetensors", ["a.safetensors", "b.safetensors"], embedded=True) == "b.safetensors"
    with pytest.raises(ValueError) as refused:
        choose_clip_vision("missing.safetensors", INSTALLED, embedded=True)
    message = str(refused.value)
    assert "--clip-vision 'missing.safetensors'" in message and "models/clip_vision" in message
    assert "installed: clip_vision_l.safetensors" in message and "'none'" in message


def test_several_installed_models_need_a_choice():
    with pytest.raises(ValueError, match=r"2 CLIP vision models are installed \(a.safetensors, b.safetensors\); choose .*"
                                         r"--clip-vision NAME, or --clip-vision none"):
        choose_clip_vision(None, ["a.safetensors", "b.safetensors"], embedded=True)


def test_servers_and_ray_cannot_measure_a_named_model_and_say_what_to_do_instead():
    assert choose_clip_vision(None, [], embedded=False) is None  # warp error and SSIM only
    with pytest.raises(ValueError) as refused:
        choose_clip_vision("clip_vision_l.safetensors", [], embedded=False)
    message = str(refused.value)
    assert "with --server or --ray ComfyUI runs elsewhere" in message
    assert "Video Consistency Metrics (Kinema)" in message and "embedded" in message


def test_the_option_without_metrics_is_refused():
    with pytest.raises(ValueError, match="--clip-vision x.safetensors: it chooses the model for --metrics; add --metrics"):
        chosen_clip_vision(False, "x.safetensors", embedded=True)
    assert chosen_clip_vision(False, None, embedded=True) is None


def test_the_command_line_takes_the_option():
    args = cli.parse_args(["w.json", "--metrics", "--clip-vision", "none"])
    assert args.metrics and args.clip_vision == NO_MODEL
    assert cli.parse_args(["w.json"]).clip_vision is None
