"""Watch a batch manifest while commands write it: every state a reader could see must be whole JSON lines."""

from __future__ import annotations

import json
import threading
from pathlib import Path


class ManifestWatch:
    """Reads the manifest every ``interval`` seconds in a thread; ``problems`` lists any state that was not valid.

    A valid state: the file is absent or empty, or every line parses as a JSON object and the
    file ends with a newline (a reader never sees half a record).
    """

    def __init__(self, path: Path, interval: float = 0.005) -> None:
        self.path, self.interval = path, interval
        self.problems: list[str] = []
        self.reads = 0
        self.most_lines = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ManifestWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._check()  # the final state too

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._check()

    def _check(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        self.reads += 1
        if text and not text.endswith("\n"):
            self.problems.append(f"read {self.reads}: the last line is cut: {text.splitlines()[-1][:80]!r}")
        lines = text.splitlines()
        self.most_lines = max(self.most_lines, len(lines))
        for number, line in enumerate(lines, start=1):
            try:
                if not isinstance(json.loads(line), dict):
                    raise ValueError("not an object")
            except ValueError as err:
                self.problems.append(f"read {self.reads}, line {number}: {err}")
