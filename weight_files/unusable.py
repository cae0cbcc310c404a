"""The one error this package raises; each loader re-raises it as its own error type, with the file's name."""

from __future__ import annotations


class UnusableWeights(Exception):
    """``problem``: what the file is or what is wrong; ``fix``: what to do, or None for "download it again"
    (the loader words that for its own file)."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem)
