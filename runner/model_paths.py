"""The model folders ComfyUI's main.py adds before anything runs: its extra_model_paths.yaml files.

Users who keep models outside the ComfyUI tree list those folders in
``<ComfyUI>/extra_model_paths.yaml`` or in files given with ``--extra-model-paths-config``;
an embedded host must read them as the server does, or it finds none of those models.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

log = logging.getLogger(__name__)


def extra_model_path_configs(comfyui: Path, cli_args) -> list[Path]:
    """The files main.py reads, in its order: ``<ComfyUI>/extra_model_paths.yaml``, then each ``--extra-model-paths-config``.

    main.py looks beside its own real path; we look in the ComfyUI folder we were given,
    the same folder unless main.py itself is a link.
    """
    beside = comfyui / "extra_model_paths.yaml"
    given = [Path(path) for path in itertools.chain(*(cli_args.extra_model_paths_config or []))]
    for path in given:
        if not path.is_file():
            raise FileNotFoundError(f"--extra-model-paths-config {path}: no such file; correct the path or leave the option out.")
    return ([beside] if beside.is_file() else []) + given


def load_extra_model_paths(comfyui: Path) -> list[Path]:
    """Register the folders of every such file with ComfyUI (its own loader); return the files read."""
    import utils.extra_config
    import yaml
    from comfy.cli_args import args

    configs = extra_model_path_configs(comfyui, args)
    for config in configs:
        log.info("model folders from %s", config)
        try:
            utils.extra_config.load_extra_path_config(str(config))
        except (yaml.YAMLError, AttributeError, TypeError) as err:
            raise ValueError(f"{config}: ComfyUI cannot read it as an extra_model_paths.yaml ({err}); "
                             f"fix it after {comfyui / 'extra_model_paths.yaml.example'}.") from err
    return configs
