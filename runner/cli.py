"""The batch runner's command line: ``python3 scripts/batch.py --help`` (this module's epilog teaches it)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import threading
from pathlib import Path

from .batch import Batch, BatchReport
from .conversion import to_api_prompt
from .job_checks import job_problems, print_dry_run, print_problems
from .job_plan import parse_set, parse_sweep, plan_jobs
from .manifest import DONE, FAILED, INTERRUPTED, Manifest, ManifestBusy
from .metrics_setup import chosen_clip_vision, measurer
from .stand_ins import StandIns
from .workflow_files import WorkflowError, collect_workflows

EPILOG = """\
examples:
  # every workflow in a folder (UI or API format), on this machine
  python3 scripts/batch.py workflows/
  # one workflow, seeds 1..3 x every prompt in prompts.txt (6 jobs); look first, then run
  python3 scripts/batch.py workflows/animatediff_txt2vid_sd15.json --sweep seed=1..3 \\
      --sweep "Positive prompt.text=@prompts.txt" --dry-run
  # fixed edits: by input name (every node that has it), node title or node id
  python3 scripts/batch.py my.json --set steps=30 --set "6.batch_size=24" --set "KSampler.cfg=6.5"
  # pair values instead of crossing them
  python3 scripts/batch.py my.json --sweep seed=[1,2,3] --sweep cfg=[5,6,7] --zip
  # ComfyUI servers you already run (jobs go to whichever has room), or a Ray cluster
  python3 scripts/batch.py workflows/ --server http://gpu1:8188 --server http://gpu2:8188
  python3 scripts/batch.py workflows/ --ray auto
  # temporal consistency of every saved video, then a page of tables and plots
  python3 scripts/batch.py my.json --sweep seed=1..4 --metrics --output runs/
  # (CLIP consistency too with the one CLIP vision model installed, or: --clip-vision FILE)
  python3 scripts/batch.py report runs/

targets: NODE.INPUT, NODE = node id or title (as shown in ComfyUI); a bare INPUT sets it
on every node that has it as a value. Values are JSON when they parse, else text.
sweeps: START..STOP[..STEP] (integers, inclusive), a JSON list, or @FILE (one value per line).

Every job is checked before any runs (NaN, broken links, a filename_prefix leaving the
output folder ...); --dry-run also lists ComfyUI's own validation of each. Re-running the
same command skips jobs that are done (same resolved prompt; see the manifest) and runs
failed or interrupted ones again; one command at a time per manifest. Ctrl-C stops after
the current node (twice: at once); the next run resumes. Exit code 1 if a job failed, 130
if stopped, 2 if the batch could not start.
"""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/batch.py", description="Run ComfyUI workflows headless, in batches: sweeps, resumable manifest, "
        "remote servers, Ray.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workflows", nargs="+", type=Path, help="workflow files (UI or API format) or folders of *.json")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="TARGET=VALUE",
                        help="change an input in every job (repeatable)")
    parser.add_argument("--sweep", dest="sweeps", action="append", default=[], metavar="TARGET=VALUES",
                        help="one job per value; several sweeps are crossed (repeatable)")
    parser.add_argument("--zip", action="store_true", help="pair sweep values position by position instead of crossing them")
    parser.add_argument("--output", type=Path, default=None, help="folder for outputs and the manifest (default: KINEMA_HOME/batch)")
    parser.add_argument("--manifest", type=Path, default=None, help="manifest file (default: OUTPUT/manifest.jsonl)")
    parser.add_argument("--dry-run", action="store_true", help="print the jobs and what a run would do, run nothing")
    parser.add_argument("--server", dest="servers", action="append", default=[], metavar="URL",
                        help="a running ComfyUI server to submit to (repeatable); default: ComfyUI in this process")
    parser.add_argument("--header", dest="headers", action="append", default=[], metavar="'NAME: VALUE'",
                        help="HTTP header for every server request, e.g. 'Authorization: Bearer TOKEN'")
    parser.add_argument("--per-server", type=int, default=1, metavar="N",
                        help="jobs a server may hold (running + waiting, anyone's) before it gets another (default 1)")
    parser.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                        help="fan out to Ray actors, one embedded ComfyUI each: a cluster address, 'auto', or none for a local Ray")
    parser.add_argument("--ray-actors", type=int, default=None, metavar="N", help="actors to start (default: one per GPU, else 1)")
    parser.add_argument("--stand-ins", action="store_true",
                        help="replace model files that are not installed by random-weight files of the same layout, and "
                        "provide the shipped workflows' sample clip (for trying workflows without models)")
    parser.add_argument("--metrics", action="store_true",
                        help="measure the temporal consistency of every video a job saves (flow warping error, adjacent-frame "
                        "SSIM, and CLIP consistency where a CLIP vision model is at hand) into the manifest; "
                        "'scripts/batch.py report OUTPUT' turns them into a page")
    parser.add_argument("--clip-vision", default=None, metavar="NAME",
                        help="the file in ComfyUI's clip_vision folders to measure CLIP consistency with (embedded batches; "
                        "default: the only one installed), or 'none'")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def print_summary(report: BatchReport, output: Path, manifest: Path, stream=None) -> None:
    stream = stream or sys.stdout
    rows = [(record.status, record.key, f"{record.seconds:.1f}s", Path(record.workflow).name,
             " ".join(f"{k}={v}" for k, v in record.params.items())[:60], record.outputs[0] if record.outputs else (record.error or "")[:80])
            for record in report.records]
    header = ("status", "job", "time", "workflow", "params", "output / error")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(), file=stream)
    print(f"\n{report.count(DONE)} done, {len(report.skipped)} skipped (done before), {report.count(FAILED)} failed, "
          f"{report.count(INTERRUPTED)} interrupted in {report.seconds:.1f} s", file=stream)
    print(f"outputs: {output}\nmanifest: {manifest}", file=stream)


@contextlib.contextmanager
def ctrl_c_stops(batch: Batch, workers: list):
    """First Ctrl-C: finish the current node (embedded) or job (servers), then stop; second: stop now; third: abort."""
    presses = []

    def on_interrupt(signum, frame):
        presses.append(signum)
        batch.stop.set()
        if len(presses) == 1:
            print("\nstopping after the current node (Ctrl-C again to stop at once)", file=sys.stderr)
            for worker in workers:
                getattr(worker, "stop_after_current_node", lambda: None)()
        elif len(presses) == 2:
            for worker in workers:
                getattr(worker, "interrupt_now", lambda: None)()
        else:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_interrupt) if _in_main_thread() else None
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def main(argv: list[str] | None = None, host=None, home: Path | None = None, comfyui: Path | None = None,
         stand_ins: StandIns | None = None) -> int:
    """Run the batch.

    ``host``: an already booted EmbeddedComfy to reuse (tests, notebooks); else the ComfyUI in
    ``comfyui`` (default: COMFYUI_PATH) boots here. ``stand_ins``: the random stand-in models
    ``--stand-ins`` uses (scripts/batch.py supplies them); without that option they stay unused.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:
        from .report_page import main as report_main

        return report_main(argv[1:])
    args = parse_args(argv)
    home = home or Path(os.environ.get("KINEMA_HOME", Path.cwd() / ".kinema"))
    workers: list = []  # filled by _run, released here whatever happens
    try:
        return _run(args, host, home, workers, comfyui, stand_ins)
    finally:
        for worker in workers:
            worker.close()


def _run(args: argparse.Namespace, host, home: Path, workers: list, comfyui: Path | None, stand_ins: StandIns | None) -> int:
    from .worker_setup import make_workers, provide_sample_inputs, resolve_stand_ins

    output = (args.output or home / "batch").resolve()
    manifest_path = (args.manifest or output / "manifest.jsonl").resolve()
    try:
        if args.stand_ins and stand_ins is None:
            raise ValueError("--stand-ins: whoever called runner.cli.main supplied no stand-in models (its stand_ins "
                             "argument); run scripts/batch.py, which supplies them, or leave the option out")
        stand_ins = stand_ins if args.stand_ins else None  # never mounted unless asked for
        sets = [parse_set(text) for text in args.sets]
        sweeps = [parse_sweep(text) for text in args.sweeps]
        workflows = collect_workflows(args.workflows)
        workers += make_workers(args, host, home, output, comfyui, stand_ins)
        object_info = workers[0].object_info()
        prompts = [(workflow, to_api_prompt(workflow, object_info)) for workflow in workflows]
        if stand_ins is not None:
            prompts = [(workflow, resolve_stand_ins(prompt, object_info, stand_ins)) for workflow, prompt in prompts]
            provide_sample_inputs(workers, stand_ins)
        jobs = plan_jobs(prompts, sets, sweeps, args.zip)
        manifest = Manifest(manifest_path)
        problems = job_problems(jobs, object_info, workers[0] if args.dry_run else None)
        clip_vision = chosen_clip_vision(args.metrics, args.clip_vision, embedded=not (args.servers or args.ray))
        if args.dry_run:
            return print_dry_run(jobs, manifest, problems)
        if problems:
            print_problems(jobs, problems)
            return 2
        measure = measurer(clip_vision) if args.metrics else None  # the model loads before the first job
    except (WorkflowError, ValueError, ConnectionError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from tqdm import tqdm

    with tqdm(total=len(jobs), desc="jobs", unit="job", disable=args.no_progress, position=0) as job_bar:
        batch = Batch(jobs, manifest, output, job_bar, measure)
        try:
            with ctrl_c_stops(batch, workers):
                report = batch.run(workers)
        except ManifestBusy as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    if host is None and not (args.servers or args.ray):
        # our own host saved into .staging/comfyui; every finished file is linked into OUTPUT by now
        shutil.rmtree(output / ".staging" / "comfyui", ignore_errors=True)
    print_summary(report, output, manifest_path)
    if report.count(FAILED):
        return 1
    return 130 if report.count(INTERRUPTED) else 0
