"""What running one API-format workflow produced, the same shape for every execution mode."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class RunResult:
    """Outcome of one prompt.

    ``error`` and ``node_errors`` are ComfyUI's own dicts, verbatim: a validation
    failure gives ``error`` (type/message/details) plus ``node_errors`` keyed by node
    id; an execution failure gives the ``execution_error`` message (node_id,
    node_type, exception_message, traceback).
    """

    prompt_id: str
    success: bool
    outputs: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    files: list[Path] = dataclasses.field(default_factory=list)
    error: dict[str, Any] | None = None
    node_errors: dict[str, Any] = dataclasses.field(default_factory=dict)
    node_seconds: dict[str, float] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    interrupted: bool = False  # stopped on request (Ctrl-C), not failed

    def describe_failure(self) -> str:
        """One readable paragraph naming the node, its type and ComfyUI's message."""
        if self.success:
            return ""
        if self.interrupted:
            node = self.error or {}
            return f"interrupted on request at node {node.get('node_id')} ({node.get('node_type')}); run again to resume"
        parts = []
        if self.error:
            node = self.error.get("node_id")
            where = f"node {node} ({self.error.get('node_type')}): " if node is not None else ""
            message = self.error.get("exception_message") or self.error.get("message", "")
            details = self.error.get("details", "")
            parts.append(f"{where}{message} {details}".strip())
        for node_id, info in self.node_errors.items():
            for err in info.get("errors", []):
                parts.append(f"node {node_id} ({info.get('class_type')}): {err.get('message')}: {err.get('details')}")
        return "\n".join(parts) or "failed without a message"


def output_entries(outputs: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The file entries (filename, subfolder, type) of ComfyUI's ui outputs, under whatever key a node lists them.

    Core nodes use images, gifs, videos, audio, but also latents (Save Latent) and others;
    a file left out here would stay behind in the host's folder while its job says done.
    """
    return [entry for node_output in outputs.values() if isinstance(node_output, dict)
            for value in node_output.values() if isinstance(value, list)
            for entry in value if isinstance(entry, dict) and "filename" in entry]


def output_files(outputs: dict[str, dict[str, Any]], resolve) -> list[Path]:
    """Files named in ComfyUI's ui outputs, via ``resolve(entry) -> Path``."""
    return [resolve(entry) for entry in output_entries(outputs)]
