"""A pytest plugin: a run with a skipped test fails, unless the skip is a documented opt-out.

A skipped test proves nothing: a broken import of a pinned test dependency (diffusers, ray)
would otherwise turn the project's correctness evidence into skips with CI green. The only
skips allowed are the ones a user asks for explicitly and docs/testing.md lists.
"""

from __future__ import annotations

import pytest

DOCUMENTED_OPT_OUTS = ("KINEMA_SKIP_BROWSER_TESTS is set",)


def unexplained_skips(config) -> list[str]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    lines = []
    for report in reporter.stats.get("skipped", []) if reporter else []:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if not hasattr(report, "wasxfail") and not any(opt_out in reason for opt_out in DOCUMENTED_OPT_OUTS):
            lines.append(f"{report.nodeid}: {reason}")
    return lines


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    skips = unexplained_skips(config)
    if skips:
        terminalreporter.section("unexplained skips (each fails this run)", red=True)
        for line in skips:
            terminalreporter.line(line)


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == pytest.ExitCode.OK and unexplained_skips(session.config):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
