"""Applying a Kinema node twice replaces its own patches and leaves everyone else's alone.

A graph may hold the same node twice (or a user chains a copy): each MODEL -> MODEL node,
applied again to its own output, must leave the clone with exactly the hooks one
application gives, and another pack's patches and wrappers, added in between, must survive.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def motion_model(model_files, comfy_host):
    from kinema.nodes.motion_module_nodes import LoadMotionModule

    return LoadMotionModule.execute(model_files["mm_v2"].name).args[0]


def hooks(model) -> dict:
    """Everything a node can add to a clone, counted by key and by type."""
    patches = model.model_options.get("transformer_options", {}).get("patches", {})
    return {
        "wrappers": {kind: {key: len(found) for key, found in keys.items()} for kind, keys in model.wrappers.items()},
        "patches": {name: sorted(type(entry[0] if isinstance(entry, tuple) else entry).__name__ for entry in entries)
                    for name, entries in patches.items()},
        "replacements": {name: sorted((key, type(fn).__name__) for key, fn in entries.items())
                         for name, entries in model.model_options.get("transformer_options", {}).get("patches_replace", {}).items()},
        "object_patches": sorted(model.object_patches),
        "injections": {key: len(found) for key, found in model.injections.items()},
        "additional_models": {key: len(found) for key, found in model.additional_models.items()},
        "context_handler": type(model.model_options.get("context_handler")).__name__,
    }


def another_packs_hooks(model):
    """What another pack's node adds to its own clone: an attn1 patch, a sampling wrapper, a UNet wrapper."""
    import comfy.patcher_extension

    patched = model.clone()
    patched.set_model_attn1_patch(lambda n, context, value, extra_options: (n, context, value))
    patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, "another_pack", lambda executor, *a, **k: executor(*a, **k))
    patched.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "another_pack", lambda executor, *a, **k: executor(*a, **k))
    return patched


def apply_motion(model, motion_model):
    from kinema.nodes.motion_module_nodes import ApplyMotionModule

    return ApplyMotionModule.execute(model, motion_model, 1.0, 1.0, "autoselect").args[0]


def cross_frame(model, _):
    from kinema.nodes.text2video_zero_nodes import CrossFrameAttention

    return CrossFrameAttention.execute(model, 0, False).args[0]


def anchored_chunks(model, _):
    from kinema.nodes.text2video_zero_nodes import AnchoredChunks

    return AnchoredChunks.execute(model, 8).args[0]


@pytest.mark.parametrize("node", [apply_motion, cross_frame, anchored_chunks], ids=lambda f: f.__name__)
def test_applying_a_node_again_replaces_only_its_own_hooks(sd15, motion_model, node):
    once = node(another_packs_hooks(sd15), motion_model)
    twice = node(once, motion_model)
    assert hooks(twice) == hooks(once)
    foreign = another_packs_hooks(once)  # another pack's node between two of ours
    assert hooks(node(foreign, motion_model)) == hooks(foreign)
    assert sum(entry.__class__.__name__ == "function" for entry in foreign.model_options["transformer_options"]["patches"]["attn1_patch"]) == 2


def test_every_kinema_feature_together_keeps_one_of_each(sd15, motion_model):
    """AnimateDiff + cross-frame attention, each applied twice in any order: one frame-batch window wrapper in all."""
    from kinema.nodes.frame_batch_windows import WINDOWS_KEY

    model = cross_frame(apply_motion(cross_frame(apply_motion(sd15, motion_model), None), motion_model), None)
    counts = hooks(model)["wrappers"]
    assert counts["outer_sample"] == {"kinema_motion_modules": 1, WINDOWS_KEY: 1, "kinema_frame_attention": 1}
    assert counts["diffusion_model"] == {"kinema_motion_modules": 1, "kinema_frame_attention": 1}
    assert hooks(model)["patches"]["attn1_patch"] == ["FrameAttention"]
    assert hooks(model)["patches"]["attn1_output_patch"] == ["RestoreFrameBatch"]
    replacements = hooks(model)["replacements"]["attn1"]
    assert len(replacements) == 16 and {name for _, name in replacements} == {"FrameAttentionReplacement"}, "every SD1.5 attn1"


def test_a_cross_frame_controlnet_of_a_cross_frame_controlnet_wraps_the_original_attention(model_files, comfy_host):
    import comfy.controlnet

    from kinema.frame_attention import FrameSourcedSelfAttention
    from kinema.nodes.text2video_zero_nodes import FEATURE_KEY, CrossFrameControlNet

    loaded = comfy.controlnet.load_controlnet(str(model_files["controlnet_sd15_canny"]))
    twice = CrossFrameControlNet.execute(CrossFrameControlNet.execute(loaded, 0, False).args[0], 1, True).args[0]
    replacements = list(twice.control_model_wrapped.object_patches.values())
    assert replacements and all(isinstance(r, FrameSourcedSelfAttention) for r in replacements)
    assert not any(isinstance(r.inner, FrameSourcedSelfAttention) for r in replacements)
    assert all([key for key, _ in r.features] == [FEATURE_KEY] for r in replacements), "one feature, the latest"
    assert all(r.features[0][1].anchor == 1 and r.features[0][1].with_previous for r in replacements)
    assert not loaded.control_model_wrapped.object_patches, "the loaded ControlNet is left alone"


def test_two_frame_attention_features_share_one_patch_and_reapplying_one_keeps_the_other(sd15):
    from kinema.frame_attention import AllFramesStrategy, AnchorStrategy, FrameAttention
    from kinema.nodes.frame_attention_binding import apply_feature, model_patch

    both = apply_feature(apply_feature(sd15, "t2vz", AnchorStrategy(anchor=1)), "controlvideo", AllFramesStrategy())
    again = apply_feature(both, "t2vz", AnchorStrategy(anchor=0))
    chain = again.model_options["transformer_options"]["patches"]["attn1_patch"]
    assert sum(isinstance(entry, FrameAttention) for entry in chain) == 1, "one Kinema patch, however many features"
    assert [key for key, _ in model_patch(again).features] == ["controlvideo", "t2vz"]
    assert model_patch(again).feature("t2vz").anchor == 0 and isinstance(model_patch(again).feature("controlvideo"), AllFramesStrategy)
    assert model_patch(both).feature("t2vz").anchor == 1, "the model the node was given keeps its own patch"
    assert hooks(again) == hooks(both)
