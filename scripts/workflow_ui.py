"""Author a UI-format workflow (the file users drag into ComfyUI) from its API-format twin.

    python3 scripts/workflow_ui.py workflows/api/NAME.json [...]   -> workflows/NAME.json

The widget order, socket types and output names come from a real ComfyUI server's
/object_info (started here on 127.0.0.1 with this pack loaded), so the UI file holds
exactly what the frontend expects: widgets_values in definition order, with the
"control_after_generate" entry after seeds ("fixed", so shared workflows reproduce).
Nodes are laid out in columns by their depth in the graph.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parent
WIDGET_TYPES = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
COLUMN_WIDTH, ROW_GAP, NODE_WIDTH = 380, 40, 320


def _spec_is_widget(spec: list) -> bool:
    kind = spec[0]
    return isinstance(kind, list) or kind in WIDGET_TYPES


def _input_specs(info: dict) -> list[tuple[str, list]]:
    groups = info["input"]
    order = info.get("input_order", {})
    specs = []
    for group in ("required", "optional"):
        names = order.get(group) or list(groups.get(group, {}))
        specs += [(name, groups[group][name]) for name in names]
    return specs


def _depths(prompt: dict) -> dict[str, int]:
    depth: dict[str, int] = {}

    def visit(node_id: str) -> int:
        if node_id not in depth:
            links = [v[0] for v in prompt[node_id]["inputs"].values() if isinstance(v, list)]
            depth[node_id] = 1 + max((visit(str(src)) for src in links), default=-1)
        return depth[node_id]

    for node_id in prompt:
        visit(node_id)
    return depth


def ui_from_api(prompt: dict, object_info: dict) -> dict:
    depth = _depths(prompt)
    links, nodes, rows = [], [], {}
    outputs_of: dict[str, list[dict]] = {}
    for node_id, node in prompt.items():
        info = object_info[node["class_type"]]
        outputs_of[node_id] = [
            {"name": name, "type": kind, "links": [], "slot_index": i}
            for i, (name, kind) in enumerate(zip(info["output_name"], info["output"], strict=True))
        ]
    for node_id in sorted(prompt, key=lambda n: (depth[n], int(n))):
        node = prompt[node_id]
        info = object_info[node["class_type"]]
        inputs, widgets = [], []
        for name, spec in _input_specs(info):
            value = node["inputs"].get(name)
            if isinstance(value, list):  # a wire: [source node id, output index]
                source, slot = str(value[0]), value[1]
                link_id = len(links) + 1
                kind = outputs_of[source][slot]["type"]
                links.append([link_id, int(source), slot, int(node_id), len(inputs), kind])
                outputs_of[source][slot]["links"].append(link_id)
                entry = {"name": name, "type": kind, "link": link_id}
                if _spec_is_widget(spec):
                    entry["widget"] = {"name": name}
                inputs.append(entry)
            elif _spec_is_widget(spec):
                widgets.append(value if name in node["inputs"] else spec[1].get("default") if len(spec) > 1 else None)
                if len(spec) > 1 and spec[1].get("control_after_generate"):
                    widgets.append("fixed")
            else:
                inputs.append({"name": name, "type": spec[0], "link": None})
        # Inputs of newer ComfyUI that this host does not declare (the twins carry them, e.g. ContextWindowsManual's
        # causal_window_fix): their values follow, in the twin's order, where that ComfyUI's widgets hold them.
        declared = {name for name, _ in _input_specs(info)}
        widgets += [value for name, value in node["inputs"].items() if name not in declared and not isinstance(value, list)]
        column = depth[node_id]
        height = 60 + 26 * (len(inputs) + len(widgets) + len(outputs_of[node_id]))
        y = rows.get(column, 60)
        rows[column] = y + height + ROW_GAP
        entry = {
            "id": int(node_id), "type": node["class_type"], "pos": [40 + column * COLUMN_WIDTH, y],
            "size": [NODE_WIDTH, height], "flags": {}, "order": len(nodes), "mode": 0,
            "inputs": inputs, "outputs": outputs_of[node_id],
            "properties": {"Node name for S&R": node["class_type"]}, "widgets_values": widgets,
        }
        title = node.get("_meta", {}).get("title")
        if title and title != info.get("display_name"):
            entry["title"] = title
        nodes.append(entry)
    return {
        "last_node_id": max(int(n) for n in prompt), "last_link_id": len(links), "nodes": nodes, "links": links,
        "groups": [], "config": {}, "extra": {"ds": {"scale": 0.8, "offset": [0, 0]}}, "version": 0.4,
    }


def main() -> None:
    sys.path.insert(0, str(SCRIPTS))
    import host_setup
    from pack_import import import_pack

    import_pack()
    from kinema.runner.remote import RemoteComfy
    from kinema.runner.server_process import ComfyServer

    host = host_setup.ensure_host()
    with tempfile.TemporaryDirectory() as work:
        with ComfyServer(python=host.python, comfyui=host.comfyui, work=Path(work)) as server:
            object_info = RemoteComfy(server.url).get_json("/object_info")
    for name in sys.argv[1:]:
        api_path = Path(name)
        ui_path = api_path.parent.parent / api_path.name
        ui = ui_from_api(json.loads(api_path.read_text()), object_info)
        partial = ui_path.with_name(ui_path.name + ".partial")
        partial.write_text(json.dumps(ui, indent=1) + "\n")
        os.replace(partial, ui_path)
        print(ui_path)


if __name__ == "__main__":
    main()
