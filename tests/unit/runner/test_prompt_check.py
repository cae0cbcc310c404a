"""Every job's prompt is checked against the host's node definitions before anything runs.

The definitions below are the /object_info entries of core nodes as ComfyUI 0.8.0 serves
them (V1 style and V3 style specs), trimmed to the inputs used here.
"""

from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import pytest

from kinema.runner.job_checks import job_problems
from kinema.runner.job_plan import Assignment, Sweep, apply_assignments, plan_jobs
from kinema.runner.prompt_check import PromptChecker
from kinema.runner.workflow_files import WorkflowError, WorkflowFile

OBJECT_INFO = {
    "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["a.safetensors"], {}]}}, "output": ["MODEL", "CLIP", "VAE"]},
    "EmptyLatentImage": {"input": {"required": {"width": ["INT", {"min": 16, "max": 16384}], "height": ["INT", {"min": 16}],
                                                "batch_size": ["INT", {"min": 1}]}}, "output": ["LATENT"]},
    "KSampler": {"input": {"required": {"model": ["MODEL", {}], "seed": ["INT", {"min": 0}], "steps": ["INT", {"min": 1}],
                                        "cfg": ["FLOAT", {"min": 0.0, "max": 100.0}], "latent_image": ["LATENT", {}],
                                        "sampler_name": ["COMBO", {"options": ["euler"]}]}}, "output": ["LATENT"]},
    "SaveLatent": {"input": {"required": {"samples": ["LATENT"], "filename_prefix": ["STRING", {"default": "latents/ComfyUI"}]}},
                   "output": []},
}
WORKFLOW = Path("wf.json")


def _prompt() -> dict:
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "a.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 2}},
        "3": {"class_type": "KSampler", "inputs": {"model": ["4", 0], "seed": 1, "steps": 2, "cfg": 7.0, "latent_image": ["5", 0],
                                                   "sampler_name": "euler"}},
        "9": {"class_type": "SaveLatent", "inputs": {"samples": ["3", 0], "filename_prefix": "kinema/latent"}},
    }


def _problems(prompt: dict) -> list[str]:
    return [str(problem) for problem in PromptChecker(OBJECT_INFO).problems(WORKFLOW, prompt)]


def test_a_sound_prompt_has_no_problems():
    assert _problems(_prompt()) == []


@pytest.mark.parametrize(("node", "name", "value", "says"), [
    ("3", "cfg", math.nan, "input 'cfg' of node 3 (KSampler): nan is not a finite number"),
    ("3", "cfg", math.inf, "inf is not a finite number"),
    ("3", "steps", 2.5, "2.5 is not a whole number"),
    ("3", "steps", "many", "'many' is not a number"),
    ("3", "seed", True, "True is not a number"),
    ("4", "ckpt_name", 5, None),  # a number in a combo: ComfyUI itself names it "not in list"
    ("4", "ckpt_name", {"name": "a"}, "dict value {'name': 'a'} where a combo widget value belongs"),
    ("3", "model", ["99", 0], "wired to node '99', which is not in the workflow"),
    ("3", "model", [4, 0], "wired to node 4, which is not in the workflow (node ids are text"),
    ("3", "model", ["3", 0], "wired to its own output 0"),
    ("3", "model", ["4", 7], "wired to output 7 of node 4 (CheckpointLoaderSimple), which has 3 output(s) (0..2)"),
    ("3", "steps", ["5", 40], "wired to output 40 of node 5 (EmptyLatentImage), which has 1 output(s)"),
    ("3", "model", ["4", 0, 1], "neither a link"),
    ("9", "filename_prefix", "../../outside", "would save outside the output folder"),
    ("9", "filename_prefix", "/tmp/x", "would save outside the output folder"),
    ("9", "filename_prefix", "..\\..\\x", "would save outside the output folder"),
])
def test_each_problem_names_the_node_the_input_and_the_fix(node, name, value, says):
    prompt = _prompt()
    prompt[node]["inputs"][name] = value
    problems = _problems(prompt)
    if says is None:
        assert problems == []
        return
    assert len(problems) == 1 and says in problems[0] and problems[0].startswith("wf.json: ")


def test_a_loop_of_links_is_named():
    prompt = _prompt()
    prompt["5"] = {"class_type": "KSampler", "inputs": {"model": ["4", 0], "seed": 1, "steps": 2, "cfg": 7.0,
                                                        "latent_image": ["3", 0], "sampler_name": "euler"}}
    (problem,) = _problems(prompt)
    assert "loop of links" in problem and ("3 -> 5 -> 3" in problem or "5 -> 3 -> 5" in problem)


def test_a_link_shaped_set_value_is_refused_before_it_rewires_the_graph():
    with pytest.raises(WorkflowError, match=r"steps=\[4, 40\] has the shape of a link"):
        apply_assignments(_prompt(), [Assignment("steps", [4, 40])], WORKFLOW)


def test_nan_from_the_command_line_never_reaches_a_job():
    jobs = plan_jobs([(WorkflowFile(WORKFLOW, _prompt()), _prompt())], [Assignment("cfg", math.nan)], [], False)
    problems = job_problems(jobs, OBJECT_INFO)
    assert "nan is not a finite number" in problems[jobs[0].key][0]


def test_jobs_share_unchanged_nodes_and_never_edit_the_workflow():
    """A 20,000-job dry run took 1 GB: every job held a deep copy of the whole prompt."""
    prompt = _prompt()
    sweep_jobs = plan_jobs([(WorkflowFile(WORKFLOW, prompt), prompt)], [],
                           [Sweep("seed", tuple(range(2000)))], False)
    assert len(sweep_jobs) == 2000 and prompt == _prompt()
    assert all(job.prompt["4"] is prompt["4"] and job.prompt["9"] is prompt["9"] for job in sweep_jobs)
    assert {job.prompt["3"]["inputs"]["seed"] for job in sweep_jobs} == set(range(2000))


def test_checking_many_jobs_checks_shared_nodes_once():
    prompt = _prompt()
    jobs = plan_jobs([(WorkflowFile(WORKFLOW, prompt), prompt)], [],
                     [Sweep("seed", tuple(range(500)))], False)
    checker = PromptChecker(OBJECT_INFO)
    for job in jobs:
        assert checker.problems(job.workflow, job.prompt) == []
    assert len(checker._checked) == 3 + 500  # three shared nodes, one sampler per job


def test_a_20000_job_sweep_of_a_shipped_workflow_stays_small():
    path = Path(__file__).resolve().parents[3] / "workflows" / "api" / "animatediff_txt2vid_sd15.json"
    prompt = json.loads(path.read_text())
    tracemalloc.start()
    try:
        jobs = plan_jobs([(WorkflowFile(path, prompt), prompt)], [], [Sweep("seed", tuple(range(20000)))], False)
        keys = {job.key for job in jobs}
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(keys) == 20000
    assert peak < 50 * 2**20, f"planning 20,000 jobs peaked at {peak / 2**20:.0f} MiB (a deep copy per job: 147 MiB)"
