"""Output names a host reports are untrusted: the runner writes, moves and deletes nothing outside the output folder.

The hostile server here is not ComfyUI: it is what a compromised or buggy server (or a
custom node) could answer, over the same HTTP routes the runner uses.
"""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from kinema.runner.batch import Batch
from kinema.runner.job_plan import Job
from kinema.runner.manifest import DONE, FAILED, Manifest
from kinema.runner.output_paths import unsafe_reason
from kinema.runner.results import output_entries
from kinema.runner.workers import RemoteWorker

HOSTILE_ENTRIES = [
    ({"filename": "../../../victim.txt", "subfolder": ""}, "climbs out"),
    ({"filename": "victim.txt", "subfolder": "../.."}, "climbs out"),
    ({"filename": "victim.txt", "subfolder": "a/../../b"}, "climbs out"),
    ({"filename": "victim.txt", "subfolder": "..\\..\\"}, "climbs out"),
    ({"filename": "/etc/victim.txt", "subfolder": ""}, "absolute"),
    ({"filename": "victim.txt", "subfolder": "/tmp"}, "absolute"),
    ({"filename": "victim.txt", "subfolder": "C:\\Users"}, "absolute"),
    ({"filename": "sub/victim.txt", "subfolder": ""}, "not a plain file name"),
    ({"filename": "vic\x00tim.txt", "subfolder": ""}, "control characters"),
    ({"filename": 7, "subfolder": ""}, "not text"),
    ({"filename": "victim.txt", "subfolder": "", "type": "../x"}, "type"),
]


@pytest.mark.parametrize(("entry", "says"), HOSTILE_ENTRIES)
def test_entries_that_leave_their_folder_are_named(entry, says):
    assert says in unsafe_reason(entry)


@pytest.mark.parametrize("entry", [{"filename": "a_00001_.mp4", "subfolder": "kinema/videos", "type": "output"},
                                   {"filename": "x.latent", "subfolder": ""}, {"filename": "..a.png", "subfolder": "b..c"}])
def test_ordinary_entries_pass(entry):
    assert unsafe_reason(entry) is None


def test_files_under_any_ui_key_are_outputs():
    """Save Latent lists its file under 'latents'; a file missed here was deleted with the staging folder."""
    outputs = {"3": {"latents": [{"filename": "l_00001_.latent", "subfolder": "", "type": "output"}]},
               "9": {"images": [{"filename": "i.png", "subfolder": "", "type": "output"}], "animated": [True]},
               "12": {"text": ["not a file"]}}
    assert sorted(entry["filename"] for entry in output_entries(outputs)) == ["i.png", "l_00001_.latent"]


class _HostileServer(http.server.BaseHTTPRequestHandler):
    """Answers the routes the runner uses; its history names an output outside the output folder."""

    entry: dict = {}

    def do_GET(self):  # noqa: N802  (http.server's naming)
        if self.path.startswith("/history/"):
            body = {"p1": {"status": {"status_str": "success", "messages": []},
                           "outputs": {"9": {"images": [self.entry]}}}}
        elif self.path.startswith("/queue"):
            body = {"queue_running": [], "queue_pending": []}
        elif self.path.startswith("/view"):
            self._answer(b"overwritten by the runner")
            return
        else:
            body = {}
        self._answer(json.dumps(body).encode())

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer(json.dumps({"prompt_id": "p1"}).encode())

    def _answer(self, payload: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("entry", [{"filename": "victim.txt", "subfolder": "../..", "type": "output"},
                                   {"filename": "../../victim.txt", "subfolder": "", "type": "output"}])
def test_a_server_naming_an_output_outside_the_folder_fails_the_job_and_touches_nothing(tmp_path, entry):
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's file")
    output = tmp_path / "a" / "out"
    handler = type("Handler", (_HostileServer,), {"entry": entry})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        worker = RemoteWorker(f"http://127.0.0.1:{server.server_port}")
        job = Job(Path("wf.json"), {}, {"1": {"class_type": "X", "inputs": {}}}, None)
        report = Batch([job], Manifest(output / "manifest.jsonl"), output).run([worker])
    finally:
        server.shutdown()
    (record,) = report.records
    assert record.status == FAILED and record.status != DONE
    assert "points outside its output folder" in record.error and "wrote and moved nothing" in record.error
    assert victim.read_text() == "the user's file"
    written = sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file())
    assert written == ["a/out/manifest.jsonl", "a/out/manifest.jsonl.lock", "victim.txt"]
