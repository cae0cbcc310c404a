"""Every family loads from a full-size file with the released key set, shapes and dtype.

The slowest motion-module tests (~1 min: up to 1.8 GB per file). One file exists at a
time: the module-scoped, parametrised fixture writes a family, its tests run, and the
file is deleted before the next family is written.
"""

from __future__ import annotations

import pytest
import torch

from kinema.motion_modules.formats import FAMILIES, load_motion_module

SD15 = (320, 640, 1280, 1280)
SDXL = (320, 640, 1280)
# family: model_type, pe_length, has_mid, down channels, parameter count (22 C^2 + 21 C per module)
EXPECTED = {
    "v1": ("SD15", 24, False, SD15, 417_137_600),
    "v2": ("SD15", 32, True, SD15, 453_209_280),
    "v3": ("SD15", 32, False, SD15, 417_137_600),
    "sdxl": ("SDXL", 32, False, SDXL, 236_779_200),
    "hotshotxl": ("SDXL", 24, False, SDXL, 236_779_200),
    "animatelcm": ("SD15", 64, True, SD15, 453_209_280),
    "diffusers": ("SD15", 32, True, SD15, 453_209_280),
}


@pytest.fixture(scope="module", params=FAMILIES)
def full_size_file(request, mm_files, tmp_path_factory):
    family = request.param
    path = mm_files.write_motion_module(family, tmp_path_factory.mktemp(family) / mm_files.FILE_NAMES[family])
    yield family, path
    path.unlink()


def test_full_size_file_loads_and_is_recognised(full_size_file, mm_files):
    family, path = full_size_file
    network, info = load_motion_module(path)
    model_type, pe_length, has_mid, channels, params = EXPECTED[family]
    assert (info.family, info.model_type, info.pe_length, info.has_mid_block) == (family, model_type, pe_length, has_mid)
    assert info.channels == channels
    assert sum(p.numel() for p in network.parameters()) == params
    state = network.state_dict()
    assert {t.dtype for t in state.values()} == {torch.float32}
    # every stored tensor arrived under its normalised name (renames lose nothing)
    stored = mm_files.motion_module_shapes(family)
    stored_params = sum(torch.Size(s).numel() for k, s in stored.items() if not k.endswith(("pe", "positional_encoding")))
    assert stored_params == params
    # fp32 like the released files: 4 bytes per parameter plus PE tables and container overhead
    assert 4 * params < path.stat().st_size < 4.02 * params
