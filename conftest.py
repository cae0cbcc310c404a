"""Tests import the pack as ``kinema`` and the fixture writers as ``fixtures``; every run refuses silent skips."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT / "tests" / "plugins"), str(ROOT / "tests" / "support")]

from pack_import import import_pack  # noqa: E402

import_pack()

pytest_plugins = ["no_silent_skips"]  # tests/plugins/no_silent_skips.py
