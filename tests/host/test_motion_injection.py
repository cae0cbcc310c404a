"""AnimateDiff inside ComfyUI's real SD1.5 UNet (full size, random real-layout weights).

Identity: a zero-initialised module or effect 0 leaves the UNet output bit-identical.
Coupling: with motion, frames influence each other; without, they do not; guidance
chunks never mix. SD LoRAs applied after Apply Motion Module still patch every key.
"""

from __future__ import annotations

import pytest
import torch

FRAMES = 6
LATENT = 8  # 64 px


@pytest.fixture(scope="module")
def motion_set(model_files):
    from kinema.motion_modules.formats import load_motion_module

    module_set, info = load_motion_module(model_files["mm_v2"])
    assert info.family == "v2"
    return module_set.float()


def _attach(model, module_set, **settings):
    from kinema.comfy_glue.patcher import wrap_in_patcher
    from kinema.motion_modules.injection import MotionSettings
    from kinema.nodes.motion_attach import attach_motion_modules

    return attach_motion_modules(model, wrap_in_patcher(module_set), MotionSettings(pe_length=32, **settings))


def _unet(patcher, x: torch.Tensor, chunks: int = 1) -> torch.Tensor:
    """One UNet evaluation the way a sampler runs it: patches loaded, transformer options merged."""
    import comfy.model_management

    comfy.model_management.load_models_gpu([patcher])
    torch.manual_seed(0)
    context = torch.randn(1, 77, 768).expand(x.shape[0], -1, -1)
    options = {**patcher.model_options["transformer_options"], "cond_or_uncond": list(range(chunks)),
               "wrappers": patcher.wrappers}  # as sampling merges the clone's wrappers in
    sigma = torch.full((x.shape[0],), 2.0)
    with torch.inference_mode():
        return patcher.model.apply_model(x, sigma, c_crossattn=context, transformer_options=options).float()


def _latents(frames: int = FRAMES, seed: int = 1) -> torch.Tensor:
    return torch.randn(frames, 4, LATENT, LATENT, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def plain_out(sd15):
    return _unet(sd15, _latents())


def _zero_proj_out(module_set):
    import copy

    zeroed = copy.deepcopy(module_set)
    for name, param in zeroed.named_parameters():
        if "temporal_transformer.proj_out" in name:
            param.data.zero_()
    return zeroed


def test_zero_initialised_motion_module_is_bit_identical(sd15, motion_set, plain_out):
    out = _unet(_attach(sd15, _zero_proj_out(motion_set)), _latents())
    assert torch.equal(out, plain_out)


def test_effect_zero_is_bit_identical(sd15, motion_set, plain_out):
    assert torch.equal(_unet(_attach(sd15, motion_set, effect=0.0), _latents()), plain_out)


def test_motion_changes_the_output_and_the_input_model_is_left_alone(sd15, motion_set, plain_out):
    moving = _unet(_attach(sd15, motion_set), _latents())
    assert not torch.allclose(moving, plain_out, atol=1e-4)
    assert torch.isfinite(moving).all()
    assert torch.equal(_unet(sd15, _latents()), plain_out)  # the original MODEL carries no motion patch


def test_frames_are_coupled_only_with_motion(sd15, motion_set):
    x = _latents()
    nudged = x.clone()
    nudged[0] += 0.5
    moving = _attach(sd15, motion_set)
    assert not torch.allclose(_unet(moving, x)[4], _unet(moving, nudged)[4], atol=1e-5)
    assert torch.equal(_unet(sd15, x)[4], _unet(sd15, nudged)[4])


def test_the_users_attention_override_runs_the_temporal_attention_too(sd15, motion_set, plain_out):
    """An attention-backend node sets ``optimized_attention_override``; it must see every attention, the motion modules' too."""
    moving = _attach(sd15, motion_set)
    plain_moving = _unet(moving, _latents())
    calls = []

    def override(func, q, k, v, heads, *args, **kwargs):
        calls.append((q.shape[0], q.shape[1]))
        return func(q, k, v, heads, *args, **kwargs)

    moving.model_options["transformer_options"]["optimized_attention_override"] = override
    assert torch.equal(_unet(moving, _latents()), plain_moving), "the override only reroutes the calls"
    temporal = [call for call in calls if call[1] == FRAMES]  # [(b h w), frames, c]: the frames are the sequence
    spatial = [call for call in calls if call[0] == FRAMES]  # [frames, tokens, c]
    assert len(temporal) == 21 * 2 and len(spatial) == 16 * 2, "21 motion modules x 2 attentions; 16 transformers x attn1/attn2"


def test_while_loaded_every_unet_weight_keeps_its_path(sd15, motion_set):
    """ComfyUI finds weights by state-dict path while a model is loaded (low-VRAM casting, pinned memory, partial
    unloads): with motion modules in, every path must still name the same tensor. (Inserting layers into the UNet's
    blocks moved each block's Upsample one place along; ComfyUI 0.8.0 on a GPU then failed to unpin its weights.)"""
    import comfy.model_management
    import comfy.utils

    before = sd15.model.state_dict(keep_vars=True)
    moving = _attach(sd15, motion_set)
    comfy.model_management.load_models_gpu([moving])
    assert sum(len(module._forward_hooks) for module in moving.model.diffusion_model.modules()) == 21  # injected
    for key, value in before.items():
        assert comfy.utils.get_attr(moving.model, key) is value, key
    assert moving.model.state_dict().keys() == before.keys()
    moving.unpatch_model()
    assert not any(module._forward_hooks for module in sd15.model.diffusion_model.modules()), "ejected"


def test_guidance_chunks_never_mix(sd15, motion_set):
    """cond and uncond in one batch: changing the uncond frames leaves the cond frames' output as it was."""
    moving = _attach(sd15, motion_set)
    both = torch.cat([_latents(seed=1), _latents(seed=2)])
    changed = torch.cat([_latents(seed=1), _latents(seed=3)])
    torch.testing.assert_close(_unet(moving, both, chunks=2)[:FRAMES], _unet(moving, changed, chunks=2)[:FRAMES], rtol=0, atol=1e-5)


def test_chunked_batch_equals_separate_passes(sd15, motion_set):
    """cond and uncond in one pass give what two separate passes give (ComfyUI may do either)."""
    moving = _attach(sd15, motion_set)
    a, b = _latents(seed=1), _latents(seed=2)
    together = _unet(moving, torch.cat([a, b]), chunks=2)
    torch.testing.assert_close(together[:FRAMES], _unet(moving, a), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(together[FRAMES:], _unet(moving, b), rtol=1e-4, atol=1e-4)


def test_sd_lora_after_apply_motion_module_patches_every_key(sd15, motion_set):
    import comfy.lora
    import comfy.sd

    moving = _attach(sd15, motion_set)
    key_map = comfy.lora.model_lora_keys_unet(moving.model, {})
    # kohya-style names in the LDM layout ("lora_unet_input_blocks_1_1_..."), one per weight
    targets = {name: key for name, key in key_map.items()
               if name.startswith(("lora_unet_input_blocks", "lora_unet_middle_block", "lora_unet_output_blocks")) and "attn1_to_q" in name}
    assert len(targets) == 16  # every SD1.5 self-attention q projection
    generator = torch.Generator().manual_seed(3)
    lora = {}
    for name, key in targets.items():
        out_features, in_features = moving.model.state_dict()[key].shape
        lora[f"{name}.lora_up.weight"] = torch.randn(out_features, 4, generator=generator) * 0.1
        lora[f"{name}.lora_down.weight"] = torch.randn(4, in_features, generator=generator) * 0.1
    with_lora, _ = comfy.sd.load_lora_for_models(moving, None, lora, 1.0, 0.0)
    assert set(targets.values()) <= set(with_lora.patches)
    # clones share one model, patched in place while loaded: keep the unpatched weights first
    original = {key: sd15.model.state_dict()[key].float().clone() for key in targets.values()}
    _unet(with_lora, _latents())  # patches weights, then injects the motion slots
    for name, key in targets.items():
        expected = original[key] + lora[f"{name}.lora_up.weight"] @ lora[f"{name}.lora_down.weight"]
        torch.testing.assert_close(with_lora.model.state_dict()[key].float(), expected, rtol=1e-4, atol=1e-4)
    with_lora.unpatch_model()


def test_sdxl_motion_module_is_refused_on_sd15_with_names(sd15, tmp_path):
    from fixtures import motion_module_files
    from kinema.comfy_glue.patcher import model_type_name
    from kinema.motion_modules.formats import load_motion_module
    from kinema.motion_modules.injection import MotionCompatibilityError
    from kinema.nodes.motion_attach import check_fits

    path = motion_module_files.write_motion_module("sdxl", tmp_path / "mm_sdxl_v10_beta.ckpt", channel_divisor=1)
    module_set, info = load_motion_module(path)
    with pytest.raises(MotionCompatibilityError, match=r"mm_sdxl_v10_beta\.ckpt.*SD15.*channels"):
        check_fits(sd15, module_set, f"motion module {path.name!r} ({info.description})")
    assert model_type_name(sd15) == "SD15"


@pytest.fixture(scope="module")
def identity_v1(tmp_path_factory):
    from fixtures import motion_module_files
    from kinema.motion_modules.formats import load_motion_module

    path = motion_module_files.write_motion_module("v1", tmp_path_factory.mktemp("v1") / "mm_sd_v15.ckpt")
    v1_set, info = load_motion_module(path)
    assert info.family == "v1"
    return _zero_proj_out(v1_set.float())


def test_v1_modules_normalise_the_unet_over_whole_clips(sd15, identity_v1):
    """v1: ResBlock GroupNorm statistics span the clip. Identical frames: as per-frame; different frames: not."""
    spanning = _attach(sd15, identity_v1, frame_spanning_norms=True)
    still = _latents(frames=1).repeat(FRAMES, 1, 1, 1)
    torch.testing.assert_close(_unet(spanning, still), _unet(sd15, still), rtol=1e-4, atol=1e-4)
    moving_in = _latents()
    assert not torch.allclose(_unet(spanning, moving_in), _unet(sd15, moving_in), atol=1e-3)
    spanning.unpatch_model()
    assert all(type(m).__name__ == "GroupNorm" for m in sd15.model.diffusion_model.modules() if isinstance(m, torch.nn.GroupNorm))


def test_motion_weights_are_held_once_across_clones(sd15, motion_set):
    from kinema.comfy_glue.patcher import wrap_in_patcher
    from kinema.motion_modules.injection import MotionSettings
    from kinema.nodes.motion_attach import PATCH_KEY, attach_motion_modules

    patcher = wrap_in_patcher(motion_set)
    first = attach_motion_modules(sd15, patcher.clone(), MotionSettings())
    second = attach_motion_modules(first.clone(), patcher.clone(), MotionSettings(effect=0.5))
    riders = [m.additional_models[PATCH_KEY][0].model for m in (first, second)]
    assert riders[0] is riders[1] is motion_set


def test_v1_spans_resblock_norms_only_and_reapplying_replaces(sd15, identity_v1, motion_set):
    from kinema.nodes.motion_attach import PATCH_KEY

    once = _attach(sd15, identity_v1, frame_spanning_norms=True)
    spanned = set(once.object_patches)
    assert spanned and all(".in_layers.0" in p or ".out_layers.0" in p or p == "diffusion_model.out.0" for p in spanned)
    twice = _attach(once, identity_v1, frame_spanning_norms=True)  # e.g. a second Apply node in a graph
    x = _latents()
    torch.testing.assert_close(_unet(twice, x), _unet(once, x), rtol=0, atol=0)
    switched = _attach(twice, motion_set)  # v1 then v2: nothing of v1 stays behind
    assert {path: obj is sd15.get_model_object(path) for path, obj in switched.object_patches.items()} == dict.fromkeys(spanned, True)
    # one of each: the frame-limit check around sampling, the call description around each UNet call
    assert all(len(switched.wrappers.get(kind, {}).get(PATCH_KEY, [])) == 1 for kind in ("outer_sample", "diffusion_model"))
    switched.unpatch_model()


@pytest.mark.heavy
def test_a_partially_loaded_motion_model_streams_its_weights_and_loras_with_the_same_result(model_files):
    """Low-VRAM mode: layers that do not fit stay in system RAM and are cast per call, motion LoRA included."""
    from kinema.comfy_glue.layers import weight_casting_layers
    from kinema.comfy_glue.lora import add_lora_patches
    from kinema.comfy_glue.patcher import wrap_in_patcher
    from kinema.motion_modules.formats import load_motion_module
    from kinema.motion_modules.lora import load_motion_lora

    module_set, _ = load_motion_module(model_files["mm_v2"], weight_casting_layers())
    module_set = module_set.float()
    plain = wrap_in_patcher(module_set)
    with_lora = plain.clone()
    add_lora_patches(with_lora, load_motion_lora(model_files["motion_lora_v2"]), 0.8)
    module = module_set.down_blocks[1].motion_modules[0]
    x = torch.randn(2 * 4, 640, 4, 4, generator=torch.Generator().manual_seed(3))
    stored = {k: v.clone() for k, v in module.state_dict().items()}

    def run(patcher, **load) -> tuple[torch.Tensor, int]:
        patcher.load(torch.device("cpu"), **load)
        try:
            streamed = sum(getattr(m, "comfy_cast_weights", False) for m in module_set.modules())
            with torch.inference_mode():
                return module(x, frames=4), streamed
        finally:
            patcher.unpatch_model()

    whole, none_streamed = run(with_lora, full_load=True)
    partial, streamed = run(with_lora, lowvram_model_memory=with_lora.model_size() // 3)
    assert none_streamed == 0 and streamed > 0
    torch.testing.assert_close(partial, whole, rtol=1e-5, atol=1e-5)
    all_streamed, _ = run(with_lora, lowvram_model_memory=1)
    torch.testing.assert_close(all_streamed, whole, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(run(plain, lowvram_model_memory=1)[0], whole, atol=1e-3), "the LoRA is applied on the way"
    assert all(torch.equal(stored[k], v) for k, v in module.state_dict().items()), "stored weights are never changed"
