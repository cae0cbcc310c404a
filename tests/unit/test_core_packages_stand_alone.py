"""The core packages are plain PyTorch: none imports ComfyUI, the glue or the nodes (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACK_ROOT = Path(__file__).resolve().parents[2]
CORE_PACKAGES = ["motion_modules", "frame_attention", "text2video_zero", "controlvideo", "interpolation", "windowing", "storydiffusion",
                 "video_metrics", "weight_files"]
HOST_MODULES = {"comfy", "comfy_api", "comfy_extras", "folder_paths", "nodes", "server", "execution"}
PACK_HOST_PARTS = {"comfy_glue", "nodes", "runner"}


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(module, relative level) of every import in a file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


@pytest.mark.parametrize("package", CORE_PACKAGES)
def test_a_core_package_imports_no_host_module(package):
    files = sorted((PACK_ROOT / package).rglob("*.py"))
    assert files, f"{package} has no sources"
    offenders = []
    for path in files:
        for module, level in imports_of(path):
            top = module.split(".")[0]
            if (level == 0 and top in HOST_MODULES) or (level >= 2 and top in PACK_HOST_PARTS):
                offenders.append(f"{path.relative_to(PACK_ROOT)} imports {'.' * level}{module}")
    assert not offenders, offenders


def test_the_check_sees_a_glue_import(tmp_path):
    (tmp_path / "bad.py").write_text("from ..comfy_glue import patcher\nimport comfy.sd\n")
    assert imports_of(tmp_path / "bad.py") == [("comfy_glue", 2), ("comfy.sd", 0)]
