"""Set up everything on a fresh machine, then run the whole test suite on every ComfyUI host.

    python3 scripts/run_tests.py [pytest arguments]

Builds (or reuses) the ComfyUI hosts (0.3.75 and 0.8.0, scripts/host_setup.py) and their
venvs, installs the test-only dependencies into each and the browser-test tools once
(Chromium, playwright-core: scripts/browser_setup.py). Then it runs the unit tier once
(pure PyTorch: no host involved) and the host, fidelity and browser tiers once per host,
each in that host's Python, and prints a summary per host. Random real-layout model files
are written on first use into KINEMA_HOME/fixtures (shared by the hosts; later runs reuse them).

With pytest arguments, the paths given run the same way: a selection inside tests/unit
once, anything else once per host. ``KINEMA_TEST_HOSTS=0.8.0`` (comma-separated) limits the
hosts; ``COMFYUI_PATH`` tests your own ComfyUI instead.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import browser_setup
import disk_room
import host_setup
from fixtures import cache

UNIT = "tests/unit"
PER_HOST = ["tests/host", "tests/fidelity", "tests/browser"]


@dataclasses.dataclass
class TierResult:
    host: str
    paths: list[str]
    exit_code: int
    seconds: float
    counts: dict[str, int]

    def line(self) -> str:
        counts = ", ".join(f"{value} {name}" for name, value in self.counts.items() if value or name == "passed")
        verdict = "ok" if self.exit_code == 0 else f"FAILED (pytest exit {self.exit_code})"
        return f"{self.host:>8}  {' '.join(self.paths):<45} {counts:<40} {self.seconds:7.0f} s  {verdict}"


def split_selection(pytest_args: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(options, unit paths, per-host paths): paths inside tests/unit run once, the rest once per host."""
    options, unit, per_host = [], [], []
    for arg in pytest_args:
        if arg.startswith("-") or ("/" not in arg and arg not in ("tests", ".")):
            options.append(arg)
        elif arg.split("::")[0].rstrip("/").startswith(UNIT):
            unit.append(arg)
        elif arg.rstrip("/") in ("tests", "."):
            unit.append(UNIT)
            per_host.extend(PER_HOST)
        else:
            per_host.append(arg)
    if not unit and not per_host:
        unit, per_host = [UNIT], list(PER_HOST)
    return options, unit, per_host


def selected_versions() -> list[str]:
    """The releases to test in; empty when COMFYUI_PATH names the user's own ComfyUI."""
    if os.environ.get("COMFYUI_PATH"):
        return []
    wanted = [v.strip() for v in os.environ.get("KINEMA_TEST_HOSTS", ",".join(host_setup.RELEASES)).split(",") if v.strip()]
    unknown = [v for v in wanted if v not in host_setup.RELEASES]
    if unknown:
        raise SystemExit(f"KINEMA_TEST_HOSTS names {unknown}; the hosts are {list(host_setup.RELEASES)}.")
    return wanted


def check_disk_room(versions: list[str], with_fixtures: bool) -> None:
    """Refuse in one sentence, before building anything, when the venvs and files still missing cannot fit."""
    home = host_setup.kinema_home()
    fixtures = {f"the stand-in for {fixture.stands_for}": (cache.fixture_path(home, name), fixture.size_gb)
                for name, fixture in cache.FIXTURES.items()}
    needs = disk_room.missing_parts([host_setup.host_root(v) / "venv" for v in versions], fixtures if with_fixtures else {})
    problem = disk_room.shortfall(needs)
    if problem:
        raise SystemExit(problem)


def selected_hosts(versions: list[str]) -> list[host_setup.Host]:
    if os.environ.get("COMFYUI_PATH"):
        return [host_setup.ensure_host()]
    return [host_setup.ensure_host(version) for version in versions]


def junit_counts(path: Path) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    if not path.exists():
        return counts
    for suite in ElementTree.parse(path).getroot().iter("testsuite"):
        tests, failures, errors, skipped = (int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped"))
        counts["passed"] += tests - failures - errors - skipped
        counts["failed"] += failures
        counts["errors"] += errors
        counts["skipped"] += skipped
    return counts


def run_tier(host: host_setup.Host, paths: list[str], options: list[str], name: str) -> TierResult:
    report = host.root / f"junit-{name}-{os.getpid()}.xml"  # one per run: two runs may share a host
    command = [str(host.python), "-m", "pytest", *paths, *options, f"--junitxml={report}"]
    print(f"\n=== ComfyUI {host.label}: {' '.join(paths)} ===", flush=True)
    started = time.monotonic()
    exit_code = subprocess.run(command, cwd=host_setup.PACK_ROOT, env=host.env()).returncode
    counts = junit_counts(report)
    report.unlink(missing_ok=True)
    return TierResult(host.label, paths, exit_code, time.monotonic() - started, counts)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    options, unit, per_host = split_selection(sys.argv[1:])
    versions = selected_versions()
    check_disk_room(versions, with_fixtures="tests/host" in per_host)  # a selection writes only the fixtures it uses
    hosts = selected_hosts(versions)
    for host in hosts:
        host_setup.install_test_requirements(host)
    if any(path.startswith("tests/browser") for path in per_host):
        browser_setup.ensure_browser_tools(hosts[0].home)  # Debian's Chromium + playwright-core for tests/browser
    started = time.monotonic()
    results = []
    if unit:
        results.append(run_tier(hosts[-1], unit, options, "unit"))
    if per_host:
        results += [run_tier(host, per_host, options, "host") for host in hosts]
    print("\n=== summary per ComfyUI host ===")
    for result in results:
        print(result.line())
    print(f"total {time.monotonic() - started:.0f} s")
    sys.exit(next((r.exit_code for r in results if r.exit_code != 0), 0))


if __name__ == "__main__":
    main()
