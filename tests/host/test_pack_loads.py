"""The pack loads into the real ComfyUI 0.3.75 and presents complete node definitions."""

from __future__ import annotations

import sys
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[2]


def test_pack_imports_without_failure(comfy_host):
    loaded = {Path(d).resolve() for d in comfy_host.loaded_module_dirs().values()}
    assert PACK_ROOT in loaded, f"the pack is not among ComfyUI's loaded custom nodes: {sorted(map(str, loaded))}"
    # Core nodes that need torchaudio fail on this host; only our pack's messages matter here.
    pack_files = [str(p) for p in PACK_ROOT.iterdir() if not p.name.startswith(".")]
    ours = [str(comfy_host.paths.comfyui / "custom_nodes"), *pack_files]
    failures = [m for m in comfy_host.import_warnings if any(place in m for place in ours)]
    assert not failures, failures


def _pack_as_comfy_loaded_it():
    """ComfyUI imports the pack under a path-derived name: its node classes are the registered ones."""
    init = PACK_ROOT / "__init__.py"
    return next(m for name, m in sys.modules.items() if "custom_nodes" in name and getattr(m, "__file__", None) and Path(m.__file__).resolve() == init)


def test_every_node_is_registered_with_the_kinema_prefix(comfy_host):
    nodes = sys.modules[_pack_as_comfy_loaded_it().__name__ + ".nodes"]
    registered = comfy_host.node_types()
    assert nodes.ALL_NODES
    for node in nodes.ALL_NODES:
        node_id = node.GET_SCHEMA().node_id
        assert node_id.startswith("Kinema"), node_id
        assert registered.get(node_id) is node, f"{node_id} is missing from ComfyUI's registry"


def test_every_node_has_a_description_and_every_input_a_tooltip(comfy_host):
    nodes = sys.modules[_pack_as_comfy_loaded_it().__name__ + ".nodes"]
    for node in nodes.ALL_NODES:
        schema = node.GET_SCHEMA()
        assert schema.description and len(schema.description) > 40, schema.node_id
        for item in schema.inputs:
            assert item.tooltip, f"{schema.node_id}.{item.id} has no tooltip"
        for item in schema.outputs:
            assert item.tooltip, f"{schema.node_id} output {item.display_name or item.io_type} has no tooltip"


def test_motion_model_folders_are_registered(comfy_host, model_files):
    import folder_paths

    for key in ("animatediff_models", "animatediff_motion_lora"):
        paths = folder_paths.get_folder_paths(key)
        assert any(Path(p).name == key and Path(p).parent.name == "models" for p in paths), paths
    assert model_files["mm_v2"].name in folder_paths.get_filename_list("animatediff_models")
    assert model_files["motion_lora_v2"].name in folder_paths.get_filename_list("animatediff_motion_lora")
