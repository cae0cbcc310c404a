"""Our node definitions reach the user: the real page shows their description and input tooltips on hover."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinema.runner.remote import RemoteComfy

WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "animatediff_txt2vid_sd15.json"


def _words(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.browser
@pytest.mark.server
def test_apply_motion_module_shows_its_description_and_effect_tooltip(run_in_page, frontend_server):
    info = RemoteComfy(frontend_server.url).get_json("/object_info/KinemaApplyMotionModule")["KinemaApplyMotionModule"]
    shown = run_in_page("read_tooltips.cjs", {"workflowPath": str(WORKFLOW), "nodeType": "KinemaApplyMotionModule", "widgetName": "effect"})
    assert _words(shown["title"]) == _words(info["description"]), "hovering the node title"
    assert _words(shown["widget"]) == _words(info["input"]["required"]["effect"][1]["tooltip"]), "hovering the effect widget"
    assert not shown["problems"], "\n".join(shown["problems"])
