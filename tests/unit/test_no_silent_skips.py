"""The suite's skip rule, run for real: a skipped test fails the run unless it is a documented opt-out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def run_pytest(folder: Path, body: str, env: dict | None = None) -> subprocess.CompletedProcess:
    (folder / "test_sample.py").write_text(body)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no_silent_skips", "-p", "no:cacheprovider", str(folder)],
                          cwd=folder, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {}), "PYTHONPATH": str(PLUGINS)})


def test_an_unexplained_skip_fails_the_run_and_is_listed(tmp_path):
    # a missing dependency skipped around: the shape a broken pinned import would take
    result = run_pytest(tmp_path, "import pytest\n\ndef test_ok():\n    pass\n\ndef test_gone():\n    pytest.skip('no_such_module_here is not installed')\n")
    assert result.returncode == 1, result.stdout
    assert "unexplained skips" in result.stdout and "test_gone" in result.stdout and "no_such_module_here" in result.stdout


def test_a_documented_opt_out_passes(tmp_path):
    result = run_pytest(tmp_path, "import pytest\n\ndef test_browser():\n    pytest.skip('KINEMA_SKIP_BROWSER_TESTS is set')\n")
    assert result.returncode == 0, result.stdout

