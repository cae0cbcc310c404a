"""The pack loads into the real ComfyUI (0.3.75 and 0.8.0) and presents complete node definitions.

Two start-up behaviours of ComfyUI after 0.8.0 are reproduced as that ComfyUI's own code
runs them (read from the 0.38 source): ``nodes.py`` awaits a V3 extension's ``on_load()``
before ``get_node_list()``, and ``main.py`` rebinds ``comfy.model_patcher.CoreModelPatcher``
to ``ModelPatcherDynamic`` when DynamicVRAM is on.
"""

from __future__ import annotations

import asyncio
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


def test_newer_comfyuis_on_load_then_get_node_list_registers_each_folder_once(comfy_host):
    import folder_paths

    pack = _pack_as_comfy_loaded_it()
    extension = sys.modules[pack.__name__ + ".nodes"].KinemaExtension()
    before = {key: list(folder_paths.get_folder_paths(key)) for key in ("animatediff_models", "animatediff_motion_lora")}
    asyncio.run(extension.on_load())
    node_list = asyncio.run(extension.get_node_list())
    assert node_list and {key: folder_paths.get_folder_paths(key) for key in before} == before
    for key, paths in before.items():
        assert len(paths) == len(set(paths)) and Path(paths[0]) == Path(folder_paths.models_dir) / key


def test_motion_modules_load_into_the_hosts_core_patcher_class(comfy_host, model_files, monkeypatch):
    """Newer ComfyUI builds models with CoreModelPatcher, which its main.py rebinds at start-up under DynamicVRAM."""
    import comfy.model_patcher

    class DynamicPatcher(comfy.model_patcher.ModelPatcher):
        pass

    monkeypatch.setattr(comfy.model_patcher, "CoreModelPatcher", DynamicPatcher, raising=False)  # what that main.py does
    nodes = sys.modules[_pack_as_comfy_loaded_it().__name__ + ".nodes"]
    loaded = nodes.motion_module_nodes.LoadMotionModule.execute(model_files["mm_v2"].name).args[0]
    assert type(loaded.patcher) is DynamicPatcher
