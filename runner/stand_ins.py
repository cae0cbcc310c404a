"""Random-weight stand-ins for model files a host lacks, as the runner takes them from its caller.

The runner has none of its own: scripts/batch.py builds one of these from scripts/fixtures
(the random real-layout files) and hands it to ``runner.cli.main``, which uses it only for
``--stand-ins``. Without it the host sees the user's models and nothing else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class StandIns:
    model_dirs: dict[str, list[Path]]  # ComfyUI model folder key -> folders the stand-in files live in
    names: dict[str, str]  # released file name (as workflows name it) -> its stand-in's file name
    write: Callable[[list[str]], object]  # writes these stand-in files (by file name) unless already written
    sample_inputs: Callable[[Path], object]  # puts the shipped workflows' input media into this input folder
