"""Errors a user sees when a motion-module or motion-LoRA file cannot be used.

Every message names the file, says what is wrong (or what the file looks like) and how
to fix it. They derive from ValueError: the input (a file choice) is wrong, not the code.
"""

from __future__ import annotations


class MotionModuleError(ValueError):
    """Base class; ``path`` is the offending file."""

    def __init__(self, path: object, problem: str, fix: str):
        self.path = str(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path}: {problem}. {fix}")


class MotionModuleFileError(MotionModuleError):
    """The file cannot be read as a checkpoint at all (empty, truncated, HTML, refused pickle...)."""


class MotionModuleFormatError(MotionModuleError):
    """The file reads fine but is not a motion module Kinema can load (another model kind, wrong keys)."""


class MotionLoraFormatError(MotionModuleFormatError):
    """The file reads fine but is not a motion LoRA."""
