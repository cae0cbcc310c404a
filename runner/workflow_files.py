"""Read workflow files (API or UI format) and folders of them, with errors that name the file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path


class WorkflowError(ValueError):
    """A workflow that cannot run as given; the message names the file and what to change."""


@dataclasses.dataclass(frozen=True)
class WorkflowFile:
    path: Path
    data: dict

    @property
    def is_ui_format(self) -> bool:
        """The frontend's saved graph (nodes + links), as opposed to an API prompt ({id: {class_type, inputs}})."""
        return isinstance(self.data.get("nodes"), list) and "links" in self.data


def read_workflow(path: Path) -> WorkflowFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise WorkflowError(f"{path}: cannot read the workflow ({err.strerror})") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise WorkflowError(f"{path}: not valid JSON at line {err.lineno}, column {err.colno} ({err.msg}); "
                            "save the workflow again from ComfyUI (Workflow > Export, or Export (API))") from err
    if not isinstance(data, dict):
        raise WorkflowError(f"{path}: a workflow is a JSON object, this file holds a {type(data).__name__}")
    workflow = WorkflowFile(path, data)
    if not workflow.is_ui_format:
        _check_api_shape(workflow)
    return workflow


def _check_api_shape(workflow: WorkflowFile) -> None:
    if not workflow.data:
        raise WorkflowError(f"{workflow.path}: the workflow is empty")
    for node_id, node in workflow.data.items():
        if not isinstance(node, dict) or "class_type" not in node or not isinstance(node.get("inputs", {}), dict):
            raise WorkflowError(
                f"{workflow.path}: node {node_id!r} has no class_type/inputs; this is neither a UI workflow "
                "(nodes + links) nor an API prompt ({id: {class_type, inputs}})")


def collect_workflows(paths: list[Path]) -> list[WorkflowFile]:
    """Files as given, folders as their *.json files (not recursive: workflows/api/ holds twins)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise WorkflowError(f"{path}: the folder holds no *.json workflow")
            files += found
        elif path.exists():
            files.append(path)
        else:
            raise WorkflowError(f"{path}: no such file or folder")
    return [read_workflow(path) for path in files]
