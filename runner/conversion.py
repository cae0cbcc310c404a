"""UI-format workflows to API prompts, checked against the node types a host has registered.

The conversion itself is comfy-cli's maintained converter (the runner extra,
runner/requirements.txt), fed with /object_info: from the embedded host's registry, or
from a server. Before converting we list node types nobody registered, with their node ids.
"""

from __future__ import annotations

import re

from .workflow_files import WorkflowError, WorkflowFile

# Frontend-only nodes: never sent to the server, so never registered there.
UI_ONLY_TYPES = frozenset({"Note", "MarkdownNote", "PrimitiveNode", "Reroute", "GetNode", "SetNode"})
MUTED, BYPASSED = 2, 4  # litegraph node modes


def _server_nodes(workflow: WorkflowFile) -> list[dict]:
    """The UI nodes that become API nodes themselves: not frontend-only, not a subgraph instance (its inside does)."""
    subgraph_ids = {graph.get("id") for graph in workflow.data.get("definitions", {}).get("subgraphs", [])}
    return [node for node in workflow.data["nodes"]
            if isinstance(node, dict) and node.get("type") not in UI_ONLY_TYPES and node.get("type") not in subgraph_ids]


def missing_node_types(workflow: WorkflowFile, object_info: dict) -> dict[str, list[str]]:
    """{node type: [node ids]} for every type the workflow uses that the host does not know."""
    missing: dict[str, list[str]] = {}
    if workflow.is_ui_format:
        used = [(str(node.get("id")), node.get("type")) for node in _server_nodes(workflow)]
    else:
        used = [(node_id, node["class_type"]) for node_id, node in workflow.data.items()]
    for node_id, kind in used:
        if kind not in object_info:
            missing.setdefault(str(kind), []).append(node_id)
    return missing


def check_node_types(workflow: WorkflowFile, object_info: dict) -> None:
    missing = missing_node_types(workflow, object_info)
    if missing:
        listed = "; ".join(f"{kind} (node {', '.join(ids)})" for kind, ids in sorted(missing.items()))
        raise WorkflowError(f"{workflow.path}: node types not registered in this ComfyUI: {listed}. "
                            "Install the custom node packs that provide them (ComfyUI-Manager can find them), "
                            "or check the server's log for packs that failed to import.")


# "{red|green} car": the page (and the converter) pick one option at random at every queue.
_DYNAMIC_CHOICE = re.compile(r"(?<!\\)\{[^{}]*(?<!\\)\|[^{}]*(?<!\\)\}")


def _takes_dynamic_prompts(definition: dict) -> bool:
    return any(isinstance(spec, list | tuple) and len(spec) > 1 and isinstance(spec[1], dict) and spec[1].get("dynamicPrompts")
               for group in definition.get("input", {}).values() for spec in group.values())


def check_no_random_choices(workflow: WorkflowFile, object_info: dict) -> None:
    """A random pick per conversion would change the prompt, its job key and its output at every run."""
    for node in workflow.data["nodes"]:
        if not isinstance(node, dict) or not _takes_dynamic_prompts(object_info.get(node.get("type"), {})):
            continue
        for value in node.get("widgets_values") or []:
            if isinstance(value, str) and _DYNAMIC_CHOICE.search(value):
                raise WorkflowError(
                    f"{workflow.path}: node {node.get('id')} ({node.get('type')}) has a random choice "
                    f"{_DYNAMIC_CHOICE.search(value).group(0)!r}, which would pick differently at every run; "
                    "sweep the options instead (--sweep with one value per option) or escape the braces as \\{ \\}")


def to_api_prompt(workflow: WorkflowFile, object_info: dict) -> dict:
    """The API prompt of a workflow file: API files as they are, UI files converted as the frontend would."""
    check_node_types(workflow, object_info)
    if not workflow.is_ui_format:
        return workflow.data
    check_no_random_choices(workflow, object_info)
    try:
        from comfy_cli.workflow_to_api import WorkflowConversionError, convert_ui_to_api
    except ImportError as err:
        raise WorkflowError(f"{workflow.path} is a UI-format workflow; converting it needs comfy-cli: "
                            "pip install -r runner/requirements.txt (or export the workflow in API format)") from err
    try:
        prompt = convert_ui_to_api(workflow.data, object_info)
    except WorkflowConversionError as err:
        raise WorkflowError(f"{workflow.path}: cannot convert the UI workflow: {err}") from err
    _check_every_node_converted(workflow, prompt)
    return prompt


def _check_every_node_converted(workflow: WorkflowFile, prompt: dict) -> None:
    """The converter logs and skips a node it cannot read; a skipped node would silently change the graph."""
    expected = {str(node["id"]) for node in _server_nodes(workflow) if node.get("mode", 0) not in (MUTED, BYPASSED)}
    lost = sorted(expected - set(prompt), key=lambda node_id: (len(node_id), node_id))
    if lost:
        raise WorkflowError(f"{workflow.path}: nodes {', '.join(lost)} could not be converted to the API format "
                            "(see the log above for why); open the workflow in ComfyUI and save it again")
