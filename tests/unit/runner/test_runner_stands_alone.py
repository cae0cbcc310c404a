"""The runner is part of the pack: it imports with only the pack importable, never scripts/ code.

Its callers (scripts/batch.py, scripts/demo.py, tests) hand it what scripts/ knows: the
ComfyUI folder, and random stand-ins when asked for.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[3]
RUNNER = PACK_ROOT / "runner"
SCRIPTS = PACK_ROOT / "scripts"


def _scripts_modules() -> set[str]:
    """Top-level names scripts/ provides when it is on sys.path (host_setup, fixtures, pack_import ...)."""
    return {path.stem for path in SCRIPTS.glob("*.py")} | {path.name for path in SCRIPTS.iterdir() if (path / "__init__.py").exists()}


def _absolute_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module, node.lineno


def test_no_runner_module_imports_scripts_code():
    scripts = _scripts_modules()
    assert {"host_setup", "fixtures", "pack_import"} <= scripts
    offenders = [f"runner/{path.name}:{line} imports {name}"
                 for path in sorted(RUNNER.glob("*.py"))
                 for name, line in _absolute_imports(ast.parse(path.read_text()))
                 if name.split(".")[0] in scripts]
    assert not offenders, offenders


# The pack imported from its folder alone (as ComfyUI or a user's own code would), then every runner module.
IMPORT_EVERY_MODULE = r"""
import importlib, importlib.util, json, sys
from pathlib import Path

pack_root, scripts, names = Path(sys.argv[1]), sys.argv[2], sys.argv[3].split(",")
assert not [entry for entry in sys.path if entry and Path(entry).resolve() in (Path(scripts).resolve(), pack_root.resolve())]
spec = importlib.util.spec_from_file_location("kinema", pack_root / "__init__.py", submodule_search_locations=[str(pack_root)])
pack = importlib.util.module_from_spec(spec)
sys.modules["kinema"] = pack
spec.loader.exec_module(pack)
for name in names:
    importlib.import_module(f"kinema.runner.{name}")
print(json.dumps(sorted(sys.modules)))
"""


def test_every_runner_module_imports_without_scripts_on_sys_path(tmp_path):
    names = sorted(path.stem for path in RUNNER.glob("*.py") if path.stem != "__init__")
    completed = subprocess.run([sys.executable, "-c", IMPORT_EVERY_MODULE, str(PACK_ROOT), str(SCRIPTS), ",".join(names)],
                               capture_output=True, text=True, cwd=tmp_path, env={"PATH": "/usr/bin:/bin"}, timeout=300)
    assert completed.returncode == 0, completed.stderr[-4000:]
    loaded = set(json.loads(completed.stdout.splitlines()[-1]))
    assert {f"kinema.runner.{name}" for name in names} <= loaded
    assert not loaded & _scripts_modules(), "a runner module pulled in scripts/ code"
