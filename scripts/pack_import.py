"""Import this clone as the package ``kinema`` (tests and scripts), wherever it lives.

ComfyUI imports a custom-node folder under a name derived from its path; outside
ComfyUI we use one fixed name, with the same relative imports inside the pack.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parent.parent


def import_pack(name: str = "kinema"):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACK_ROOT / "__init__.py", submodule_search_locations=[str(PACK_ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_standalone(relative_path: str):
    """One standard-library-only file of the pack (e.g. runner/allocator.py) as a module of its own: set-up scripts
    use it before any host exists, when importing the whole pack (torch, ComfyUI) cannot work yet."""
    path = PACK_ROOT / relative_path
    name = "kinema_standalone_" + path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
