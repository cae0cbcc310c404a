"""ControlVideo inside a real ComfyUI on the full-size random SD1.5 (64x64 px): fully cross-frame attention in the UNet
and the ControlNet, clip passes of the hierarchical sampler, and the hierarchical sampler through core sampling."""

from __future__ import annotations

import pytest
import torch

from host_calls import control_outputs, frames_in, unet

CFG = 7.5


def fully_cross_frame(model):
    from kinema.nodes.controlvideo_nodes import FullyCrossFrameAttention

    return FullyCrossFrameAttention.execute(model).args[0]


def long_video(model, window: int, clip_attends_to: str = "both key frames"):
    from kinema.nodes.controlvideo_nodes import HierarchicalLongVideo

    return HierarchicalLongVideo.execute(model, window, clip_attends_to).args[0]


def changed_frames(patcher, x: torch.Tensor, frame: int, **options) -> list[bool]:
    """Which frames' outputs change when ``frame``'s input does (one guidance chunk)."""
    moved = x.clone()
    moved[frame] += 0.5
    base, out = unet(patcher, x, [0], **options), unet(patcher, moved, [0], **options)
    return [not torch.equal(out[f], base[f]) for f in range(x.shape[0])]


@pytest.mark.heavy
def test_in_the_unet_every_frame_sees_every_frame_and_one_frame_is_the_plain_model(sd15):
    model = fully_cross_frame(sd15)
    x = frames_in(4)
    assert changed_frames(model, x, 2) == [True] * 4
    torch.testing.assert_close(unet(model, x[:2], [0, 1]), unet(sd15, x[:2], [0, 1]), rtol=1e-5, atol=1e-5)  # a frame per chunk
    order = torch.tensor([2, 0, 3, 1])
    torch.testing.assert_close(unet(model, x[order], [0]), unet(model, x, [0])[order], rtol=1e-4, atol=1e-4)


@pytest.mark.heavy
@pytest.mark.parametrize("clip_attends_to, key_positions", [("both key frames", (0, 1)), ("reference [0, -1]", (0, 3))])
def test_in_a_clip_pass_frames_attend_to_the_key_frames_only(sd15, clip_attends_to, key_positions):
    from kinema.comfy_glue.context_windows import index_list_window

    model = long_video(sd15, 3, clip_attends_to)
    clip = {"context_window": index_list_window([0, 3, 1, 2], total_frames=10)}  # the clip between key frames 0 and 3
    x = frames_in(4)
    for position in (1, 3):  # a key frame in one variant, an in-between frame in the other
        expected = [True] * 4 if position in key_positions else [f == position for f in range(4)]
        assert changed_frames(model, x, position, **clip) == expected, position
    keys = {"context_window": index_list_window([0, 3, 6, 9], total_frames=10)}  # the key frames' pass: all frames
    assert changed_frames(model, x, 3, **keys) == [True] * 4


@pytest.mark.heavy
def test_the_controlvideo_controlnet_is_per_frame_by_default_and_all_frames_on_request(comfy_host, sd15, model_files):
    import comfy.controlnet

    from kinema.comfy_glue.context_windows import index_list_window
    from kinema.nodes.controlvideo_nodes import ControlVideoControlNet

    plain = comfy.controlnet.load_controlnet(str(model_files["controlnet_sd15_canny"]))
    per_frame = ControlVideoControlNet.execute(plain, "per frame (reference)").args[0]
    all_frames = ControlVideoControlNet.execute(plain, "all frames").args[0]
    x = frames_in(4)
    moved = x.clone()
    moved[2] += 0.5
    for control_net, expected in ((per_frame, [False, False, True, False]), (all_frames, [True] * 4)):
        base, out = control_outputs(control_net, sd15, x, 1), control_outputs(control_net, sd15, moved, 1)
        assert [not torch.equal(out[f], base[f]) for f in range(4)] == expected
    torch.testing.assert_close(control_outputs(per_frame, sd15, x, 1), control_outputs(plain, sd15, x, 1))
    # inside a clip pass [0, 3, 1, 2] of a 10-frame clip: that pass's control images, its key frames' keys
    hints = torch.rand(10, 64, 64, 3, generator=torch.Generator().manual_seed(8))
    clip = {"context_window": index_list_window([0, 3, 1, 2], total_frames=10)}
    in_clip = control_outputs(all_frames, sd15, x, 1, clip, hints)
    assert not torch.equal(in_clip, control_outputs(all_frames, sd15, x, 1, None, hints[:4])), "not the first four images"
    moved_clip = control_outputs(all_frames, sd15, moved, 1, clip, hints)
    assert [not torch.equal(moved_clip[f], in_clip[f]) for f in range(4)] == [False, False, True, False], "clip frames see the keys"


# -- the hierarchical sampler through core sampling --------------------------------------------
def text(seed: int) -> torch.Tensor:
    return torch.randn(1, 77, 768, generator=torch.Generator().manual_seed(seed))


def sample(model, frames: int, steps: int = 2, control=None) -> torch.Tensor:
    """What KSampler does (ddim, ddim_uniform, cfg 7.5) from the same noise for every frame (ControlVideo's initialisation)."""
    import comfy.sample

    extra = {"control": control} if control is not None else {}
    positive, negative = [[text(1), dict(extra)]], [[text(2), dict(extra)]]
    # [1, 4, 8, 8] -> [F, 4, 8, 8]: one noise image for every frame
    noise = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(3)).repeat(frames, 1, 1, 1)
    latent = torch.zeros(frames, 4, 8, 8)
    with torch.inference_mode():
        return comfy.sample.sample(model, noise, steps, CFG, "ddim", "ddim_uniform", positive, negative, latent,
                                   disable_pbar=True, seed=3).float()


def recording(model, seen: list):
    """A clone whose UNet calls note the frames of their context window (through ComfyUI's unet function wrapper)."""
    recorder = model.clone()

    def wrapper(apply, args):
        window = args["c"]["transformer_options"].get("context_window")
        seen.append(list(window.index_list) if window is not None else None)
        return apply(args["input"], args["timestep"], **args["c"])

    recorder.set_model_unet_function_wrapper(wrapper)
    return recorder


@pytest.mark.heavy
def test_key_frames_of_a_long_video_equal_the_key_frames_sampled_alone(comfy_host, sd15, model_files):
    """Key frames are denoised together and never see the frames between them, so a 7-frame long video's key frames
    (0, 2, 4, 6) are a 4-frame fully cross-frame video of their own, control images included."""
    import comfy.controlnet

    from kinema.nodes.controlvideo_nodes import ControlVideoControlNet

    seen = []
    hierarchical = recording(long_video(sd15, 3), seen)
    whole = sample(hierarchical, 7)
    assert seen == [[0, 2, 4, 6], [0, 2, 1], [2, 4, 3], [4, 6, 5]] * 2, "per step: the key frames, then each clip"
    torch.testing.assert_close(whole[[0, 2, 4, 6]], sample(fully_cross_frame(sd15), 4), rtol=1e-4, atol=1e-4)

    control_net = ControlVideoControlNet.execute(comfy.controlnet.load_controlnet(str(model_files["controlnet_sd15_canny"])),
                                                 "per frame (reference)").args[0]
    hints = torch.rand(7, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    controlled = sample(long_video(sd15, 3), 7, control=control_net.copy().set_cond_hint(hints, 1.0))
    alone = sample(fully_cross_frame(sd15), 4, control=control_net.copy().set_cond_hint(hints[[0, 2, 4, 6]], 1.0))
    torch.testing.assert_close(controlled[[0, 2, 4, 6]], alone, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(controlled, whole, atol=1e-3), "the control images reach the passes"


@pytest.mark.heavy
def test_a_clip_shorter_than_the_largest_pass_is_one_fully_cross_frame_pass(comfy_host, sd15):
    seen = []
    short = sample(recording(long_video(sd15, 3), seen), 3)
    assert seen == [None, None], "three frames: keys (0, 2) and the clip (0, 2, 1) are no smaller than the clip itself"
    torch.testing.assert_close(short, sample(fully_cross_frame(sd15), 3))


def test_a_key_frame_window_below_3_is_refused_before_sampling(comfy_host):
    from kinema.nodes.controlvideo_nodes import HierarchicalLongVideo

    message = HierarchicalLongVideo.validate_inputs(key_frame_window=2)
    assert isinstance(message, str) and "key_frame_window 2" in message and "at least 3" in message
    assert HierarchicalLongVideo.validate_inputs(key_frame_window=0) is True


@pytest.mark.heavy
def test_a_core_controlnet_with_an_image_per_frame_is_refused_before_the_first_step(comfy_host, sd15, model_files):
    import comfy.controlnet

    plain = comfy.controlnet.load_controlnet(str(model_files["controlnet_sd15_canny"]))
    seen = []
    model = recording(long_video(sd15, 3), seen)
    with pytest.raises(ValueError, match="every pass of the long-video sampler .* put ControlVideo ControlNet"):
        sample(model, 7, control=plain.copy().set_cond_hint(torch.rand(7, 3, 64, 64), 1.0))
    assert seen == [], "refused before any UNet call"
    sample(model, 7, steps=1, control=plain.copy().set_cond_hint(torch.rand(1, 3, 64, 64), 1.0))  # one image: the same for all
