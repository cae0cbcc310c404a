"""Tests import the pack as ``kinema`` and the fixture writers as ``fixtures``."""

import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent / "scripts"
sys.path.insert(0, str(SCRIPTS))

from pack_import import import_pack  # noqa: E402

import_pack()
