"""Targets, values, sweeps (product and zip) and job keys, on an API prompt shaped like ours."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinema.runner.job_plan import Assignment, apply_assignments, parse_set, parse_sweep, plan_jobs, resolve_target, sweep_points
from kinema.runner.workflow_files import WorkflowError, WorkflowFile

SOURCE = Path("wf.json")
PROMPT = {
    "1": {"class_type": "CheckpointLoaderSimple", "_meta": {"title": "Load Checkpoint"}, "inputs": {"ckpt_name": "a.safetensors"}},
    "4": {"class_type": "CLIPTextEncode", "_meta": {"title": "Positive prompt"}, "inputs": {"text": "a boat", "clip": ["1", 1]}},
    "5": {"class_type": "CLIPTextEncode", "_meta": {"title": "Negative prompt"}, "inputs": {"text": "blurry", "clip": ["1", 1]}},
    "7": {"class_type": "KSampler", "_meta": {"title": "KSampler"}, "inputs": {"seed": 42, "steps": 20, "cfg": 7.5, "model": ["1", 0]}},
    "9": {"class_type": "KSampler", "_meta": {"title": "Refiner"}, "inputs": {"seed": 1, "steps": 5, "model": ["1", 0]}},
}


def test_values_parse_as_json_else_text():
    assert parse_set("steps=30") == Assignment("steps", 30)
    assert parse_set("cfg=6.5").value == 6.5
    assert parse_set("Positive prompt.text=a cat, at night").value == "a cat, at night"
    assert parse_set('7.sampler_name="euler"').value == "euler"


def test_targets_by_input_name_title_and_id():
    assert resolve_target(PROMPT, "seed", SOURCE) == [("7", "seed"), ("9", "seed")]
    assert resolve_target(PROMPT, "Positive prompt.text", SOURCE) == [("4", "text")]
    assert resolve_target(PROMPT, "9.steps", SOURCE) == [("9", "steps")]
    # a title holding a dot still works: the input is after the last dot
    prompt = {"3": {"class_type": "X", "_meta": {"title": "v1.5 loader"}, "inputs": {"name": "x"}}}
    assert resolve_target(prompt, "v1.5 loader.name", SOURCE) == [("3", "name")]


@pytest.mark.parametrize(("target", "says"), [
    ("KSampler.denoise", "node 7 (KSampler) has no input 'denoise'; its value inputs are seed, steps, cfg"),
    ("Positive prompt.clip", "input 'clip' of node 4 is wired from node 1; set a value on node 1 instead"),
    ("Sampler.seed", "no node with id or title 'Sampler'"),
    ("nonsense", "no node has a value input named 'nonsense'"),
])
def test_bad_targets_name_the_node_and_what_exists(target, says):
    with pytest.raises(WorkflowError, match="wf.json") as caught:
        resolve_target(PROMPT, target, SOURCE)
    assert says in str(caught.value)


def test_ambiguous_title_asks_for_an_id():
    prompt = {**PROMPT, "8": {"class_type": "KSampler", "_meta": {"title": "KSampler"}, "inputs": {"seed": 3}}}
    with pytest.raises(WorkflowError, match="on nodes 7, 8; use a node id"):
        resolve_target(prompt, "KSampler.seed", SOURCE)


def test_sweep_specs(tmp_path):
    assert parse_sweep("seed=1..3").values == (1, 2, 3)
    assert parse_sweep("seed=0..20..10").values == (0, 10, 20)
    assert parse_sweep("cfg=[5, 7.5]").values == (5, 7.5)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a cat\n\n# a comment\na dog, running\n")
    assert parse_sweep(f"text=@{prompts}").values == ("a cat", "a dog, running")
    for bad in ("seed=3..1", "seed=1..x", "seed=5", "seed=[]", "=3"):
        with pytest.raises(WorkflowError):
            parse_sweep(bad)
    with pytest.raises(WorkflowError, match="cannot read"):
        parse_sweep(f"text=@{tmp_path / 'missing.txt'}")


def test_product_and_zip():
    seeds, cfgs = parse_sweep("seed=1..3"), parse_sweep("cfg=[5, 6, 7]")
    assert len(sweep_points([seeds, cfgs], zipped=False)) == 9
    zipped = sweep_points([seeds, cfgs], zipped=True)
    assert [[a.value for a in point] for point in zipped] == [[1, 5], [2, 6], [3, 7]]
    with pytest.raises(WorkflowError, match="equal length"):
        sweep_points([seeds, parse_sweep("cfg=[5]")], zipped=True)


def test_jobs_apply_sets_then_sweeps_and_keys_follow_the_prompt():
    workflow = WorkflowFile(SOURCE, PROMPT)
    jobs = plan_jobs([(workflow, PROMPT)], [parse_set("steps=4")], [parse_sweep("7.seed=1..3"), parse_sweep("Positive prompt.text=[\"a\", \"b\"]")], False)
    assert len(jobs) == 6
    assert {job.prompt["7"]["inputs"]["seed"] for job in jobs} == {1, 2, 3}
    assert all(job.prompt["9"]["inputs"]["steps"] == 4 and job.prompt["9"]["inputs"]["seed"] == 1 for job in jobs)
    assert len({job.key for job in jobs}) == 6
    assert PROMPT["7"]["inputs"]["seed"] == 42, "the workflow's own prompt is never edited"
    # the key is the resolved prompt's: same edits, same key; titles do not matter
    again, _ = apply_assignments(PROMPT, [Assignment("steps", 4), Assignment("7.seed", 1), Assignment("4.text", "a")], SOURCE)
    retitled = {node_id: {**node, "_meta": {"title": "x"}} for node_id, node in again.items()}
    assert jobs[0].key == type(jobs[0])(SOURCE, {}, retitled, None).key


def test_bare_targets_apply_to_the_workflows_that_have_them():
    other = {"1": {"class_type": "EmptyImage", "_meta": {"title": "Empty"}, "inputs": {"width": 8, "color": 0}}}
    workflows = [(WorkflowFile(SOURCE, PROMPT), PROMPT), (WorkflowFile(Path("other.json"), other), other)]
    jobs = plan_jobs(workflows, [parse_set("steps=3"), parse_set("color=255")], [], False)
    assert jobs[0].prompt["7"]["inputs"]["steps"] == 3 and jobs[1].prompt["1"]["inputs"]["color"] == 255
    with pytest.raises(WorkflowError, match="no workflow of this batch has a value input named 'stpes'"):
        plan_jobs(workflows, [parse_set("stpes=3")], [], False)
    with pytest.raises(WorkflowError, match="other.json: no node with id or title 'KSampler'"):
        plan_jobs(workflows, [parse_set("KSampler.steps=3")], [], False)


def test_the_same_prompt_twice_is_one_job(tmp_path):
    other = {"1": {"class_type": "EmptyImage", "_meta": {"title": "Empty"}, "inputs": {"width": 8, "color": 0}}}
    workflows = [(WorkflowFile(SOURCE, PROMPT), PROMPT), (WorkflowFile(Path("other.json"), other), other)]
    jobs = plan_jobs(workflows, [], [parse_sweep("seed=[1, 1, 2]")], False)
    assert [(job.workflow.name, job.params) for job in jobs] == [
        ("wf.json", {"seed": 1}), ("wf.json", {"seed": 2}), ("other.json", {})], "other.json has no seed: one job, no params"
    values = tmp_path / "values.txt"
    values.write_text('7\nfalse\n"quoted"\na cat\n')
    assert parse_sweep(f"x=@{values}").values == (7, False, "quoted", "a cat")
    assert parse_sweep('text=["wait..what"]').values == ("wait..what",)
