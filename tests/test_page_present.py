"""Presenter mode in AppTest: the URL key, the switch, a hostile value (issue 7)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.apptest import APP, TIMEOUT, open_page
from ui import present


def _css_shown(at: AppTest) -> bool:
    return any(f"font-size: {present.PRESENT_FONT_PX}px" in h.proto.body for h in at.get("html"))


def test_a_link_turns_it_on_and_it_lasts_across_pages():
    at = open_page("pages/pooling.py", present="1")
    assert at.session_state[present.PRESENT] is True
    assert at.sidebar.toggle(key=present.PRESENT).value is True
    assert _css_shown(at)
    assert at.query_params.get("present") == "1"
    at.switch_page("pages/gradcam.py").run()
    assert not at.exception
    assert _css_shown(at) and at.query_params.get("present") == "1"


def test_the_switch_turns_it_off_and_on():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not _css_shown(at) and "present" not in at.query_params
    at.sidebar.toggle(key=present.PRESENT).set_value(True).run()
    assert _css_shown(at) and at.query_params.get("present") == "1"
    at.sidebar.toggle(key=present.PRESENT).set_value(False).run()
    assert not _css_shown(at) and "present" not in at.query_params


def test_a_hostile_value_gives_a_notice_and_is_not_echoed():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["present"] = "<script>alert(1)</script>"
    at.run()
    assert not at.exception
    assert at.session_state[present.PRESENT] is False
    assert not _css_shown(at)
    warnings = " ".join(w.value for w in at.sidebar.warning)
    assert "`present`" in warnings and "<script>" not in warnings
    assert "present" not in at.query_params
