"""Random stand-in models reach the batch runner's ComfyUI only when asked for (--stand-ins)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

# scripts/batch.py as a user runs it (already in the host's Python), then what ComfyUI's folders hold.
RUN_BATCH_SCRIPT = r"""
import json, runpy, sys

batch_script, *argv = sys.argv[1:]
sys.argv = [batch_script, *argv]
try:
    runpy.run_path(batch_script, run_name="__main__")
except SystemExit as stop:
    code = stop.code
import folder_paths

print("KINEMA-RESULT " + json.dumps({"code": code, "folders": {key: entry[0] for key, entry in folder_paths.folder_names_and_paths.items()}}))
"""


@pytest.mark.parametrize("asked", [False, True], ids=["without-stand-ins", "with-stand-ins"])
def test_fixture_folders_are_registered_only_with_stand_ins(run_python, tmp_path, asked):
    from fixtures import cache

    home = tmp_path / "home"
    workflow = tmp_path / "grey.json"
    workflow.write_text(json.dumps({
        "1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 8421504}},
        "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "grey"}},
    }))
    args = [workflow, "--no-progress", "--output", tmp_path / "batch", *(["--stand-ins"] if asked else [])]
    reported = run_python(RUN_BATCH_SCRIPT, SCRIPTS / "batch.py", *args, env={"KINEMA_HOME": str(home), "KINEMA_BATCH_IN_HOST": "1"})

    assert reported["code"] == 0
    registered = {folder for folders in reported["folders"].values() for folder in folders}
    fixture_folders = {str(folder) for folders in cache.model_dirs(home).values() for folder in folders}
    if asked:
        assert fixture_folders <= registered, "--stand-ins must offer the stand-in files to ComfyUI"
    else:
        assert not fixture_folders & registered, "without --stand-ins, random stand-ins must never stand in for a user's models"
        assert not [folder for folder in registered if folder.startswith(str(home / "fixtures"))]


def test_stand_ins_asked_for_but_not_supplied_is_an_error_that_says_so(home, tmp_path, capsys):
    from kinema.runner import cli

    workflow = tmp_path / "empty.json"
    workflow.write_text("{}")
    assert cli.main([str(workflow), "--stand-ins", "--output", str(tmp_path / "batch")], home=home) == 2
    error = capsys.readouterr().err
    assert "--stand-ins" in error and "scripts/batch.py" in error
    assert not (tmp_path / "batch").exists()
