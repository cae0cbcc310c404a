"""Check every job's prompt against the host's node definitions before any job runs.

ComfyUI validates a prompt when it is queued, but some mistakes slip through or come
back as "Exception when validating inner node": a link to a node that is not there, a
node wired to itself or in a loop, an output index the source node lacks, a list or
object where a widget value belongs, NaN or infinity in a number (NaN compares false to
every limit, so it passes the range check and ruins the result), and a save node's
``filename_prefix`` that climbs out of the output folder. Here each gets a sentence that
names the workflow, the node, the input, the value and the fix, in a dry run too.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from .output_paths import relative_path_problem

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")
PATH_INPUTS = ("filename_prefix",)  # save nodes join these under their output folder


@dataclasses.dataclass(frozen=True)
class Problem:
    workflow: Path
    node_id: str
    class_type: str
    input_name: str | None
    message: str

    def __str__(self) -> str:
        where = f"input {self.input_name!r} of " if self.input_name else ""
        return f"{self.workflow}: {where}node {self.node_id} ({self.class_type}): {self.message}"


def is_link(value: object) -> bool:
    """``[node id, output index]``: how an API prompt wires an input (any other list is not a link)."""
    return isinstance(value, list) and len(value) == 2 and isinstance(value[1], int) and not isinstance(value[1], bool)


def _input_spec(definition: dict, name: str):
    for group in ("required", "optional"):
        spec = definition.get("input", {}).get(group, {}).get(name)
        if spec is not None:
            return spec
    return None


def _widget_kind(spec) -> str | None:
    """INT, FLOAT, STRING, BOOLEAN or COMBO for a widget input; None for a wired type (MODEL, IMAGE ...)."""
    if not isinstance(spec, list | tuple) or not spec:
        return None
    if isinstance(spec[0], list):
        return "COMBO"  # V1 combos list their options in place of a type
    return spec[0] if spec[0] in WIDGET_TYPES else None


def _value_problem(kind: str, value: object, name: str) -> str | None:
    scalar = isinstance(value, str | int | float | bool) or value is None
    if not scalar:
        return (f"{type(value).__name__} value {str(value)[:60]} where a {kind.lower()} widget value belongs; "
                "give a number, text or true/false")
    if kind in ("INT", "FLOAT"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{value!r} is not a number; give a {kind.lower()}"
        if not math.isfinite(value):
            return f"{value} is not a finite number (NaN and infinity pass ComfyUI's range check and ruin the result); give a real number"
        if kind == "INT" and value != int(value):
            return f"{value} is not a whole number; give an integer"
    if kind == "COMBO" and not isinstance(value, str | int | float):
        return f"{value!r} is not one of the options; give one of the listed names"
    if kind == "STRING" and name in PATH_INPUTS and isinstance(value, str):
        reason = relative_path_problem(value, "the prefix")
        if reason is not None:
            return (f"{value!r} would save outside the output folder ({reason}); "
                    "use a plain name or a subfolder inside the output folder, e.g. 'videos/clip'")
    return None


def _link_problem(node_id: str, link: list, prompt: dict, object_info: dict) -> str | None:
    source_id, index = link
    if str(source_id) == node_id:
        return f"is wired to its own output {index} (a node cannot feed itself); reconnect it to another node"
    if not isinstance(source_id, str) or source_id not in prompt:
        return (f"is wired to node {source_id!r}, which is not in the workflow (node ids are text, e.g. \"4\"); "
                "reconnect the input in ComfyUI and save the workflow again")
    source_type = prompt[source_id].get("class_type")
    outputs = object_info.get(source_type, {}).get("output", [])
    if source_type in object_info and not 0 <= index < len(outputs):
        return (f"is wired to output {index} of node {source_id} ({source_type}), which has {len(outputs)} output(s) "
                f"(0..{len(outputs) - 1}); reconnect the input in ComfyUI and save again")
    return None


def node_problems(workflow: Path, node_id: str, node: dict, prompt: dict, object_info: dict) -> list[Problem]:
    class_type = node.get("class_type")
    definition = object_info.get(class_type)
    problems = []
    for name, value in (node.get("inputs") or {}).items():
        if is_link(value):
            message = _link_problem(node_id, value, prompt, object_info)
        elif isinstance(value, list) and definition is not None and _widget_kind(_input_spec(definition, name)) is None:
            message = (f"{str(value)[:60]} is neither a link ([node id, output index]) nor a value; "
                       "reconnect the input in ComfyUI and save the workflow again")
        else:
            kind = _widget_kind(_input_spec(definition, name)) if definition is not None else None
            message = _value_problem(kind, value, name) if kind else None
        if message:
            problems.append(Problem(workflow, node_id, str(class_type), name, message))
    return problems


def loop_problems(workflow: Path, prompt: dict) -> list[Problem]:
    """Nodes wired in a loop (ComfyUI would wait on them forever or fail without a reason)."""
    sources = {node_id: [str(value[0]) for value in (node.get("inputs") or {}).values()
                         if is_link(value) and str(value[0]) in prompt and str(value[0]) != node_id]
               for node_id, node in prompt.items()}
    state: dict[str, str] = {}  # "open" while on the path being walked, "done" after
    for start in sources:
        stack = [(start, iter(sources[start]))]
        path = [start]
        state[start] = state.get(start) or "open"
        if state[start] == "done":
            continue
        while stack:
            node_id, pending = stack[-1]
            step = next(pending, None)
            if step is None:
                state[node_id] = "done"
                stack.pop()
                path.pop()
            elif state.get(step) == "open":
                loop = path[path.index(step):] + [step]
                return [Problem(workflow, step, str(prompt[step].get("class_type")), None,
                                f"is part of a loop of links {' -> '.join(loop)}; a workflow must flow one way, "
                                "remove one of these links")]
            elif state.get(step) is None:
                state[step] = "open"
                stack.append((step, iter(sources[step])))
                path.append(step)
    return []


class PromptChecker:
    """Checks many jobs' prompts fast: jobs share the nodes no assignment changed, each checked once."""

    def __init__(self, object_info: dict) -> None:
        self.object_info = object_info
        self._checked: dict[int, tuple[dict, list[Problem]]] = {}
        self._loops_checked: set[Path] = set()

    def problems(self, workflow: Path, prompt: dict) -> list[Problem]:
        found = []
        if workflow not in self._loops_checked:  # assignments never add links (link-shaped values are refused)
            self._loops_checked.add(workflow)
            found += loop_problems(workflow, prompt)
        for node_id, node in prompt.items():
            cached = self._checked.get(id(node))
            if cached is None or cached[0] is not node:
                cached = (node, node_problems(workflow, node_id, node, prompt, self.object_info))
                self._checked[id(node)] = cached
            found += cached[1]
        return found
