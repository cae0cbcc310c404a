"""The embedded host finds models where the user's ComfyUI does: extra_model_paths.yaml, as main.py reads it."""

from __future__ import annotations

from pathlib import Path

from host_setup import comfyui_path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

# Boots EmbeddedComfy on the given tree, with a further config on its ComfyUI command line,
# and reports what ComfyUI lists and whether a workflow naming the user's files keeps them.
BOOT_AND_LIST = r"""
import json, sys
from pathlib import Path

scripts, comfyui, work, extra_config = sys.argv[1:5]
sys.path.insert(0, scripts)
from pack_import import import_pack

import_pack()
from kinema.runner.embedded import EmbeddedComfy, HostPaths
from kinema.runner.prompt_edits import substitute_missing_models

work = Path(work)
host = EmbeddedComfy(HostPaths(comfyui=Path(comfyui), output=work / "output", work=work),
                     extra_args=("--extra-model-paths-config", extra_config)).boot()
import folder_paths

prompt = {"1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "users-own-sd15.safetensors"}},
          "2": {"class_type": "LoraLoaderModelOnly",
                "inputs": {"model": ["1", 0], "lora_name": "users-own-lora.safetensors", "strength_model": 1.0}}}
stand_ins = {"users-own-sd15.safetensors": "kinema-random-sd15.safetensors", "users-own-lora.safetensors": "kinema-random-lora.ckpt"}
_, replaced = substitute_missing_models(prompt, host.model_installed, stand_ins)
print("KINEMA-RESULT " + json.dumps({
    "checkpoints": folder_paths.get_filename_list("checkpoints"),
    "loras": folder_paths.get_filename_list("loras"),
    "checkpoint_path": folder_paths.get_full_path("checkpoints", "users-own-sd15.safetensors"),
    "lora_path": folder_paths.get_full_path("loras", "users-own-lora.safetensors"),
    "replaced": replaced,
}))
"""


def _comfyui_tree_with_links(real: Path, tree: Path) -> Path:
    """A folder that is that ComfyUI to Python (a link per top-level entry), so files can be added beside them."""
    tree.mkdir()
    for entry in real.iterdir():
        if entry.name != "extra_model_paths.yaml":
            (tree / entry.name).symlink_to(entry)
    return tree


def test_extra_model_paths_yaml_and_command_line_configs_are_read(run_python, tmp_path):
    tree = _comfyui_tree_with_links(comfyui_path(), tmp_path / "ComfyUI")
    elsewhere = tmp_path / "my-models"
    (elsewhere / "sd").mkdir(parents=True)
    (elsewhere / "sd" / "users-own-sd15.safetensors").write_bytes(b"not read, only listed")
    # the documented layout (extra_model_paths.yaml.example): a base_path and folders relative to it
    (tree / "extra_model_paths.yaml").write_text(f"mine:\n    base_path: {elsewhere}\n    checkpoints: sd\n")
    loras = tmp_path / "more" / "loras"
    loras.mkdir(parents=True)
    (loras / "users-own-lora.safetensors").write_bytes(b"listed too")
    more = tmp_path / "more" / "paths.yaml"
    more.write_text(f"more:\n    loras: {loras}\n")

    found = run_python(BOOT_AND_LIST, SCRIPTS, tree, tmp_path / "work", more)

    assert "users-own-sd15.safetensors" in found["checkpoints"], "<ComfyUI>/extra_model_paths.yaml was not read"
    assert found["checkpoint_path"] == str(elsewhere / "sd" / "users-own-sd15.safetensors")
    assert "users-own-lora.safetensors" in found["loras"], "--extra-model-paths-config was not read"
    assert found["lora_path"] == str(loras / "users-own-lora.safetensors")
    assert found["replaced"] == {}, "the user's own models must run, not random stand-ins"


MISSING_CONFIG = r"""
import json, sys
from pathlib import Path

scripts, comfyui, work, extra_config = sys.argv[1:5]
sys.path.insert(0, scripts)
from pack_import import import_pack

import_pack()
from kinema.runner.embedded import EmbeddedComfy, HostPaths

work = Path(work)
host = EmbeddedComfy(HostPaths(comfyui=Path(comfyui), output=work / "output", work=work),
                     extra_args=("--extra-model-paths-config", extra_config))
try:
    host.boot()
    print("KINEMA-RESULT " + json.dumps({"error": None}))
except (OSError, ValueError) as err:
    print("KINEMA-RESULT " + json.dumps({"error": str(err)}))
"""


def test_a_missing_command_line_config_is_named(run_python, tmp_path):
    missing = tmp_path / "no-such-paths.yaml"
    reported = run_python(MISSING_CONFIG, SCRIPTS, comfyui_path(), tmp_path / "work", missing)
    assert reported["error"] is not None and str(missing) in reported["error"] and "--extra-model-paths-config" in reported["error"]
