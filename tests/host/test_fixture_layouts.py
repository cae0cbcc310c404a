"""The random fixture files have the released files' layout, and ComfyUI's own loaders take them unchanged.

Each file is checked twice: its header (key counts, a few exact shapes and dtypes of
the released file) and a load through the real ComfyUI 0.3.75 entry points, with every
key used: no missing or unexpected UNet / VAE / ControlNet keys, and nothing left over
except what ComfyUI leaves over from the released file too (CLIP-L's ``position_ids``
buffer, LDM's noise-schedule tables and EMA bookkeeping).

Sources for the released files' counts:
- ``sd_xl_base_1.0.safetensors``: 2515 tensors in f16, 1680 of them the UNet's, 248 the
  VAE's; ``logit_scale`` and CLIP-L's ``position_ids`` are in it (bisand/kvad,
  docs/checkpoint-plan.md, from the file's header). 2515 = 1680 + 248 + 197 (CLIP-L) + 390 (bigG).
- ``v1-5-pruned-emaonly.safetensors``: f32, 1022 tensors read plus 123 unread (the VAE
  encoder's 108, ``position_ids``, 12 schedule tables, the EMA's 2), 1145 in all
  (bisand/kvad, docs/sd15-plan.md).
- ``control_v11p_sd15_*.pth``: 340 keys, all ``control_model.*``, 42 of them outside the
  UNet-encoder copy (hint block, zero convs, middle_block_out): eccv2024tcan/TCAN issue #5
  (340 keys of control_v11p_sd15_openpose.pth unmatched; "len(m) == 42").
"""

from __future__ import annotations

import ast
import gc
import logging
import math
import re
import zipfile
from pathlib import Path

import pytest
import torch

SCHEDULE_TABLES = {
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod", "posterior_variance",
    "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
}
EMA_BOOKKEEPING = {"model_ema.decay", "model_ema.num_updates"}
# What ComfyUI itself files as expected (sd.py filters these "clip missing" names to a debug message).
CLIP_MISSING_EXPECTED = {"clip_l.logit_scale", "clip_l.transformer.text_projection.weight"}
CLIP_UNEXPECTED_EXPECTED = {"clip_l.transformer.text_model.embeddings.position_ids"}

# ComfyUI's messages about state-dict keys (comfy/sd.py, model_base.py, controlnet.py) -> what they list.
KEY_MESSAGES = {
    "unet missing": re.compile(r"^unet missing: "),
    "unet unexpected": re.compile(r"^unet unexpected: "),
    "vae missing": re.compile(r"^Missing VAE keys "),
    "vae left over": re.compile(r"^Leftover VAE keys "),
    "clip missing": re.compile(r"^clip missing: "),
    "clip unexpected": re.compile(r"^clip unexpected"),
    "left over": re.compile(r"^left over keys"),
    "controlnet missing": re.compile(r"^missing controlnet keys: "),
    "controlnet unexpected": re.compile(r"^unexpected controlnet keys: "),
    "controlnet left over": re.compile(r"^leftover keys: "),
}


def _listed(message: str) -> set[str]:
    match = re.search(r"\[.*\]", message, re.S)
    return set(ast.literal_eval(match.group(0))) if match else {message}


def key_reports(records: list[logging.LogRecord]) -> dict[str, set[str]]:
    """The keys ComfyUI reported, by message kind (absent kinds were not logged at all)."""
    reports: dict[str, set[str]] = {}
    for record in records:
        message = record.getMessage()
        for kind, pattern in KEY_MESSAGES.items():
            if pattern.search(message):
                reports.setdefault(kind, set()).update(_listed(message))
    return reports


def header(path: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape())) for k in f.keys()}


def count(keys, prefix: str) -> int:
    return sum(1 for k in keys if k.startswith(prefix))


def _fixture_file(home: Path, stands_for: str, write, fallback: Path):
    """The cached fixture standing for ``stands_for`` if the cache knows one, else a file written at ``fallback``.

    A file written at ``fallback`` is deleted at the end of the session (GBs each, and pytest
    keeps its last temporary folders).
    """
    from fixtures import cache

    for key, fixture in cache.FIXTURES.items():
        if fixture.stands_for == stands_for:
            yield cache.ensure_fixtures(home, [key])[key]
            return
    path = write(fallback)
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def layout_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("layouts")


@pytest.fixture(scope="session")
def sd15_file(home, comfy_host) -> Path:
    from fixtures import cache

    return cache.ensure_fixtures(home, ["sd15"])["sd15"]


@pytest.fixture(scope="session")
def sdxl_file(home, comfy_host, layout_dir):
    from fixtures.sdxl_checkpoint import write_sdxl

    yield from _fixture_file(home, "sd_xl_base_1.0.safetensors", write_sdxl, layout_dir / "sd_xl_base_1.0.safetensors")


@pytest.fixture(scope="session")
def controlnet_pth(home, comfy_host, layout_dir):
    from fixtures.controlnet_files import write_controlnet_sd15

    yield from _fixture_file(home, "control_v11p_sd15_canny.pth", write_controlnet_sd15, layout_dir / "control_v11p_sd15_canny.pth")


@pytest.fixture(scope="session")
def controlnet_fp16(home, comfy_host, layout_dir):
    from fixtures.controlnet_files import write_controlnet_sd15_safetensors

    yield from _fixture_file(home, "control_v11p_sd15_canny_fp16.safetensors", write_controlnet_sd15_safetensors,
                             layout_dir / "control_v11p_sd15_canny_fp16.safetensors")


def _release_models() -> None:
    import comfy.model_management

    gc.collect()
    comfy.model_management.cleanup_models()


def load_checkpoint(path: Path, caplog, **model_options):
    import comfy.sd

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        loaded = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True, model_options=model_options)
    model, clip, vae, _ = loaded
    return model, clip, vae, key_reports(caplog.records)


def assert_every_checkpoint_key_used(reports: dict[str, set[str]], left_over_allowed: set[str] = frozenset()) -> None:
    for kind in ("unet missing", "unet unexpected", "vae missing", "vae left over"):
        assert kind not in reports, f"{kind}: {sorted(reports[kind])[:10]}"
    assert reports.get("clip missing", set()) <= CLIP_MISSING_EXPECTED, reports["clip missing"]
    assert reports.get("clip unexpected", set()) <= CLIP_UNEXPECTED_EXPECTED, reports["clip unexpected"]
    assert reports.get("left over", set()) <= left_over_allowed, sorted(reports["left over"] - left_over_allowed)


def test_key_reports_read_comfyuis_messages():
    def record(level, message):
        return logging.LogRecord("root", level, __file__, 0, message, None, None)

    reports = key_reports([
        record(logging.DEBUG, "left over keys: dict_keys(['betas', 'model_ema.decay'])"),
        record(logging.DEBUG, "clip unexpected ['clip_l.transformer.text_model.embeddings.position_ids']:"),
        record(logging.WARNING, "unet missing: ['out.2.weight']"),
        record(logging.WARNING, "Missing VAE keys ['decoder.conv_out.weight']"),
        record(logging.WARNING, "missing controlnet keys: ['input_hint_block.0.weight']"),
        record(logging.INFO, "model_type EPS"),
    ])
    assert reports == {
        "left over": {"betas", "model_ema.decay"},
        "clip unexpected": CLIP_UNEXPECTED_EXPECTED,
        "unet missing": {"out.2.weight"},
        "vae missing": {"decoder.conv_out.weight"},
        "controlnet missing": {"input_hint_block.0.weight"},
    }


# --- the streaming safetensors writer the SDXL fixture uses -------------------------------------------


def test_streamed_safetensors_are_byte_identical_to_the_library(tmp_path):
    from safetensors.torch import save_file

    from fixtures.sdxl_checkpoint import stream_safetensors

    tensors = {
        "b.weight": torch.randn(3, 5).half(), "a.weight": torch.randn(7).half(), "ids": torch.arange(77).unsqueeze(0),
        "scale": torch.tensor(4.6055, dtype=torch.float16), "f32": torch.randn(2, 2), "step": torch.tensor(3, dtype=torch.int32),
        "bf": torch.randn(4).bfloat16(), "flag": torch.tensor([True, False]), "empty": torch.zeros(0, 3),
    }
    # One metadata entry at most: the library writes a metadata map in random (hash) order.
    for metadata in (None, {"kinema_fixture": "random, ü"}):
        save_file(tensors, str(tmp_path / "library.safetensors"), metadata=metadata)
        specs = [(k, tuple(v.shape), v.dtype) for k, v in tensors.items()]
        stream_safetensors(specs, tensors.__getitem__, tmp_path / "streamed.safetensors", metadata)
        assert (tmp_path / "streamed.safetensors").read_bytes() == (tmp_path / "library.safetensors").read_bytes()


# --- SD1.5: v1-5-pruned-emaonly.safetensors ----------------------------------------------------------


def test_sd15_header_has_the_released_parts(sd15_file):
    tensors = header(sd15_file)
    assert count(tensors, "model.diffusion_model.") == 686
    assert count(tensors, "first_stage_model.") == 248
    assert count(tensors, "cond_stage_model.transformer.text_model.") == 197
    assert SCHEDULE_TABLES <= set(tensors)
    expected = {
        "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
        "model.diffusion_model.input_blocks.1.1.proj_in.weight": (320, 320, 1, 1),
        "model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
        "model.diffusion_model.middle_block.1.proj_out.weight": (1280, 1280, 1, 1),
        "model.diffusion_model.out.2.weight": (4, 320, 3, 3),
        "first_stage_model.encoder.conv_in.weight": (128, 3, 3, 3),
        "first_stage_model.quant_conv.weight": (8, 8, 1, 1),
        "first_stage_model.post_quant_conv.weight": (4, 4, 1, 1),
        "first_stage_model.decoder.conv_out.weight": (3, 128, 3, 3),
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight": (49408, 768),
        "cond_stage_model.transformer.text_model.embeddings.position_embedding.weight": (77, 768),
        "cond_stage_model.transformer.text_model.embeddings.position_ids": (1, 77),
        "betas": (1000,),
    }
    assert {k: tensors[k][1] for k in expected} == expected
    assert tensors["cond_stage_model.transformer.text_model.embeddings.position_ids"][0] == "I64"


def test_sd15_matches_the_released_file_whole(sd15_file):
    tensors = header(sd15_file)
    assert len(tensors) == 1145
    assert EMA_BOOKKEEPING <= set(tensors)
    assert tensors["model_ema.num_updates"] == ("I32", ())
    assert {dtype for k, (dtype, _) in tensors.items() if not k.endswith(("position_ids", "num_updates"))} == {"F32"}


def test_sd15_loads_in_comfyui_as_sd15_with_every_key_used(sd15_file, caplog):
    model, clip, vae, reports = load_checkpoint(sd15_file, caplog)
    try:
        assert type(model.model.model_config).__name__ == "SD15"
        assert clip is not None and vae is not None
        assert_every_checkpoint_key_used(reports, SCHEDULE_TABLES | EMA_BOOKKEEPING)
        # ComfyUI reports the schedule tables as left over (for the released file too): proof the log is read.
        assert SCHEDULE_TABLES <= reports["left over"]
    finally:
        del model, clip, vae
        _release_models()


# --- SDXL: sd_xl_base_1.0.safetensors ----------------------------------------------------------------


@pytest.mark.heavy
def test_sdxl_header_has_the_released_parts(sdxl_file):
    tensors = header(sdxl_file)
    assert len(tensors) == 2515
    assert count(tensors, "model.diffusion_model.") == 1680
    assert count(tensors, "first_stage_model.") == 248
    assert count(tensors, "conditioner.embedders.0.transformer.text_model.") == 197
    assert count(tensors, "conditioner.embedders.1.model.") == 390
    assert not any(".visual." in k or k.endswith("attn_mask") for k in tensors)
    position_ids = "conditioner.embedders.0.transformer.text_model.embeddings.position_ids"
    assert tensors[position_ids] == ("I64", (1, 77))
    assert {dtype for k, (dtype, _) in tensors.items() if k != position_ids} == {"F16"}
    g = "conditioner.embedders.1.model."
    expected = {
        "model.diffusion_model.input_blocks.0.0.weight": (320, 4, 3, 3),
        "model.diffusion_model.time_embed.0.weight": (1280, 320),
        "model.diffusion_model.label_emb.0.0.weight": (1280, 2816),
        "model.diffusion_model.input_blocks.4.1.proj_in.weight": (640, 640),
        "model.diffusion_model.input_blocks.8.1.transformer_blocks.9.attn2.to_k.weight": (1280, 2048),
        "model.diffusion_model.middle_block.1.transformer_blocks.9.ff.net.0.proj.weight": (10240, 1280),
        "model.diffusion_model.output_blocks.2.2.conv.weight": (1280, 1280, 3, 3),
        "model.diffusion_model.out.2.weight": (4, 320, 3, 3),
        "first_stage_model.quant_conv.weight": (8, 8, 1, 1),
        "first_stage_model.decoder.conv_out.weight": (3, 128, 3, 3),
        "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight": (49408, 768),
        "conditioner.embedders.0.transformer.text_model.final_layer_norm.weight": (768,),
        g + "token_embedding.weight": (49408, 1280),
        g + "positional_embedding": (77, 1280),
        g + "transformer.resblocks.31.attn.in_proj_weight": (3840, 1280),
        g + "transformer.resblocks.31.attn.out_proj.weight": (1280, 1280),
        g + "transformer.resblocks.31.mlp.c_fc.weight": (5120, 1280),
        g + "transformer.resblocks.31.mlp.c_proj.weight": (1280, 5120),
        g + "ln_final.weight": (1280,),
        g + "text_projection": (1280, 1280),
        g + "logit_scale": (),
    }
    assert {k: tensors[k][1] for k in expected} == expected
    assert not any(k.startswith(g + "transformer.resblocks.32.") for k in tensors)


@pytest.mark.heavy
def test_sdxl_loads_in_comfyui_as_sdxl_with_every_key_used(sdxl_file, caplog):
    # fp16 weights in memory (as on a GPU) keep the CPU load near 7 GB of RAM instead of 12.
    model, clip, vae, reports = load_checkpoint(sdxl_file, caplog, dtype=torch.float16)
    try:
        assert type(model.model.model_config).__name__ == "SDXL"
        assert clip is not None and vae is not None
        assert_every_checkpoint_key_used(reports)
        assert reports["clip unexpected"] == CLIP_UNEXPECTED_EXPECTED  # as for the released file: the log is read
        logit_scale = clip.cond_stage_model.clip_g.logit_scale
        assert math.isclose(float(logit_scale.detach()), math.log(100.0), rel_tol=1e-3)
    finally:
        del model, clip, vae
        _release_models()


# --- ControlNet 1.1: control_v11p_sd15_canny.pth and its fp16 safetensors ------------------------------

CONTROLNET_SHAPES = {
    "control_model.input_hint_block.0.weight": (16, 3, 3, 3),
    "control_model.input_hint_block.14.weight": (320, 256, 3, 3),
    "control_model.input_blocks.0.0.weight": (320, 4, 3, 3),
    "control_model.time_embed.0.weight": (1280, 320),
    "control_model.input_blocks.1.1.proj_in.weight": (320, 320, 1, 1),
    "control_model.input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (320, 768),
    "control_model.zero_convs.0.0.weight": (320, 320, 1, 1),
    "control_model.zero_convs.11.0.weight": (1280, 1280, 1, 1),
    "control_model.middle_block_out.0.weight": (1280, 1280, 1, 1),
}


def _assert_controlnet_keys(shapes: dict[str, tuple[int, ...]]) -> None:
    assert len(shapes) == 340
    assert all(k.startswith("control_model.") for k in shapes)
    added = ("control_model.input_hint_block.", "control_model.zero_convs.", "control_model.middle_block_out.")
    outside_encoder = [k for k in shapes if k.startswith(added)]
    assert len(outside_encoder) == 42
    assert count(shapes, "control_model.zero_convs.") == 24 and count(shapes, "control_model.input_hint_block.") == 16
    assert not any(k.startswith(("control_model.output_blocks.", "control_model.out.")) for k in shapes)
    assert {k: shapes[k] for k in CONTROLNET_SHAPES} == CONTROLNET_SHAPES
    assert sum(math.prod(s) for s in shapes.values()) == 361_279_120


def _load_controlnet(path: Path, caplog):
    import comfy.controlnet

    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        control = comfy.controlnet.load_controlnet(str(path))
    return control, key_reports(caplog.records)


def test_controlnet_pth_is_a_plain_fp32_state_dict(controlnet_pth):
    assert zipfile.is_zipfile(controlnet_pth), "torch.save's zip container"
    state = torch.load(controlnet_pth, map_location="cpu", weights_only=True)
    try:
        assert type(state) is dict
        assert {v.dtype for v in state.values()} == {torch.float32}
        _assert_controlnet_keys({k: tuple(v.shape) for k, v in state.items()})
    finally:
        del state


def test_controlnet_pth_loads_in_comfyui_with_every_key_used(controlnet_pth, caplog):
    import comfy.controlnet

    control, reports = _load_controlnet(controlnet_pth, caplog)
    try:
        assert isinstance(control, comfy.controlnet.ControlNet)
        assert control.control_model.input_hint_block[0].in_channels == 3
        assert not reports, reports
    finally:
        del control
        _release_models()


def test_controlnet_fp16_safetensors_has_the_same_keys_in_fp16(controlnet_fp16):
    tensors = header(controlnet_fp16)
    assert {dtype for dtype, _ in tensors.values()} == {"F16"}
    _assert_controlnet_keys({k: shape for k, (_, shape) in tensors.items()})


def test_controlnet_fp16_safetensors_loads_in_comfyui_with_every_key_used(controlnet_fp16, caplog):
    import comfy.controlnet

    control, reports = _load_controlnet(controlnet_fp16, caplog)
    try:
        assert isinstance(control, comfy.controlnet.ControlNet)
        assert not reports, reports
    finally:
        del control
        _release_models()
