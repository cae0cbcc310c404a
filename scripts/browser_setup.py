"""Install what tests/browser needs: Debian's Chromium and the pinned playwright-core (standard library only).

    python3 scripts/browser_setup.py      -> prints the Chromium and node_modules paths

Chromium comes from apt (``/usr/bin/chromium``), never from Playwright's own browser
download, which cannot reach its hosts here. playwright-core is installed with
``npm ci`` from tests/browser/package-lock.json into KINEMA_HOME/browser (git-ignored).
Idempotent: a stamp of the lock file makes later runs take milliseconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import subprocess
from pathlib import Path

from host_setup import PACK_ROOT, kinema_home

log = logging.getLogger("kinema.browser_setup")

CHROMIUM = Path(os.environ.get("KINEMA_CHROMIUM", "/usr/bin/chromium"))
PACKAGE_DIR = PACK_ROOT / "tests" / "browser"
PACKAGE_FILES = ("package.json", "package-lock.json")
APT_PACKAGES = {"chromium": ["chromium"], "npm": ["nodejs", "npm"]}


@dataclasses.dataclass(frozen=True)
class BrowserTools:
    chromium: Path
    node: Path
    node_modules: Path


def _run(cmd: list, **kwargs) -> None:
    log.info("$ %s", " ".join(str(c) for c in cmd))
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def _apt_install(packages: list[str]) -> None:
    if os.geteuid() != 0:
        raise SystemExit(
            f"the browser tests need {' '.join(packages)}: run `sudo apt-get install {' '.join(packages)}` "
            "(or set KINEMA_SKIP_BROWSER_TESTS=1)"
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    _run(["apt-get", "update", "-qq"], env=env)
    _run(["apt-get", "install", "-y", "-qq", *packages], env=env)  # with recommends: fonts for the canvas text


def _npm_folder(home: Path) -> Path:
    return home / "browser"


def ensure_browser_tools(home: Path | None = None) -> BrowserTools | None:
    """Install Chromium and playwright-core when missing; return where they are (None when skipped by the user)."""
    if os.environ.get("KINEMA_SKIP_BROWSER_TESTS"):
        log.info("KINEMA_SKIP_BROWSER_TESTS is set: not installing Chromium or playwright-core")
        return None
    home = home or kinema_home()
    if not CHROMIUM.exists():
        _apt_install(APT_PACKAGES["chromium"])
    if not shutil.which("npm") or not shutil.which("node"):
        _apt_install(APT_PACKAGES["npm"])
    folder = _npm_folder(home)
    stamp_file = folder / "lock.stamp"
    lock = (PACKAGE_DIR / "package-lock.json").read_bytes()
    stamp = hashlib.sha256(lock).hexdigest()
    if not (stamp_file.exists() and stamp_file.read_text() == stamp and (folder / "node_modules" / "playwright-core").is_dir()):
        folder.mkdir(parents=True, exist_ok=True)
        for name in PACKAGE_FILES:
            shutil.copyfile(PACKAGE_DIR / name, folder / name)
        _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder)
        stamp_file.write_text(stamp)
    return find_browser_tools(home)


def find_browser_tools(home: Path | None = None) -> BrowserTools:
    """Where the installed tools are; raises with the fix when something is missing."""
    folder = _npm_folder(home or kinema_home())
    node = shutil.which("node")
    missing = [
        what
        for what, ok in (
            (str(CHROMIUM), CHROMIUM.exists()),
            ("node", node),
            (str(folder / "node_modules" / "playwright-core"), (folder / "node_modules" / "playwright-core").is_dir()),
        )
        if not ok
    ]
    if missing:
        raise FileNotFoundError(f"browser test tools missing: {', '.join(missing)}; run `python3 scripts/browser_setup.py`")
    return BrowserTools(chromium=CHROMIUM, node=Path(node), node_modules=folder / "node_modules")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    tools = ensure_browser_tools()
    print(json.dumps(dataclasses.asdict(tools) if tools else None, default=str))


if __name__ == "__main__":
    main()
