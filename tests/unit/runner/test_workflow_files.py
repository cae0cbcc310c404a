"""Workflow files: UI or API format, folders, and errors that name the file."""

from __future__ import annotations

import json

import pytest

from kinema.runner.conversion import missing_node_types
from kinema.runner.workflow_files import WorkflowError, collect_workflows, read_workflow


def test_formats_are_told_apart(tmp_path):
    ui = tmp_path / "ui.json"
    ui.write_text(json.dumps({"nodes": [{"id": 3, "type": "KSampler"}, {"id": 4, "type": "Note"}], "links": []}))
    api = tmp_path / "api.json"
    api.write_text(json.dumps({"3": {"class_type": "KSampler", "inputs": {}}}))
    assert read_workflow(ui).is_ui_format and not read_workflow(api).is_ui_format
    assert [w.path.name for w in collect_workflows([tmp_path])] == ["api.json", "ui.json"]
    known = {"KSampler": {}}
    assert missing_node_types(read_workflow(ui), known) == {} and missing_node_types(read_workflow(api), known) == {}
    assert missing_node_types(read_workflow(ui), {}) == {"KSampler": ["3"]}, "Note is frontend-only"


@pytest.mark.parametrize(("text", "says"), [
    ('{"1": {"class_type": "X", "inputs": {}', "not valid JSON at line 1, column"),
    ("[1, 2]", "a workflow is a JSON object, this file holds a list"),
    ('{"1": {"inputs": {}}}', "node '1' has no class_type"),
    ("{}", "the workflow is empty"),
])
def test_malformed_files_name_the_file(tmp_path, text, says):
    path = tmp_path / "broken.json"
    path.write_text(text)
    with pytest.raises(WorkflowError, match="broken.json") as caught:
        read_workflow(path)
    assert says in str(caught.value)


def test_missing_paths_and_empty_folders(tmp_path):
    with pytest.raises(WorkflowError, match="no such file or folder"):
        collect_workflows([tmp_path / "nope.json"])
    with pytest.raises(WorkflowError, match="holds no"):
        collect_workflows([tmp_path])
