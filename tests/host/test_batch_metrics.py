"""``--metrics``: every video a batch saves gets its temporal-consistency figures in the manifest."""

from __future__ import annotations

import pytest
from manifest_records import latest_records
from metrics_batch import decoded_video, run_metrics_batch

from kinema.runner.manifest import DONE
from kinema.video_metrics import measure_video


@pytest.fixture(scope="module")
def metrics_batch(comfy_host, home, stand_ins, tmp_path_factory):
    output = tmp_path_factory.mktemp("metrics") / "batch"
    assert run_metrics_batch(comfy_host, home, stand_ins, output) == 0
    return output


def test_each_saved_video_has_its_figures_in_the_manifest(metrics_batch):
    records = latest_records(metrics_batch / "manifest.jsonl")
    assert len(records) == 4 and all(record["status"] == DONE for record in records)
    for record in records:
        (video,) = record["outputs"]
        assert set(record["metrics"]) == {video}
        recorded = record["metrics"][video]
        expected = measure_video(decoded_video(video)).to_dict()
        assert recorded["frames"] == expected["frames"] == 16
        for metric in ("warp_error", "ssim"):
            assert recorded["mean"][metric] == pytest.approx(expected["mean"][metric], abs=1e-9)
            assert len(recorded["per_pair"][metric]) == 15
        assert recorded["mean"]["clip_consistency"] is None

