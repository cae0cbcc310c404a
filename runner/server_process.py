"""Start a real ComfyUI server (its own main.py) on 127.0.0.1, and stop it by its PID."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from .allocator import tuned_environment


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_extra_model_paths(path: Path, model_dirs: dict[str, list[Path]]) -> Path:
    """An extra_model_paths.yaml (JSON is valid YAML) that adds our folders to the server's."""
    section = {key: "\n".join(str(d) for d in dirs) for key, dirs in model_dirs.items()}
    path.write_text(json.dumps({"kinema": section}, indent=1))
    return path


def partner_nodes_flag(comfyui: Path) -> str:
    """The switch that keeps paid "partner" (API) nodes out, by the name this ComfyUI's cli_args.py declares.

    Newer releases renamed ``--disable-api-nodes`` to ``--disable-partner-nodes`` and keep
    the old name only as a deprecated alias.
    """
    cli_args = comfyui / "comfy" / "cli_args.py"
    declared = cli_args.is_file() and "--disable-partner-nodes" in cli_args.read_text(errors="replace")
    return "--disable-partner-nodes" if declared else "--disable-api-nodes"


@dataclasses.dataclass
class ComfyServer:
    """A ComfyUI server process; use as a context manager."""

    python: Path
    comfyui: Path
    work: Path
    model_dirs: dict[str, list[Path]] = dataclasses.field(default_factory=dict)
    port: int = 0
    extra_args: tuple[str, ...] = ()
    startup_seconds: float = 180.0
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work / "server.log"

    def start(self) -> ComfyServer:
        self.port = self.port or free_port()
        # every folder named below exists before start: newer ComfyUI refuses a missing --user-directory
        for sub in ("output", "input", "temp", "user/default"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        args = [
            str(self.python), "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
            "--output-directory", str(self.work / "output"), "--input-directory", str(self.work / "input"),
            "--temp-directory", str(self.work / "temp"), "--user-directory", str(self.work / "user"),
            "--disable-auto-launch", partner_nodes_flag(self.comfyui),
            "--database-url", "sqlite:///:memory:",
        ]
        if self.model_dirs:
            args += ["--extra-model-paths-config", str(write_extra_model_paths(self.work / "extra_model_paths.yaml", self.model_dirs))]
        args += list(self.extra_args)
        with open(self.log_path, "ab") as log_file:
            self.process = subprocess.Popen(
                args, cwd=self.comfyui, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True,
                env=tuned_environment(os.environ),  # a server Kinema starts gets its malloc options (runner/allocator.py)
            )
        self._wait_until_up()
        return self

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + self.startup_seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI server exited with {self.process.returncode} while starting; see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + "/system_stats", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"ComfyUI server on {self.url} did not answer within {self.startup_seconds:.0f} s; see {self.log_path}")

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ComfyServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
