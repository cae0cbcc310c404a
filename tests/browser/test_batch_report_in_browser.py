"""The batch report a user opens from disk: a real --metrics batch in this process's ComfyUI, its page in Chromium."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from metrics_batch import run_metrics_batch

from kinema.runner.report_page import main as report_main

from .conftest import DRIVER, PAGE_TIMEOUT_MS


@pytest.mark.browser
def test_the_report_page_loads_with_its_table_and_plots(browser_tools, comfy_host, home, stand_ins, tmp_path, host_label):
    output = tmp_path / "batch"
    assert run_metrics_batch(comfy_host, home, stand_ins, output) == 0
    assert report_main([str(output)]) == 0
    page = output / "report" / "index.html"
    screenshot = home / "output" / host_label / "browser" / "batch_report.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"pageUrl": page.as_uri(), "chromium": str(browser_tools.chromium), "timeoutMs": PAGE_TIMEOUT_MS,
                               "screenshot": str(screenshot)}))
    done = subprocess.run([str(browser_tools.node), str(DRIVER / "open_report.cjs"), str(job)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, NODE_PATH=str(browser_tools.node_modules)))
    assert done.returncode == 0, done.stderr[-3000:]
    shown = json.loads(done.stdout.splitlines()[-1])
    assert shown["problems"] == [] and shown["title"] == "Kinema batch report"
    assert shown["tableRows"] == 4 and {"blur_radius", "sigma", "warp_error", "ssim"} <= set(shown["headers"])
    sweep_plots = [image for image in shown["images"] if image["src"].startswith("plots/sweep_")]
    video_plots = [image for image in shown["images"] if image["src"].startswith("plots/video_")]
    assert len(sweep_plots) == 2 * 2 and len(video_plots) == 4 * 2, "a plot per parameter and metric, and per video and metric"
    assert all(image["width"] > 100 and image["height"] > 100 for image in shown["images"]), "every plot decoded in the page"
    assert screenshot.stat().st_size > 20_000
