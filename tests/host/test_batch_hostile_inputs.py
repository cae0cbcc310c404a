"""The batch runner against careless and hostile input, in a real ComfyUI (embedded, this process).

Each case asserts its outcome class: refused before anything runs, with a sentence naming
the workflow, node, input, value and fix (exit 2, nothing written); or run, with every
output kept. No case needs a model: they are refused at checking, or save a latent.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from kinema.runner import cli
from kinema.runner.manifest import DONE, Manifest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def run_cli(comfy_host, home, tmp_path):
    output = tmp_path / "batch"

    def run(*args: str) -> int:
        return cli.main([*map(str, args), "--no-progress", "--output", str(output)], host=comfy_host, home=home)

    run.output = output
    return run


def _latent_workflow(tmp_path: Path, **edits) -> Path:
    """Empty latent -> Save Latent (a file under the 'latents' ui key), plus a sampler wired as ``edits`` say."""
    prompt = {
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 2}},
        "9": {"class_type": "SaveLatent", "inputs": {"samples": ["5", 0], "filename_prefix": "kinema/latent"}},
    }
    for node_input, value in edits.items():
        node, name = node_input.split("__")
        prompt[node]["inputs"][name] = value
    path = tmp_path / "latent.json"
    path.write_text(json.dumps(prompt))  # NaN is written as the JSON extension NaN, as json.dumps does
    return path


def test_a_saved_latent_is_an_output_and_stays(run_cli, tmp_path, capsys):
    """Outputs under a ui key other than images/gifs/videos/audio were deleted at the end while the job said done."""
    assert run_cli(_latent_workflow(tmp_path)) == 0
    (record,) = Manifest(run_cli.output / "manifest.jsonl").records.values()
    assert record.status == DONE and len(record.outputs) == 1 and record.outputs[0].endswith(".latent")
    latent = Path(record.outputs[0])
    assert latent.is_file() and latent.is_relative_to(run_cli.output)
    from safetensors.torch import load_file

    assert load_file(str(latent))["latent_tensor"].shape == torch.Size([2, 4, 8, 8])


@pytest.mark.parametrize(("edits", "args", "says"), [
    ({"5__width": math.nan}, [], "input 'width' of node 5 (EmptyLatentImage): nan is not a finite number"),
    ({}, ["--set", "batch_size=Infinity"], "input 'batch_size' of node 5 (EmptyLatentImage): inf is not a finite number"),
    ({"9__samples": ["77", 0]}, [], "input 'samples' of node 9 (SaveLatent): is wired to node '77', which is not in the workflow"),
    ({"9__samples": ["9", 0]}, [], "is wired to its own output 0"),
    ({"9__samples": ["5", 3]}, [], "wired to output 3 of node 5 (EmptyLatentImage), which has 1 output(s)"),
    ({}, ["--set", "width=[5, 40]"], "width=[5, 40] has the shape of a link"),
    ({}, ["--set", "filename_prefix=../../escape"], "'../../escape' would save outside the output folder"),
    ({"5__width": {"value": 64}}, [], "dict value {'value': 64} where a int widget value belongs"),
])
def test_bad_values_and_links_are_refused_before_anything_runs(run_cli, tmp_path, capsys, edits, args, says):
    assert run_cli(_latent_workflow(tmp_path, **edits), *args) == 2
    error = capsys.readouterr().err
    assert says in error and str(tmp_path / "latent.json") in error, error
    assert not run_cli.output.exists(), "nothing is written for a batch that cannot start"


def test_a_dry_run_validates_every_job_with_comfyui(run_cli, tmp_path, capsys):
    path = tmp_path / "loader.json"
    path.write_text(json.dumps({
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "not_installed.safetensors"}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "x"}},
    }))
    assert run_cli(path, "--dry-run") == 2
    out = capsys.readouterr().out
    assert "invalid" in out and "not_installed.safetensors" in out and "1 jobs, 0 to run, 1 invalid" in out


def test_a_second_command_on_a_busy_output_folder_is_refused_and_loses_nothing(run_cli, tmp_path, capsys):
    """Two commands on one folder lost 231 of 600 manifest records and one died with FileNotFoundError."""
    manifest = run_cli.output / "manifest.jsonl"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(SCRIPTS)!r})
        from pack_import import import_pack
        import_pack()
        from pathlib import Path
        from kinema.runner.manifest import JobRecord, Manifest
        manifest = Manifest(Path({str(manifest)!r}))
        with manifest.writing():
            for index in range(600):
                manifest.record(JobRecord(f"k{{index}}", "other.json", {{}}, "failed"))
            print("held", flush=True)
            sys.stdin.readline()
    """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert run_cli(_latent_workflow(tmp_path)) == 2
        assert f"another batch command is writing {manifest} (held by process {holder.pid})" in capsys.readouterr().err
    finally:
        holder.communicate("\n", timeout=60)
    assert len(Manifest(manifest).records) == 600
    assert run_cli(_latent_workflow(tmp_path)) == 0, "the folder is free once the first command ends"
    assert len(Manifest(manifest).records) == 601
