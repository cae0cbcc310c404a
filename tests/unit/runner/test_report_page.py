"""The batch report page: a table of every job, plots per sweep parameter and per video, user text escaped."""

from __future__ import annotations

import re

import torch
from PIL import Image

from kinema.runner.manifest import DONE, FAILED, JobRecord, Manifest
from kinema.runner.report_page import main as report_main
from kinema.runner.report_page import sweep_parameters
from kinema.video_metrics import measure_video

HOSTILE = '<script>alert("x")</script>'


def _clip(shift: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(3)
    texture = torch.rand(48, 64 + 8 * shift, 3, generator=generator)
    return torch.stack([texture[:, step * shift: step * shift + 64] for step in range(5)])  # [5, 48, 64, 3]


def _manifest(tmp_path):
    output = tmp_path / "batch"
    manifest = Manifest(output / "manifest.jsonl")
    with manifest.writing():
        for seed in (1, 2):
            for shift in (0, 2, 4):
                video = output / f"v_{seed}_{shift}.mp4"
                video.parent.mkdir(parents=True, exist_ok=True)
                video.write_bytes(b"x")
                figures = measure_video(_clip(shift)).to_dict()
                manifest.record(JobRecord(f"k{seed}{shift}", "wf.json", {"seed": seed, "shift": shift, "text": HOSTILE},
                                          DONE, outputs=[str(video)], metrics={str(video): figures}))
        manifest.record(JobRecord("kf", "wf.json", {"seed": 3, "shift": 0, "text": HOSTILE}, FAILED, error=f"node 3: {HOSTILE}"))
    return output


def test_the_page_lists_every_job_with_its_means_and_links(tmp_path, capsys):
    output = _manifest(tmp_path)
    assert report_main([str(output)]) == 0
    page = output / "report" / "index.html"
    assert f"report: {page}" in capsys.readouterr().out
    text = page.read_text()
    assert text.count("<tr>") == 1 + 7
    assert HOSTILE not in text and "&lt;script&gt;" in text, "user text is escaped"
    assert 'href="../v_1_2.mp4"' in text
    for src in re.findall(r'<img src="([^"]+)"', text):
        with Image.open(page.parent / src) as image:
            assert image.size[0] > 100 and image.getextrema() != ((255, 255),) * 3


def test_one_plot_per_sweep_parameter_and_metric_and_per_video(tmp_path):
    output = _manifest(tmp_path)
    assert report_main([str(output)]) == 0
    plots = sorted(path.name for path in (output / "report" / "plots").iterdir())
    assert [name for name in plots if name.startswith("sweep_")] == [
        "sweep_seed_ssim.png", "sweep_seed_warp_error.png", "sweep_shift_ssim.png", "sweep_shift_warp_error.png"]
    assert sum(name.startswith("video_") for name in plots) == 6 * 2


def test_sweep_parameters_are_those_that_vary():
    records = [JobRecord("a", "w", {"seed": 1, "cfg": 7}, DONE), JobRecord("b", "w", {"seed": 2, "cfg": 7}, DONE)]
    assert sweep_parameters(records) == {"seed": [1, 2]}


def test_a_folder_without_a_manifest_is_named(tmp_path, capsys):
    assert report_main([str(tmp_path)]) == 2
    assert "no manifest there" in capsys.readouterr().err
