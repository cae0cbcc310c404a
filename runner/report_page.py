"""``scripts/batch.py report OUTPUT`` : the temporal-consistency figures of a batch as one HTML page with PNG plots.

The page (OUTPUT/report/index.html, plots beside it in plots/) holds a table of every
job (status, parameters, means of the metrics ``--metrics`` recorded, a link to each
video), one plot per sweep parameter and metric (the mean against the parameter's values,
one line per setting of the other parameters), and each video's metrics over its frames.
Everything a job carries (parameters, file names, errors) is escaped: it is user text.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import re
import sys
from pathlib import Path
from types import MappingProxyType

from .manifest import DONE, JobRecord, Manifest
from .sweep_plot import sweep_plot

METRICS = MappingProxyType({"warp_error": "flow warping error (lower = steadier)", "ssim": "adjacent-frame SSIM (higher = steadier)",
           "clip_consistency": "CLIP frame consistency (higher = steadier)"})
PER_VIDEO_PLOTS = 60  # videos shown with per-frame plots (the table lists every one)
STYLE = """body{font-family:sans-serif;margin:24px;color:#111}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}th{background:#eee}td.num{text-align:right;font-family:monospace}
figure{display:inline-block;margin:6px}figcaption{font-size:12px}.failed{color:#a00}"""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:40] or "x"


def _measured(record: JobRecord) -> list[tuple[str, dict]]:
    """(output path, figures) of a record's measured outputs (a failed measurement holds only "error")."""
    return [(path, figures) for path, figures in record.metrics.items() if isinstance(figures, dict) and "mean" in figures]


def _mean_of(record: JobRecord, metric: str) -> float | None:
    values = [figures["mean"].get(metric) for _, figures in _measured(record)]
    values = [value for value in values if isinstance(value, int | float) and math.isfinite(value)]
    return sum(values) / len(values) if values else None


def _param_text(value: object) -> str:
    return value if isinstance(value, str) else repr(value)


def sweep_parameters(records: list[JobRecord]) -> dict[str, list]:
    """Parameters that take two or more values across the records, with their values in first-seen order."""
    seen: dict[str, dict[str, object]] = {}
    for record in records:
        for name, value in record.params.items():
            seen.setdefault(name, {}).setdefault(_param_text(value), value)
    return {name: list(values.values()) for name, values in seen.items() if len(values) > 1}


def _plot_for(name: str, values: list, metric: str, records: list[JobRecord]) -> tuple[str, object] | None:
    """The mean of ``metric`` against parameter ``name``; a line per setting of the other parameters."""
    lines: dict[str, list[float | None]] = {}
    position = {_param_text(value): index for index, value in enumerate(values)}
    for record in records:
        mean = _mean_of(record, metric)
        if mean is None or name not in record.params:
            continue
        others = ", ".join(f"{key}={_param_text(value)}" for key, value in sorted(record.params.items()) if key != name)
        row = lines.setdefault(others or "all jobs", [None] * len(values))
        row[position[_param_text(record.params[name])]] = mean
    if not lines:
        return None
    return f"{METRICS[metric]} by {name}", sweep_plot(f"{metric} by {name}", name, values, lines)


def _table(records: list[JobRecord], params: list[str], metrics: list[str], page: Path) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name in ["status", "job", "workflow", *params, *metrics, "output / error"])
    rows = []
    for record in records:
        cells = [f'<td class="{"failed" if record.status != DONE else ""}">{html.escape(record.status)}</td>',
                 f"<td>{html.escape(record.key)}</td>", f"<td>{html.escape(Path(record.workflow).name)}</td>"]
        cells += [f"<td>{html.escape(_param_text(record.params[name])) if name in record.params else ''}</td>" for name in params]
        for metric in metrics:
            mean = _mean_of(record, metric)
            cells.append(f'<td class="num">{"" if mean is None else f"{mean:.5f}"}</td>')
        links = " ".join(f'<a href="{html.escape(_relative(path, page))}">{html.escape(Path(path).name)}</a>' for path in record.outputs)
        cells.append(f"<td>{links or html.escape((record.error or '')[:200])}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _relative(path: str, page: Path) -> str:
    return Path(os.path.relpath(Path(path), page.parent)).as_posix()


def _figure(image, plots: Path, name: str, caption: str) -> str:
    image.save(plots / name)
    return f'<figure><img src="plots/{name}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'


def write_report(manifest_path: Path, page: Path) -> Path:
    """Write the page and its plots; returns the page's path."""
    from PIL import Image

    from ..video_metrics import plot_series

    records = list(Manifest(manifest_path).records.values())
    plots = page.parent / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    for stale in [*plots.glob("sweep_*.png"), *plots.glob("video_*.png")]:  # only what an earlier report wrote
        stale.unlink()
    metrics = [metric for metric in METRICS if any(_mean_of(record, metric) is not None for record in records)]
    parameters = sweep_parameters(records)
    sections = [f"<h1>Batch report</h1><p>{len(records)} jobs, {sum(r.status == DONE for r in records)} done, "
                f"{sum(bool(_measured(r)) for r in records)} with temporal-consistency metrics "
                f"(manifest: {html.escape(str(manifest_path))}).</p>"]
    if not metrics:
        sections.append("<p>No job has metrics: run the batch with <code>--metrics</code> (jobs done before are measured "
                        "when they run again, e.g. after deleting their outputs).</p>")
    sections.append(_table(records, list(parameters), metrics, page))
    figures = []
    for name, values in parameters.items():
        for metric in metrics:
            made = _plot_for(name, values, metric, records)
            if made is not None:
                figures.append(_figure(made[1], plots, f"sweep_{_slug(name)}_{metric}.png", made[0]))
    if figures:
        sections.append(f"<h2>Metrics by sweep parameter</h2>{''.join(figures)}")
    videos = []
    for record in records:
        for index, (path, figures_of) in enumerate(_measured(record)):
            if len(videos) >= PER_VIDEO_PLOTS:
                break
            label = f"{Path(path).name} ({', '.join(f'{k}={_param_text(v)}' for k, v in record.params.items()) or record.key})"
            per_pair = figures_of.get("per_pair") or {}
            plotted = [_figure(Image.fromarray(plot_series(per_pair[metric], metric)), plots,
                               f"video_{_slug(record.key)}_{index}_{metric}.png", f"{label}: {metric}")
                       for metric in metrics if per_pair.get(metric) and None not in per_pair[metric]]
            videos.append(f"<h3>{html.escape(label)}</h3>{''.join(plotted)}")
    if videos:
        sections.append(f"<h2>Per video, over frame pairs (pair t: frames t and t+1)</h2>{''.join(videos)}")
    page.write_text(f'<!doctype html><html><head><meta charset="utf-8"><title>Kinema batch report</title>'
                    f"<style>{STYLE}</style></head><body>{''.join(sections)}</body></html>", encoding="utf-8")
    return page


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/batch.py report", description="Render a batch's temporal-consistency "
                                     "metrics (recorded with --metrics) as an HTML page with PNG plots.")
    parser.add_argument("output", type=Path, help="the batch's output folder (holds manifest.jsonl)")
    parser.add_argument("--manifest", type=Path, default=None, help="manifest file (default: OUTPUT/manifest.jsonl)")
    parser.add_argument("--page", type=Path, default=None, help="the page to write (default: OUTPUT/report/index.html)")
    args = parser.parse_args(argv)
    manifest = (args.manifest or args.output / "manifest.jsonl").resolve()
    if not manifest.is_file():
        print(f"error: {manifest}: no manifest there; give the folder a batch wrote (its --output) or --manifest", file=sys.stderr)
        return 2
    try:
        page = write_report(manifest, (args.page or args.output / "report" / "index.html").resolve())
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"report: {page}\nopen it in a browser: file://{page}")
    return 0
