"""Model folders: the keys AnimateDiff users already have, and finding files in them.

Checked on ComfyUI 0.3.75 and 0.8.0 (``folder_paths`` is the same in both).
"""

from __future__ import annotations

from pathlib import Path

import folder_paths

MOTION_MODELS = "animatediff_models"
MOTION_LORAS = "animatediff_motion_lora"
RIFE = "rife"  # RIFE frame-interpolation weights (ControlVideo's flownet.pkl)


def register_model_folders() -> None:
    """Register ``models/animatediff_models``, ``models/animatediff_motion_lora`` and ``models/rife`` (idempotent)."""
    for key in (MOTION_MODELS, MOTION_LORAS, RIFE):
        folder_paths.add_model_folder_path(key, str(Path(folder_paths.models_dir) / key), is_default=True)  # idempotent
        # A new key starts with an empty extension set, which would list any file at all.
        folder_paths.folder_names_and_paths[key][1].update(folder_paths.supported_pt_extensions)
    folder_paths.folder_names_and_paths[RIFE][1].add(".pkl")  # flownet.pkl's extension, whether or not the host lists it


def list_model_files(key: str) -> list[str]:
    return folder_paths.get_filename_list(key)


def missing_model_file(key: str, name: str) -> str | None:
    """None when ``name`` is in a ``key`` folder, else a message naming the file, the folders and the fix."""
    if not isinstance(name, str):
        return f"{name!r} is not a file name; pick a file from the {key} list."
    if folder_paths.get_full_path(key, name) is not None:
        return None
    searched = ", ".join(folder_paths.get_folder_paths(key))
    return f"{name!r} is not in any {key} folder (searched: {searched}); put the file there or pick another."


def model_file_path(key: str, name: str) -> Path:
    problem = missing_model_file(key, name)
    if problem:
        raise FileNotFoundError(problem)
    return Path(folder_paths.get_full_path(key, name))
