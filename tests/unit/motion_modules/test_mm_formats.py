"""Format detection, renames and refusals, on files from the independent fixture writer.

Small files (channels / 10, exact key sets) keep these fast; test_mm_full_size.py loads
the full-size files.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from kinema.motion_modules.checkpoint_io import read_tensors
from kinema.motion_modules.errors import MotionModuleFormatError
from kinema.motion_modules.formats import FAMILIES, load_motion_module, normalize_motion_state_dict
from kinema.motion_modules.network import sinusoidal_position_encoding

# family: model_type, pe_length, has_mid, pe stored in the file, original key format
EXPECTED = {
    "v1": ("SD15", 24, False, True, "animatediff"),
    "v2": ("SD15", 32, True, True, "animatediff"),
    "v3": ("SD15", 32, False, True, "animatediff"),
    "sdxl": ("SDXL", 32, False, True, "animatediff"),
    "hotshotxl": ("SDXL", 24, False, True, "hotshotxl"),
    "animatelcm": ("SD15", 64, True, False, "animatediff"),
    "diffusers": ("SD15", 32, True, True, "diffusers"),
}


def test_expectations_cover_every_family(mm_files):
    assert set(EXPECTED) == set(FAMILIES) == set(mm_files.FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_loads_with_all_keys_and_is_recognised(small_file, family):
    network, info = load_motion_module(small_file(family))  # raises on any missing/unexpected key
    model_type, pe_length, has_mid, pe_in_file, original_format = EXPECTED[family]
    assert (info.family, info.model_type, info.pe_length, info.has_mid_block) == (family, model_type, pe_length, has_mid)
    assert (info.pe_in_file, info.original_format) == (pe_in_file, original_format)
    assert info.channels == ((32, 64, 128, 128) if model_type == "SD15" else (32, 64, 128))
    assert ("SD1.5" if model_type == "SD15" else "SDXL") in info.description and f"{pe_length}-frame" in info.description
    assert network.pe_length == pe_length and (network.mid_block is not None) == has_mid
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in network.state_dict().values())
    assert not any(p.requires_grad for p in network.parameters())


def original_keys(mm_files, family):
    return set(mm_files.motion_module_shapes(family, channel_divisor=10))


def test_hotshot_keys_are_renamed_exactly(small_file, mm_files):
    tensors = read_tensors(small_file("hotshotxl"))
    state_dict, _ = normalize_motion_state_dict(tensors, "hsxl.safetensors")
    # same key set as an original-format SDXL module (the PE length differs, not the names)
    assert set(state_dict) == original_keys(mm_files, "sdxl")
    pairs = {
        "up_blocks.2.temporal_attentions.1.proj_out.weight":
            "up_blocks.2.motion_modules.1.temporal_transformer.proj_out.weight",
        "down_blocks.1.temporal_attentions.0.transformer_blocks.0.attention_blocks.1.pos_encoder.positional_encoding":
            "down_blocks.1.motion_modules.0.temporal_transformer.transformer_blocks.0.attention_blocks.1.pos_encoder.pe",
        "down_blocks.0.temporal_attentions.1.transformer_blocks.0.ff.net.0.proj.weight":
            "down_blocks.0.motion_modules.1.temporal_transformer.transformer_blocks.0.ff.net.0.proj.weight",
    }
    for hotshot_key, original_key in pairs.items():
        assert state_dict[original_key] is tensors[hotshot_key]


def test_diffusers_keys_are_renamed_exactly(small_file, mm_files):
    tensors = read_tensors(small_file("diffusers"))
    state_dict, info = normalize_motion_state_dict(tensors, "diffusion_pytorch_model.safetensors")
    assert set(state_dict) == original_keys(mm_files, "v2")
    block, original = "mid_block.motion_modules.0.transformer_blocks.0", "mid_block.motion_modules.0.temporal_transformer.transformer_blocks.0"
    pairs = {
        f"{block}.norm1.weight": f"{original}.norms.0.weight",
        f"{block}.norm2.bias": f"{original}.norms.1.bias",
        f"{block}.norm3.weight": f"{original}.ff_norm.weight",
        f"{block}.attn1.to_q.weight": f"{original}.attention_blocks.0.to_q.weight",
        f"{block}.attn2.to_out.0.bias": f"{original}.attention_blocks.1.to_out.0.bias",
        f"{block}.ff.net.2.weight": f"{original}.ff.net.2.weight",
        "up_blocks.3.motion_modules.2.norm.weight": "up_blocks.3.motion_modules.2.temporal_transformer.norm.weight",
    }
    for diffusers_key, original_key in pairs.items():
        assert state_dict[original_key] is tensors[diffusers_key]
    # one table per transformer block in diffusers -> one per attention block, not aliased
    pe0, pe1 = (state_dict[f"{original}.attention_blocks.{k}.pos_encoder.pe"] for k in (0, 1))
    assert torch.equal(pe0, tensors[f"{block}.pos_embed.pe"]) and torch.equal(pe1, pe0)
    assert pe0.data_ptr() != pe1.data_ptr() and info.pe_in_file


def test_diffusers_file_without_position_tables_uses_32_or_its_config(small_file, tmp_path):
    tensors = {k: v for k, v in read_tensors(small_file("diffusers")).items() if not k.endswith("pos_embed.pe")}
    path = tmp_path / "adapter" / "diffusion_pytorch_model.safetensors"
    path.parent.mkdir()
    save_file(tensors, path)
    _, info = load_motion_module(path)
    assert (info.family, info.pe_length, info.pe_in_file) == ("diffusers", 32, False)
    (path.parent / "config.json").write_text(json.dumps({"_class_name": "MotionAdapter", "motion_max_seq_length": 24}))
    network, info = load_motion_module(path)
    assert info.pe_length == 24 and network.pe_length == 24


def _diffusers_without_tables(small_file, tmp_path, config_text: str):
    tensors = {k: v for k, v in read_tensors(small_file("diffusers")).items() if not k.endswith("pos_embed.pe")}
    path = tmp_path / "adapter" / "diffusion_pytorch_model.safetensors"
    path.parent.mkdir()
    save_file(tensors, path)
    (path.parent / "config.json").write_text('{"_class_name": "MotionAdapter", "motion_max_seq_length": ' + config_text + "}")
    return path


@pytest.mark.parametrize("value", ["1000000000", "1025", "0", "-3", "2.5", '"32"', "true", "NaN", "Infinity", "null"])
def test_a_config_length_that_is_not_a_sane_frame_count_is_refused_before_allocating(small_file, tmp_path, value):
    path = _diffusers_without_tables(small_file, tmp_path, value)
    with pytest.raises(MotionModuleFormatError) as refused:
        load_motion_module(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: its diffusers config.json ({path.parent / 'config.json'}) sets "
                              f"motion_max_seq_length to {value};"), message
    assert "must be a whole number of frames from 1 to 1024" in message and "Set motion_max_seq_length in config.json" in message


def test_a_config_length_is_ignored_when_the_file_stores_its_tables(small_file, tmp_path):
    path = tmp_path / "adapter" / "diffusion_pytorch_model.safetensors"
    path.parent.mkdir()
    save_file(read_tensors(small_file("diffusers")), path)
    (path.parent / "config.json").write_text('{"_class_name": "MotionAdapter", "motion_max_seq_length": 1000000000}')
    _, info = load_motion_module(path)
    assert (info.pe_length, info.pe_in_file) == (32, True)


def test_regenerated_position_tables_are_the_fixture_writers_sinusoids(small_file, mm_files):
    network, _ = load_motion_module(small_file("animatelcm"))
    pe = network.mid_block.motion_modules[0].temporal_transformer.transformer_blocks[0].attention_blocks[1].pos_encoder.pe
    torch.testing.assert_close(pe, mm_files.sinusoids(64, 128), rtol=0, atol=1e-5)
    for length, channels in [(24, 320), (32, 1280), (7, 64)]:
        torch.testing.assert_close(sinusoidal_position_encoding(length, channels), mm_files.sinusoids(length, channels),
                                   rtol=0, atol=1e-5)  # fp32 vs fp64 arithmetic


def test_wrappers_and_non_motion_keys_are_stripped(small_file, tmp_path):
    tensors = read_tensors(small_file("v2"))
    path = tmp_path / "wrapped.ckpt"
    torch.save({"state_dict": {**tensors, "model.diffusion_model.extra.weight": torch.zeros(1), "cfg": {"a": 1}},
                "global_step": 100}, path)
    _, info = load_motion_module(path)
    assert info.family == "v2"


def test_kept_dtype_is_the_files(small_file, tmp_path):
    tensors = {k: v.half() for k, v in read_tensors(small_file("animatelcm")).items()}
    save_file(tensors, tmp_path / "lcm_fp16.safetensors")
    network, _ = load_motion_module(tmp_path / "lcm_fp16.safetensors")
    assert {t.dtype for t in network.state_dict().values()} == {torch.float16}  # regenerated PE too


def refused(tmp_path, tensors, name="model.ckpt"):
    path = tmp_path / name
    torch.save(tensors, path)
    with pytest.raises(MotionModuleFormatError) as info:
        load_motion_module(path)
    assert str(path) in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("kind, phrase", [
    ("animatelcm_i2v", r"AnimateLCM-I2V.*AnimateLCM_sd15_t2v"),
    ("pia", r"PIA.*9 input channels.*Choose an AnimateDiff motion module"),
    ("cameractrl", r"CameraCtrl.*Choose an AnimateDiff motion module"),
    ("v3_adapter", r"spatial \(image\) layers.*v3_sd15_adapter.*LoraLoaderModelOnly"),
])
def test_known_non_motion_module_files_are_refused_with_what_they_are(tmp_path, mm_files, kind, phrase):
    path = mm_files.write_motion_module(kind, tmp_path / mm_files.FILE_NAMES[kind])
    with pytest.raises(MotionModuleFormatError, match=f"(?s){phrase}"):
        load_motion_module(path)


def test_a_motion_lora_is_refused_as_a_module(tmp_path, mm_files):
    path = mm_files.write_motion_lora(tmp_path / "v2_lora_ZoomIn.ckpt", channel_divisor=10, rank=4)
    with pytest.raises(MotionModuleFormatError, match="(?s)motion LoRA.*'Load Motion LoRA \\(Kinema\\)'"):
        load_motion_module(path)


def test_a_stable_diffusion_checkpoint_is_refused(tmp_path):
    message = refused(tmp_path, {"model.diffusion_model.input_blocks.0.0.weight": torch.zeros(2, 2)})
    assert "no motion-module weights" in message and "Stable Diffusion checkpoint" in message


def test_an_empty_state_dict_is_refused(tmp_path):
    assert "empty checkpoint" in refused(tmp_path, {"animatediff_config": "x"})


def test_missing_and_unexpected_keys_are_listed_with_counts(small_file, tmp_path):
    tensors = read_tensors(small_file("v2"))
    gone = [k for k in tensors if k.startswith("up_blocks.1.motion_modules.2.") and "ff." in k]
    for key in gone:
        del tensors[key]
    tensors["down_blocks.0.motion_modules.0.temporal_transformer.extra_layer.weight"] = torch.zeros(1)
    message = refused(tmp_path, tensors)
    assert f"{len(gone)} missing keys" in message and gone[0] in message
    assert "1 unexpected keys" in message and "extra_layer.weight" in message


def test_wrong_shapes_are_refused(small_file, tmp_path):
    tensors = read_tensors(small_file("v3"))
    tensors["up_blocks.0.motion_modules.1.temporal_transformer.proj_in.weight"] = torch.zeros(5, 5)
    assert "do not fit" in refused(tmp_path, tensors)


def test_an_unknown_level_count_is_refused(small_file, tmp_path):
    tensors = {k: v for k, v in read_tensors(small_file("v1")).items() if not k.startswith(("down_blocks.3", "up_blocks.3", "down_blocks.2", "up_blocks.2"))}
    assert "neither the SD1.5 layout" in refused(tmp_path, tensors)
