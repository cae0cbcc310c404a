"""The pack passes its own lint configuration (pyproject.toml [tool.ruff])."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[2]


def test_ruff_finds_nothing():
    completed = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", str(PACK_ROOT)],
                               capture_output=True, text=True, cwd=PACK_ROOT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
