"""The embedded host's executor settings work on ComfyUI newer than the hosts we can run."""

from __future__ import annotations

from pathlib import Path

from host_setup import comfyui_path

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"

# This process's own ComfyUI gets the executor of a newer release (the test's doing; the
# runner never assigns to ComfyUI's modules), then the embedded host boots and runs twice.
NEWER_EXECUTOR = r"""
import json, sys
from pathlib import Path

scripts, comfyui, work = sys.argv[1:4]
sys.path.insert(0, scripts)
from pack_import import import_pack

import_pack()
from kinema.runner.embedded import EmbeddedComfy, HostPaths, prepare_comfy_imports

prepare_comfy_imports(Path(comfyui))
import utils.extra_config  # ComfyUI's utils before nodes (main.py's order)
import execution


class NewerPromptExecutor(execution.PromptExecutor):
    async def execute_async(self, *args, **kwargs):
        # ComfyUI 0.38's execute_async begins so, whatever the cache type: both headrooms are GB
        ram_headroom = int(self.cache_args["ram"] * (1024 ** 3))
        ram_inactive_headroom = int(self.cache_args["ram_inactive"] * (1024 ** 3))
        assert ram_headroom >= 0 and ram_inactive_headroom >= 0
        return await super().execute_async(*args, **kwargs)


execution.PromptExecutor = NewerPromptExecutor
work = Path(work)
host = EmbeddedComfy(HostPaths(comfyui=Path(comfyui), output=work / "output", work=work)).boot()
events = []
host.on_event(lambda event, data: events.append((event, data)))
prompt = {"1": {"class_type": "EmptyImage", "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 255}},
          "2": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "newer"}}}
first = host.run(prompt)
events.clear()
second = host.run(prompt)
print("KINEMA-RESULT " + json.dumps({
    "executor": type(host._executor).__name__,
    "cache_type": host._executor.cache_type.name,
    "runs": [{"success": r.success, "error": r.error, "files": [str(p) for p in r.files]} for r in (first, second)],
    "cached": [node for event, data in events if event == "execution_cached" for node in data["nodes"]],
}))
"""


def test_a_prompt_runs_on_an_executor_that_reads_every_cache_setting_newer_comfyui_reads(run_python, tmp_path):
    """ComfyUI 0.38's ``PromptExecutor.execute_async`` reads ``cache_args["ram"]`` and ``["ram_inactive"]``
    (GB, as floats) on every run, before anything executes; 0.3.75 and 0.8.0 read only what their cache type uses.
    """
    reported = run_python(NEWER_EXECUTOR, SCRIPTS, comfyui_path(), tmp_path / "work")
    assert reported["executor"] == "NewerPromptExecutor", "the host did not boot with the newer executor"
    first, second = reported["runs"]
    assert first["success"], first["error"]
    assert [Path(p).name for p in first["files"]] == ["newer_00001_.png"]
    assert reported["cache_type"] == "CLASSIC" and second["success"]
    assert set(reported["cached"]) == {"1", "2"}, "the classic cache serves an unchanged prompt"
