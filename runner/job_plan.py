"""Jobs from workflows x overrides x sweeps: ``--set`` targets, value sweeps, zip or product.

A target is ``NODE.INPUT`` (NODE = node id or node title; split at the last dot, input
names have none) or a bare ``INPUT``, meaning that input on every node that has it as a
value (``seed`` sets every sampler's seed; in a batch of several workflows, on those that
have it, and at least one must). Values are JSON when they parse (``64``,
``7.5``, ``true``, ``"text"``), else the text as given.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import hashlib
import itertools
import json
from pathlib import Path

from .prompt_check import is_link
from .workflow_files import WorkflowError, WorkflowFile


@dataclasses.dataclass(frozen=True)
class Assignment:
    """``target=value`` for one job (a --set, or one point of a sweep)."""

    target: str
    value: object


@dataclasses.dataclass(frozen=True)
class Sweep:
    target: str
    values: tuple


@dataclasses.dataclass
class Job:
    """One prompt to run: its workflow, the parameters that made it, and the resolved prompt."""

    workflow: Path
    params: dict[str, object]
    prompt: dict
    ui_workflow: dict | None  # embedded in the outputs' metadata, as the frontend does

    @functools.cached_property
    def key(self) -> str:
        """Content hash of the resolved prompt: the same work gets the same key, in any run (the prompt is never edited)."""
        nodes = {node_id: {"class_type": node["class_type"], "inputs": node.get("inputs", {})} for node_id, node in self.prompt.items()}
        return hashlib.sha256(json.dumps(nodes, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


def parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_assignment(text: str, option: str) -> tuple[str, str]:
    target, sep, value = text.partition("=")
    if not sep or not target.strip():
        raise WorkflowError(f"{option} {text!r}: expected TARGET=VALUE, e.g. {option} seed=7 or {option} \"Positive prompt.text=a cat\"")
    return target.strip(), value


def parse_set(text: str) -> Assignment:
    target, value = _split_assignment(text, "--set")
    return Assignment(target, parse_value(value))


def parse_sweep(text: str) -> Sweep:
    """``seed=1..3`` (inclusive; ``0..20..5`` with a step), ``text=@prompts.txt`` (one value per line, JSON when it parses), ``cfg=[5, 7.5]``."""
    target, spec = _split_assignment(text, "--sweep")
    if spec.startswith("@"):
        path = Path(spec[1:]).expanduser()
        try:
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        except OSError as err:
            raise WorkflowError(f"--sweep {target}: cannot read {path} ({err.strerror})") from err
        values = tuple(parse_value(line) for line in lines if line and not line.startswith("#"))
    elif ".." in spec and not spec.lstrip().startswith("["):
        parts = spec.split("..")
        try:
            start, stop, *step = (int(part) for part in parts)
        except ValueError as err:
            raise WorkflowError(f"--sweep {text!r}: a range is START..STOP or START..STOP..STEP in integers") from err
        step = step[0] if step else 1
        if step <= 0 or len(parts) > 3 or stop < start:
            raise WorkflowError(f"--sweep {text!r}: a range needs START <= STOP and a positive STEP")
        values = tuple(range(start, stop + 1, step))
    else:
        parsed = parse_value(spec)
        if not isinstance(parsed, list):
            raise WorkflowError(f"--sweep {text!r}: give a range (1..3), a JSON list ([5, 7.5]) or @file with one value per line")
        values = tuple(parsed)
    if not values:
        raise WorkflowError(f"--sweep {text!r}: no values to sweep over")
    return Sweep(target, values)


def resolve_target(prompt: dict, target: str, source: Path, bare_may_miss: bool = False) -> list[tuple[str, str]]:
    """The (node id, input name) pairs a target names in this prompt; an error says what exists instead.

    ``bare_may_miss``: a bare INPUT that this workflow lacks names nothing (in a batch of
    several workflows, ``steps=4`` applies to those that have steps).
    """
    node_part, dot, input_name = target.rpartition(".")
    if not dot:
        hits = [(node_id, target) for node_id, node in prompt.items()
                if target in node.get("inputs", {}) and not is_link(node["inputs"][target])]
        if not hits and not bare_may_miss:
            raise WorkflowError(f"{source}: no node has a value input named {target!r} "
                                f"(value inputs here: {', '.join(sorted(_value_inputs(prompt)))})")
        return hits
    node_ids = [node_part] if node_part in prompt else [
        node_id for node_id, node in prompt.items() if node.get("_meta", {}).get("title") == node_part]
    if not node_ids:
        titles = sorted(f"{node_id} ({node.get('_meta', {}).get('title', node['class_type'])})" for node_id, node in prompt.items())
        raise WorkflowError(f"{source}: no node with id or title {node_part!r}; nodes: {', '.join(titles)}")
    if len(node_ids) > 1:
        raise WorkflowError(f"{source}: the title {node_part!r} is on nodes {', '.join(node_ids)}; use a node id")
    node = prompt[node_ids[0]]
    inputs = node.get("inputs", {})
    if input_name not in inputs:
        names = [name for name, value in inputs.items() if not is_link(value)]
        raise WorkflowError(f"{source}: node {node_ids[0]} ({node['class_type']}) has no input {input_name!r}; "
                            f"its value inputs are {', '.join(names) or 'none'}")
    if is_link(inputs[input_name]):
        source_node = inputs[input_name][0]
        raise WorkflowError(f"{source}: input {input_name!r} of node {node_ids[0]} is wired from node {source_node}; "
                            f"set a value on node {source_node} instead")
    return [(node_ids[0], input_name)]


def _value_inputs(prompt: dict) -> set[str]:
    return {name for node in prompt.values() for name, value in node.get("inputs", {}).items() if not is_link(value)}


def apply_assignments(prompt: dict, assignments: list[Assignment], source: Path,
                      bare_may_miss: bool = False) -> tuple[dict, list[Assignment]]:
    """A copy of the prompt with the assignments made, and the assignments that changed something in it.

    Copy on write: only the nodes an assignment changes are copied; the others are the
    workflow's own dicts, shared by every job (20,000 jobs must not hold 20,000 prompts).
    Nothing may edit a job's prompt in place; a worker that needs to copies it.
    """
    resolved, applied, copied = dict(prompt), [], set()
    for assignment in assignments:
        _refuse_link_shaped(assignment, source)
        targets = resolve_target(resolved, assignment.target, source, bare_may_miss)
        for node_id, input_name in targets:
            if node_id not in copied:
                resolved[node_id] = {**resolved[node_id], "inputs": dict(resolved[node_id].get("inputs", {}))}
                copied.add(node_id)
            resolved[node_id]["inputs"][input_name] = copy.deepcopy(assignment.value)
        if targets:
            applied.append(assignment)
    return resolved, applied


def _refuse_link_shaped(assignment: Assignment, source: Path) -> None:
    """``[4, 40]`` is how an API prompt wires an input to node 4's output 40: as a value it would rewire the graph."""
    if is_link(assignment.value):
        raise WorkflowError(f"{source}: {assignment.target}={json.dumps(assignment.value)} has the shape of a link "
                            f"([node id, output index]), which would wire the input to node {assignment.value[0]} instead of "
                            "setting a value; widget inputs take a number, text or true/false (a list value is never a widget value)")


def _check_bare_targets_exist(workflows: list[tuple[WorkflowFile, dict]], targets: set[str]) -> None:
    """A bare INPUT must name something in at least one workflow of the batch (a typo must not pass silently)."""
    for target in sorted(target for target in targets if "." not in target):
        if not any(resolve_target(prompt, target, workflow.path, bare_may_miss=True) for workflow, prompt in workflows):
            if len(workflows) == 1:
                resolve_target(workflows[0][1], target, workflows[0][0].path)  # raises with this workflow's inputs
            names = sorted(set().union(*(_value_inputs(prompt) for _, prompt in workflows)))
            raise WorkflowError(f"no workflow of this batch has a value input named {target!r} "
                                f"(value inputs: {', '.join(names)})")


def sweep_points(sweeps: list[Sweep], zipped: bool) -> list[list[Assignment]]:
    """Every combination of sweep values (cartesian product), or the sweeps side by side (zip, equal lengths)."""
    if not sweeps:
        return [[]]
    columns = [[Assignment(sweep.target, value) for value in sweep.values] for sweep in sweeps]
    if zipped:
        lengths = {sweep.target: len(sweep.values) for sweep in sweeps}
        if len(set(lengths.values())) > 1:
            raise WorkflowError(f"--zip needs sweeps of equal length; got {lengths}")
        return [list(point) for point in zip(*columns, strict=True)]
    return [list(point) for point in itertools.product(*columns)]


def plan_jobs(workflows: list[tuple[WorkflowFile, dict]], sets: list[Assignment], sweeps: list[Sweep], zipped: bool) -> list[Job]:
    """``workflows`` pairs each file with its API prompt; every target is checked on every workflow before any job runs."""
    jobs = []
    points = sweep_points(sweeps, zipped)
    _check_bare_targets_exist(workflows, {a.target for a in sets} | {s.target for s in sweeps})
    several = len(workflows) > 1
    keys = set()
    for workflow, prompt in workflows:
        ui = workflow.data if workflow.is_ui_format else None
        for point in points:
            # params: only what applied to this workflow (a bare target another workflow has may miss here)
            resolved, applied = apply_assignments(prompt, [*sets, *point], workflow.path, several)
            job = Job(workflow.path, {a.target: a.value for a in applied}, resolved, ui)
            if job.key not in keys:  # the same prompt twice is one job (a repeated sweep value, a target this workflow lacks)
                keys.add(job.key)
                jobs.append(job)
    return jobs
