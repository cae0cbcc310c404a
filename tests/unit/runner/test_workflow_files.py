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


def test_random_choices_in_dynamic_prompt_widgets_are_refused(tmp_path):
    from kinema.runner.conversion import check_no_random_choices

    info = {"CLIPTextEncode": {"input": {"required": {"text": ["STRING", {"multiline": True, "dynamicPrompts": True}]}}},
            "Note": {"input": {"required": {"text": ["STRING", {}]}}}}
    path = tmp_path / "ui.json"
    for text, refused in (("a {red|green} car", True), ("a \\{red|green\\} car", False), ("a {red} car | b", False)):
        path.write_text(json.dumps({"nodes": [{"id": 4, "type": "CLIPTextEncode", "widgets_values": [text]},
                                              {"id": 5, "type": "Note", "widgets_values": ["{a|b}"]}], "links": []}))
        if refused:
            with pytest.raises(WorkflowError, match=r"ui.json: node 4 \(CLIPTextEncode\) has a random choice '\{red\|green\}'"):
                check_no_random_choices(read_workflow(path), info)
        else:
            check_no_random_choices(read_workflow(path), info)
