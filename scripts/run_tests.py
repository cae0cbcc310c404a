"""Set up everything on a fresh machine, then run the whole test suite.

    python3 scripts/run_tests.py [pytest arguments]

Builds (or reuses) the ComfyUI 0.3.75 host and its venv, installs the test-only
dependencies and the browser-test tools (Chromium, playwright-core: scripts/browser_setup.py),
and runs pytest in the host's Python. Random real-layout model files are written on first
use into KINEMA_HOME/fixtures (about 3 GB; later runs reuse them).
"""

from __future__ import annotations

import logging
import os
import sys

import browser_setup
import host_setup


def _may_select_browser_tests(pytest_args: list[str]) -> bool:
    """Unless every path given lies outside tests/browser (e.g. ``tests/unit``), the browser tools are needed."""
    paths = [arg.split("::")[0].rstrip("/") for arg in pytest_args if arg == "tests" or (not arg.startswith("-") and "/" in arg)]
    return not paths or any(path in ("tests", ".") or path.startswith("tests/browser") for path in paths)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    host = host_setup.ensure_host()
    host_setup.install_test_requirements(host)
    selection = sys.argv[1:] or ["tests"]
    if _may_select_browser_tests(selection):
        browser_setup.ensure_browser_tools(host.home)  # Debian's Chromium + playwright-core for tests/browser
    args = [str(host.python), "-m", "pytest", *selection]
    os.chdir(host_setup.PACK_ROOT)
    os.execve(args[0], args, host.env())


if __name__ == "__main__":
    main()
