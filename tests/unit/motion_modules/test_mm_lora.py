"""Motion LoRAs: key mapping, validation, and the check that a LoRA fits the motion module it is applied to."""

from __future__ import annotations

import pytest
import torch

from kinema.motion_modules.errors import MotionLoraFormatError
from kinema.motion_modules.formats import load_motion_module
from kinema.motion_modules.layout import SD15_LAYOUT
from kinema.motion_modules.lora import MotionLoraMismatchError, fit_motion_lora, load_motion_lora
from kinema.motion_modules.network import MotionModuleSet

ATTN = "down_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.1"


def shapes(state_dict) -> dict[str, tuple[int, ...]]:
    return {key: tuple(value.shape) for key, value in state_dict.items()}


def with_lora(state_dict, lora, strength: float) -> dict:
    """An independent application of a motion LoRA in plain torch: weight + strength * up @ down, in fp32."""
    out = dict(state_dict)
    for target, (up, down) in lora.items():
        out[target] = (out[target].float() + strength * (up.float() @ down.float())).to(out[target].dtype)
    return out


@pytest.fixture(scope="module")
def small_lora_path(mm_files, tmp_path_factory):
    return mm_files.write_motion_lora(tmp_path_factory.mktemp("lora") / "v2_lora_ZoomIn.ckpt", channel_divisor=10, rank=8)


def test_keys_map_to_the_module_weights(small_lora_path, small_file):
    lora = load_motion_lora(small_lora_path)
    assert len(lora) == 21 * 2 * 4  # v2 modules x attention blocks x (q, k, v, out)
    assert {f"{ATTN}.{p}.weight" for p in ("to_q", "to_k", "to_v", "to_out.0")} <= set(lora)
    network, _ = load_motion_module(small_file("v2"))
    weights = network.state_dict()
    for target, (up, down) in lora.items():
        assert (up.shape[0], down.shape[1]) == weights[target].shape and up.shape[1] == down.shape[0] == 8


def test_full_size_lora_fits_a_full_size_v2_module_exactly(mm_files, tmp_path):
    lora = load_motion_lora(mm_files.write_motion_lora(tmp_path / "v2_lora_PanLeft.ckpt"))
    with torch.device("meta"):
        weights = MotionModuleSet(SD15_LAYOUT, 32, True).state_dict()
    fitted, left_out = fit_motion_lora(lora, shapes(weights), "v2_lora_PanLeft.ckpt", "mm_sd_v15_v2")
    assert left_out == [] and fitted.keys() == lora.keys()
    for target, (up, down) in lora.items():
        assert (up.shape[0], down.shape[1]) == weights[target].shape and down.shape[0] == 64
        assert up.dtype == down.dtype == torch.float32


def test_strength_zero_changes_nothing_and_strength_s_adds_s_up_down(small_lora_path, small_file, rand):
    lora = load_motion_lora(small_lora_path)
    network, _ = load_motion_module(small_file("v2"))
    original = {k: v.clone() for k, v in network.state_dict().items()}  # not views of the live parameters
    unchanged = with_lora(original, lora, 0.0)
    assert all(torch.equal(unchanged[k], v) for k, v in original.items())
    patched = with_lora(original, lora, 0.7)
    up, down = lora[f"{ATTN}.to_out.0.weight"]
    torch.testing.assert_close(patched[f"{ATTN}.to_out.0.weight"] - original[f"{ATTN}.to_out.0.weight"], 0.7 * up @ down)
    assert torch.equal(patched[f"{ATTN}.to_out.0.bias"], original[f"{ATTN}.to_out.0.bias"])  # biases untouched
    # and the module output moves only when the LoRA is on
    module = network.down_blocks[1].motion_modules[0]
    x = rand(2 * 4, 64, 2, 3)
    before = module(x, 4)
    network.load_state_dict(patched)
    assert not torch.allclose(module(x, 4), before)
    network.load_state_dict(unchanged)
    assert torch.equal(module(x, 4), before)


def test_a_v2_lora_on_a_module_without_mid_block_skips_only_the_mid_entries(small_lora_path, small_file):
    lora = load_motion_lora(small_lora_path)
    network, _ = load_motion_module(small_file("v3"))
    fitted, left_out = fit_motion_lora(lora, shapes(network.state_dict()), "v2_lora_ZoomIn.ckpt", "v3_sd15_mm")
    assert len(left_out) == 8 and all(k.startswith("mid_block.") for k in left_out)
    assert set(fitted) == set(lora) - set(left_out) and set(fitted) <= set(network.state_dict())


def test_a_lora_for_other_channels_is_refused_naming_both_files(small_lora_path, small_file):
    network, _ = load_motion_module(small_file("sdxl"))  # up level 1 has 64 channels here, 128 in SD1.5
    with pytest.raises(MotionLoraMismatchError, match=r"(?s)'v2_lora_ZoomIn.ckpt' was made for another motion module type "
                       r"than mm_sdxl_v10_beta.*of its 168 weights do not fit.*Use a motion LoRA made for this module"):
        fit_motion_lora(load_motion_lora(small_lora_path), shapes(network.state_dict()), "v2_lora_ZoomIn.ckpt", "mm_sdxl_v10_beta")


def test_a_lora_with_weights_the_module_lacks_is_refused(small_lora_path, small_file):
    lora = load_motion_lora(small_lora_path)
    network, _ = load_motion_module(small_file("v2"))
    weights = shapes(network.state_dict())
    del weights[f"{ATTN}.to_q.weight"]  # a module with a mid block that lacks one LoRA target
    with pytest.raises(MotionLoraMismatchError, match=f"1 of its 168 weights do not fit \\({ATTN}.to_q.weight is not in the module\\)"):
        fit_motion_lora(lora, weights, "v2_lora_ZoomIn.ckpt", "mm_sd_v15_v2")


def write(tmp_path, tensors, name="not_a_lora.ckpt"):
    torch.save(tensors, tmp_path / name)
    return tmp_path / name


def test_a_motion_module_is_refused_as_a_lora(small_file):
    with pytest.raises(MotionLoraFormatError, match="motion module, not a motion LoRA"):
        load_motion_lora(small_file("v1"))


def test_the_v3_adapter_is_refused_as_a_spatial_lora(mm_files, tmp_path):
    path = mm_files.write_motion_module("v3_adapter", tmp_path / "v3_sd15_adapter.ckpt")
    with pytest.raises(MotionLoraFormatError, match="(?s)spatial.*v3_sd15_adapter.*LoraLoaderModelOnly"):
        load_motion_lora(path)


def test_other_files_are_refused(tmp_path):
    with pytest.raises(MotionLoraFormatError, match="not a LoRA"):
        load_motion_lora(write(tmp_path, {"model.diffusion_model.out.weight": torch.zeros(2)}))
    half = {f"{ATTN}.processor.to_q_lora.down.weight": torch.zeros(4, 64)}
    with pytest.raises(MotionLoraFormatError, match="only the 'down' half"):
        load_motion_lora(write(tmp_path, half))
    mixed = {**half, f"{ATTN}.processor.to_q_lora.up.weight": torch.zeros(64, 4), "some.other.weight": torch.zeros(1)}
    with pytest.raises(MotionLoraFormatError, match="1 keys are not motion-LoRA weights, e.g. some.other.weight"):
        load_motion_lora(write(tmp_path, mixed))
    peft = {"down_blocks.0.motion_modules.0.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 64)}
    with pytest.raises(MotionLoraFormatError, match="key names Kinema does not read.*v2_lora_"):
        load_motion_lora(write(tmp_path, peft))
    bad = {**half, f"{ATTN}.processor.to_q_lora.up.weight": torch.zeros(64, 3)}
    with pytest.raises(MotionLoraFormatError, match="do not multiply"):
        load_motion_lora(write(tmp_path, bad))
