"""Every job checked before any runs: the runner's own checks, plus ComfyUI's validation in a dry run where it can.

A batch refuses to start while any job has a problem (all of them listed, so one fix
round suffices); ``--dry-run`` lists each job with what a run would do or why it cannot.
"""

from __future__ import annotations

import sys

from .job_plan import Job
from .manifest import Manifest
from .prompt_check import PromptChecker

SHOWN = 20  # problems printed in full before "... and N more"


def job_problems(jobs: list[Job], object_info: dict, validator=None) -> dict[str, list[str]]:
    """{job key: problems} for the jobs that have any. ``validator``: a worker whose ``validate(prompt)`` runs
    ComfyUI's own validation without executing (the embedded host); used in dry runs, where nothing else would."""
    checker = PromptChecker(object_info)
    problems: dict[str, list[str]] = {}
    validate = getattr(validator, "validate", None)
    for job in jobs:
        found = [str(problem) for problem in checker.problems(job.workflow, job.prompt)]
        if not found and validate is not None:
            result = validate(job.prompt)
            if not result.success:
                found = [f"{job.workflow}: ComfyUI's validation: {line}" for line in result.describe_failure().splitlines()]
        if found:
            problems[job.key] = found
    return problems


def print_problems(jobs: list[Job], problems: dict[str, list[str]], stream=None) -> None:
    stream = stream or sys.stderr
    lines = [f"job {job.key} ({job.workflow.name} {job.params}): {problem}"
             for job in jobs for problem in problems.get(job.key, [])]
    for line in lines[:SHOWN]:
        print(f"error: {line}", file=stream)
    if len(lines) > SHOWN:
        print(f"... and {len(lines) - SHOWN} more", file=stream)
    print(f"{len(problems)} of {len(jobs)} jobs cannot run as given; nothing ran. Fix the workflow or the --set/--sweep "
          "values named above (--dry-run lists every job)", file=stream)


def print_dry_run(jobs: list[Job], manifest: Manifest, problems: dict[str, list[str]], stream=None) -> int:
    """One line per job (and its problems); exit code 2 when any job could not run, else 0."""
    stream = stream or sys.stdout
    to_run = 0
    for job in jobs:
        done = manifest.is_done(job.key)
        if job.key in problems:
            state = "invalid"
        else:
            to_run += not done
            state = "skip (done)" if done else f"run ({manifest.status(job.key) or 'new'})"
        print(f"{job.key}  {state:16}  {job.workflow.name}  {job.params}", file=stream)
        for problem in problems.get(job.key, []):
            print(f"    {problem}", file=stream)
    print(f"{len(jobs)} jobs, {to_run} to run, {len(problems)} invalid", file=stream)
    return 2 if problems else 0
