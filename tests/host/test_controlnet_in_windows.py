"""Which control images a window-aware ControlNet (Windowed / Cross-Frame ControlNet) hands each context window.

Calls a real ControlNet (the random real-layout control_v11p_sd15_canny) the way sampling does:
a copy from Apply ControlNet, pre_run, get_control with the window ComfyUI puts into the
transformer options. Two behaviours of ComfyUI after 0.8.0 are reproduced here, since that
ComfyUI cannot run on these machines (both read from the 0.38 source):
- ``ControlNet.get_control`` caches the prepared hints per latent size in ``cond_hints`` and
  never reads the images again for that size until ``set_cond_hint`` or ``cleanup``;
- ``causal_window_fix`` runs a window with the frame before it prepended and marks the window
  with ``causal_anchor_index``.
"""

from __future__ import annotations

import pytest
import torch

FRAMES = 6


@pytest.fixture(scope="module")
def loaded_controlnet(model_files, comfy_host):
    import comfy.controlnet

    return comfy.controlnet.load_controlnet(str(model_files["controlnet_sd15_canny"]))


def newer_caching(control_net):
    """``control_net`` as a ControlNet with the hint cache of ComfyUI after 0.8.0 (see the module docstring)."""
    import comfy.controlnet

    class CachingControlNet(comfy.controlnet.ControlNet):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.cond_hints = {}

        def set_cond_hint(self, *args, **kwargs):
            self.cond_hints.clear()
            return super().set_cond_hint(*args, **kwargs)

        def cleanup(self):
            self.cond_hints.clear()
            super().cleanup()

        def get_control(self, x_noisy, t, cond, batched_number, transformer_options):
            size = tuple(x_noisy.shape[2:4])
            self.cond_hint = self.cond_hints.get(size)  # a hit is used as it is: the images are not read again
            try:
                return super().get_control(x_noisy, t, cond, batched_number, transformer_options)
            finally:
                self.cond_hints[size] = self.cond_hint

        def copy(self):
            c = CachingControlNet(None, global_average_pooling=self.global_average_pooling, load_device=self.load_device,
                                  manual_cast_dtype=self.manual_cast_dtype)
            c.control_model, c.control_model_wrapped = self.control_model, self.control_model_wrapped
            self.copy_to(c)
            return c

    caching = CachingControlNet(None, global_average_pooling=control_net.global_average_pooling,
                                load_device=control_net.load_device, manual_cast_dtype=control_net.manual_cast_dtype)
    caching.control_model, caching.control_model_wrapped = control_net.control_model, control_net.control_model_wrapped
    control_net.copy_to(caching)
    return caching


def windowed(control_net):
    from kinema.nodes.context_window_nodes import WindowedControlNet

    return WindowedControlNet.execute(control_net).args[0]


def cross_frame(control_net):
    from kinema.nodes.text2video_zero_nodes import CrossFrameControlNet

    return CrossFrameControlNet.execute(control_net, 0, False).args[0]


def window(frames: list[int], anchor: int | None = None):
    """Core's window over ``frames`` of the clip; ``anchor``: newer ComfyUI's causal anchor frame."""
    from kinema.comfy_glue.context_windows import index_list_window

    made = index_list_window(frames, total_frames=FRAMES)
    if anchor is not None:
        made.causal_anchor_index = anchor  # what newer core's handler sets before the window's call
    return made


class Sampling:
    """One sampling run of a ControlNet: Apply ControlNet's copy with ``images``, pre_run, then calls, then cleanup."""

    def __init__(self, control_net, sd15, images: torch.Tensor):
        import comfy.model_management

        self.sd15, self.applied = sd15, control_net.copy().set_cond_hint(images, 1.0)
        self.applied.pre_run(sd15.model, lambda percent: sd15.model.model_sampling.percent_to_sigma(percent))
        comfy.model_management.load_models_gpu(self.applied.get_models())

    def call(self, frames: int, options: dict, chunks: int = 1) -> torch.Tensor:
        """Every tensor the ControlNet hands the UNet for a batch of ``chunks`` x ``frames``, as [batch, -1]."""
        x = torch.randn(frames, 4, 8, 8, generator=torch.Generator().manual_seed(1)).repeat(chunks, 1, 1, 1)
        text = torch.randn(1, 77, 768, generator=torch.Generator().manual_seed(0)).expand(x.shape[0], -1, -1)
        with torch.inference_mode():
            out = self.applied.get_control(x, torch.full((x.shape[0],), 3.0), {"c_crossattn": text}, chunks, options)
        return torch.cat([t.flatten(1) for part in out.values() for t in part if t is not None], dim=1).float()

    def __enter__(self) -> Sampling:
        return self

    def __exit__(self, *exc) -> None:
        self.applied.cleanup()


def hints(count: int) -> torch.Tensor:
    return torch.rand(count, 3, 64, 64, generator=torch.Generator().manual_seed(5))


def unwindowed(control_net, sd15, images: torch.Tensor, chunks: int = 1) -> torch.Tensor:
    """What the ControlNet gives a batch holding exactly ``images``' frames (no window)."""
    with Sampling(control_net, sd15, images) as run:
        return run.call(images.shape[0], {}, chunks)


@pytest.mark.heavy
@pytest.mark.parametrize("node", [windowed, cross_frame], ids=["windowed", "cross_frame"])
def test_every_window_gets_its_own_images_under_newer_hint_caching(sd15, loaded_controlnet, node):
    caching = newer_caching(loaded_controlnet)
    ours, images = node(caching), hints(FRAMES)
    with Sampling(ours, sd15, images) as run:
        first, second = run.call(3, {"context_window": window([0, 1, 2])}), run.call(3, {"context_window": window([3, 4, 5])})
        again = run.call(3, {"context_window": window([0, 1, 2])})
    torch.testing.assert_close(first, unwindowed(node(caching), sd15, images[[0, 1, 2]]), rtol=0, atol=0)
    torch.testing.assert_close(second, unwindowed(node(caching), sd15, images[[3, 4, 5]]), rtol=0, atol=0)
    assert torch.equal(again, first), "a window met again gets its images again"
    plain_cached = unwindowed(caching, sd15, images[:3])
    with Sampling(caching, sd15, images[:3]) as run:  # the reproduction caches: core itself would repeat the first images
        run.call(3, {})
        run.applied.cond_hint_original = images[3:]
        assert torch.equal(run.call(3, {}), plain_cached)


@pytest.mark.heavy
def test_a_causal_anchor_frame_gets_its_own_image_first(sd15, loaded_controlnet):
    ours, images = windowed(loaded_controlnet), hints(FRAMES)
    with Sampling(ours, sd15, images) as run:
        anchored = run.call(3, {"context_window": window([3, 4], anchor=2)}, chunks=2)
    torch.testing.assert_close(anchored, unwindowed(loaded_controlnet, sd15, images[[2, 3, 4]], chunks=2), rtol=0, atol=0)


@pytest.mark.heavy
@pytest.mark.parametrize("node", [windowed, cross_frame], ids=["windowed", "cross_frame"])
def test_fewer_images_than_frames_repeat_as_core_repeats_them(sd15, loaded_controlnet, node):
    """Core gives frame i of an unwindowed clip image i mod N; a window keeps that pairing instead of an IndexError."""
    ours, images = node(loaded_controlnet), hints(2)
    with Sampling(ours, sd15, images) as run:
        in_window = run.call(3, {"context_window": window([3, 4, 5])}, chunks=2)
        whole = run.call(FRAMES, {})
    torch.testing.assert_close(in_window, unwindowed(node(loaded_controlnet), sd15, images[[1, 0, 1]], chunks=2), rtol=0, atol=0)
    torch.testing.assert_close(whole, unwindowed(node(loaded_controlnet), sd15, images[[0, 1, 0, 1, 0, 1]]), rtol=0, atol=0)
