"""Where a job runs: the embedded ComfyUI in this process, or a ComfyUI server over HTTP.

A worker runs one job at a time and leaves the job's files in the staging folder it is
given; the batch renames them into place. A worker whose server stops answering raises
``WorkerLost`` and the batch hands the job to another worker.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import threading
import time
from pathlib import Path

from .embedded import EmbeddedComfy
from .job_plan import Job
from .output_paths import check_entries, is_inside, relative_path
from .remote import RemoteComfy, ServerUnreachable
from .results import RunResult, output_entries

log = logging.getLogger(__name__)


class WorkerLost(RuntimeError):
    """The worker can take no more jobs (its server died); the job it held was not done."""


def output_metadata(job: Job) -> dict:
    """What saved files carry besides the prompt: the UI graph (as the frontend sends it) and the job."""
    metadata = {"kinema_job": {"key": job.key, "workflow": job.workflow.name, "params": job.params}}
    if job.ui_workflow is not None:
        metadata["workflow"] = job.ui_workflow
    return metadata


def saved_files(files: list[Path], output_directory: Path) -> list[Path]:
    """A job's saved files, once each (a cached and a fresh node may name the same file); previews in temp/ left out."""
    return [path for path in dict.fromkeys(files) if is_inside(path, output_directory) and path.exists()]


def gather_outputs(files: list[Path], output_directory: Path, staging: Path) -> list[Path]:
    """Link (or copy) a job's saved files from ComfyUI's output folder into its staging folder.

    The originals stay: ComfyUI may answer a later, partly identical prompt from its cache
    with these very files.
    """
    gathered = []
    for path in saved_files(files, output_directory):
        target = staging / path.resolve().relative_to(output_directory.resolve())
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:  # another filesystem, or no hard links there
            shutil.copy2(path, target)
        gathered.append(target)
    return gathered


class EmbeddedWorker:
    """The in-process ComfyUI: models stay loaded from one job to the next."""

    def __init__(self, host: EmbeddedComfy) -> None:
        self.host = host
        self.name = "embedded"

    def object_info(self) -> dict:
        return self.host.object_info()

    def run(self, job: Job, staging: Path) -> RunResult:
        result = self.host.run(copy.deepcopy(job.prompt), extra_pnginfo=output_metadata(job))  # jobs share unchanged nodes
        if result.success:
            check_entries(output_entries(result.outputs), "a node of this ComfyUI")
        result.files = gather_outputs(result.files, self.host.output_directory(), staging)
        return result

    def validate(self, prompt: dict) -> RunResult:
        """ComfyUI's own validation of a prompt, nothing executed (dry runs)."""
        return self.host.validate(copy.deepcopy(prompt))

    def stop_after_current_node(self) -> None:
        self.host.stop_after_current_node()

    def interrupt_now(self) -> None:
        self.host.interrupt_now()

    def close(self) -> None:
        """Nothing to release: the host outlives the batch (the CLI removes its own host's staging folder)."""


class RemoteWorker:
    """A ComfyUI server: submit, follow /ws progress, wait for /history, download via /view."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, max_queue: int = 1, on_progress=None) -> None:
        self.client = RemoteComfy(url, headers)
        self.name = self.client.url
        self.max_queue = max_queue  # take a job only while the server's queue is shorter than this
        self.on_progress = on_progress  # callback(server, prompt_id, value, maximum)
        self._listener: threading.Thread | None = None
        self._closed = threading.Event()

    def object_info(self) -> dict:
        return self.client.get_json("/object_info")

    def wait_for_room(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Block while the server is busy (with anyone's prompts): jobs flow to the server with the shortest queue."""
        try:
            while not stop.is_set() and self.client.queue_length() >= self.max_queue:
                time.sleep(poll_seconds)
        except ServerUnreachable as err:
            raise WorkerLost(str(err)) from err

    def run(self, job: Job, staging: Path) -> RunResult:
        self._follow_progress()
        try:
            result = self.client.run(job.prompt, extra_pnginfo=output_metadata(job))
            if result.success:
                entries = [entry for entry in output_entries(result.outputs) if entry.get("type", "output") == "output"]
                check_entries(entries, f"the server {self.name}")  # before anything is downloaded
                result.files = [self.client.download(entry, staging / relative_path(entry).parent) for entry in entries]
            return result
        except ServerUnreachable as err:
            raise WorkerLost(str(err)) from err

    def _follow_progress(self) -> None:
        """One websocket listener per server, feeding sampler-step progress to the callback."""
        if self.on_progress is None or (self._listener is not None and self._listener.is_alive()):
            return
        self._listener = threading.Thread(target=self._listen, name=f"ws {self.name}", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        import websocket

        try:
            connection = websocket.create_connection(self.client.websocket_url, timeout=5, header=self.client.headers)
        except (OSError, websocket.WebSocketException) as err:
            log.warning("no progress from %s: websocket failed (%s); results still come from /history", self.name, err)
            return
        try:
            while not self._closed.is_set():
                try:
                    message = connection.recv()
                except websocket.WebSocketTimeoutException:
                    continue
                if isinstance(message, bytes):  # preview images
                    continue
                event = json.loads(message)
                if event.get("type") == "progress":
                    data = event["data"]
                    self.on_progress(self.name, data.get("prompt_id"), data["value"], data["max"])
        except (OSError, websocket.WebSocketException):
            pass  # the server went away; run() notices through HTTP
        finally:
            connection.close()

    def close(self) -> None:
        """Stop following the server's progress."""
        self._closed.set()
