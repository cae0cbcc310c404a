"""Batch-runner overhead: N jobs of one workflow (different seeds) vs N x one job's run time + one model load.

    .kinema/hosts/0.8.0/venv/bin/python bench/runner_overhead.py [--jobs 6] [--size 64] [--steps 4] [--frames 8]

Boots the embedded ComfyUI once, runs the SD1.5 txt2vid workflow through the runner
(plan, manifest, staging, publish) for seeds 1..N and times the whole batch. Then, in the
same process, runs the same prompt directly (no runner) with three more seeds: the
median is one job's run time with models loaded. The "model load" is everything the
batch's first job paid beyond that (loading the checkpoint and module, encoding the
prompt once, first-call warm-up); its loader nodes alone are printed too.
Goal: batch / (N x job + load) <= 1.05. The runner's own time (planning, manifest,
moving files) is the batch's wall time minus the time ComfyUI spent executing its jobs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _host import PACK_ROOT, comfyui_path, fixture_files, import_comfy, kinema_home, machine_line

WORKFLOW = PACK_ROOT / "workflows" / "api" / "animatediff_txt2vid_sd15.json"
LOADERS = ("CheckpointLoaderSimple", "KinemaLoadMotionModule")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    import_comfy()
    fixture_files()
    from fixtures import cache
    from kinema.runner.batch import Batch
    from kinema.runner.embedded import EmbeddedComfy, HostPaths
    from kinema.runner.job_plan import Assignment, parse_sweep, plan_jobs
    from kinema.runner.manifest import Manifest
    from kinema.runner.worker_setup import resolve_stand_ins
    from kinema.runner.workers import EmbeddedWorker
    from kinema.runner.workflow_files import read_workflow

    print(machine_line())
    work = Path(tempfile.mkdtemp(prefix="kinema-bench-runner-"))
    host = EmbeddedComfy(HostPaths(comfyui=comfyui_path(), output=work / "out", work=work,
                                   model_dirs=cache.model_dirs(kinema_home()))).boot()
    workflow = read_workflow(WORKFLOW)
    prompt = resolve_stand_ins(workflow.data, host.object_info(), kinema_home())
    sets = [Assignment("width", args.size), Assignment("height", args.size), Assignment("steps", args.steps),
            Assignment("batch_size", args.frames)]
    jobs = plan_jobs([(workflow, prompt)], sets, [parse_sweep(f"seed=1..{args.jobs}")], zipped=False)

    started = time.perf_counter()
    report = Batch(jobs, Manifest(work / "batch" / "manifest.jsonl"), work / "batch").run([EmbeddedWorker(host)])
    batch_seconds = time.perf_counter() - started
    assert report.ok, [record.error for record in report.records]
    first = report.records[0]
    loader_seconds = sum(seconds for node, seconds in first.node_seconds.items() if prompt[node]["class_type"] in LOADERS)
    executing_seconds = sum(record.seconds for record in report.records)

    direct = []
    for seed in range(args.jobs + 1, args.jobs + 4):
        job = plan_jobs([(workflow, prompt)], [*sets, Assignment("seed", seed)], [], zipped=False)[0]
        result = host.run(job.prompt)
        assert result.success, result.describe_failure()
        direct.append(result.seconds)
    job_seconds = statistics.median(direct)
    load_seconds = first.seconds - job_seconds
    budget = args.jobs * job_seconds + load_seconds

    print(f"{args.jobs} jobs, {args.size}px, {args.steps} steps, {args.frames} frames")
    print(f"batch through the runner          {batch_seconds:8.2f} s  (jobs: {', '.join(f'{r.seconds:.2f}' for r in report.records)})")
    print(f"one job, direct (median of 3)     {job_seconds:8.2f} s  ({', '.join(f'{s:.2f}' for s in direct)})")
    print(f"model load (first job's extra)    {load_seconds:8.2f} s  (its loader nodes alone: {loader_seconds:.2f} s)")
    print(f"runner's own time                 {batch_seconds - executing_seconds:8.2f} s  "
          f"({(batch_seconds - executing_seconds) / args.jobs * 1000:.0f} ms per job)")
    print(f"ratio batch / (N x job + load) = {batch_seconds / budget:.3f}   (goal <= 1.05)")
    print(machine_line())


if __name__ == "__main__":
    main()
