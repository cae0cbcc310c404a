"""Run API-format prompts on a ComfyUI server over HTTP (standard library only).

POST /prompt, poll /history/<id> until the prompt finishes, download its outputs via
/view. ComfyUI's validation errors (HTTP 400 with error + node_errors) and execution
errors (the execution_error message in the history status) come back verbatim.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from .results import RunResult, output_files


class ServerUnreachable(ConnectionError):
    """The server does not answer (stopped, crashed, wrong address): its jobs belong elsewhere."""


class RemoteComfy:
    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 30.0, retries: int = 2,
                 retry_seconds: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.retries, self.retry_seconds = retries, retry_seconds
        self.client_id = str(uuid.uuid4())

    def _request(self, path: str, body: dict | None = None) -> tuple[int, bytes]:
        """One HTTP call; a connection failure is tried again ``retries`` times (a blip must not retire a server)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json", **self.headers})
        for attempt in range(self.retries + 1):
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return response.status, response.read()
            except urllib.error.HTTPError as err:
                return err.code, err.read()
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                if attempt == self.retries:
                    reason = getattr(err, "reason", err)
                    raise ServerUnreachable(f"ComfyUI server {self.url} is unreachable ({reason}); "
                                            "check that it runs and that the URL and port are right") from err
                time.sleep(self.retry_seconds * (attempt + 1))
        raise AssertionError("unreachable")

    def get_json(self, path: str):
        status, payload = self._request(path)
        if status != 200:
            raise RuntimeError(f"GET {self.url}{path} answered {status}: {payload[:300]!r}")
        return json.loads(payload)

    def submit(self, prompt: dict, extra_pnginfo: dict | None = None) -> tuple[str | None, RunResult | None]:
        """Queue a prompt; return its id, or a failed RunResult when the server refuses it.

        ``extra_pnginfo`` goes into saved files' metadata, as the frontend sends the UI workflow.
        """
        body = {"prompt": prompt, "client_id": self.client_id, "extra_data": {"extra_pnginfo": dict(extra_pnginfo or {})}}
        status, payload = self._request("/prompt", body)
        try:
            answer = json.loads(payload or b"{}")
        except json.JSONDecodeError:
            answer = {"error": {"type": "http_error", "message": f"{self.url}/prompt answered {status}",
                                "details": payload[:500].decode(errors="replace")}}
        if status == 200:
            return answer["prompt_id"], None
        return None, RunResult(prompt_id="", success=False, error=answer.get("error"), node_errors=answer.get("node_errors", {}))

    def wait(self, prompt_id: str, deadline_seconds: float = 1800.0, poll_seconds: float = 0.5) -> RunResult:
        started = time.monotonic()
        while time.monotonic() - started < deadline_seconds:
            history = self.get_json(f"/history/{prompt_id}")
            entry = history.get(prompt_id)
            if entry is not None:  # ComfyUI adds a prompt to its history when it has finished
                return self._result(prompt_id, entry, time.monotonic() - started)
            time.sleep(poll_seconds)
        raise TimeoutError(f"prompt {prompt_id} on {self.url} did not finish within {deadline_seconds:.0f} s")

    def run(self, prompt: dict, extra_pnginfo: dict | None = None) -> RunResult:
        prompt_id, refused = self.submit(prompt, extra_pnginfo)
        return refused if refused is not None else self.wait(prompt_id)

    def queue_length(self) -> int:
        """Prompts running or waiting on the server, whoever queued them."""
        queue = self.get_json("/queue")
        return len(queue.get("queue_running", [])) + len(queue.get("queue_pending", []))

    @property
    def websocket_url(self) -> str:
        scheme, rest = self.url.split("://", 1)
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws?clientId={self.client_id}"

    def _result(self, prompt_id: str, entry: dict, seconds: float) -> RunResult:
        status = entry.get("status", {})
        messages = status.get("messages", [])
        error = next((data for event, data in messages if event == "execution_error"), None)
        outputs = entry.get("outputs", {})
        return RunResult(
            prompt_id=prompt_id,
            success=status.get("status_str") == "success" and error is None,
            outputs=outputs,
            files=output_files(outputs, lambda item: Path(item.get("subfolder", "")) / item["filename"]),
            error=error,
            seconds=seconds,
        )

    def download(self, item: dict, target_dir: Path) -> Path:
        """Fetch one output file (an entry of a ui output list) into target_dir, atomically."""
        query = urllib.parse.urlencode({k: item.get(k, "") for k in ("filename", "subfolder", "type")})
        status, payload = self._request(f"/view?{query}")
        if status != 200:
            raise RuntimeError(f"{self.url}/view?{query} answered {status}")
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / item["filename"]
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(payload)
        partial.replace(target)
        return target

