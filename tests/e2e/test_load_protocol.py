"""bench/load.py's browser-less client against the real app (no Chromium: it speaks
Streamlit's websocket protocol itself). What it sets must reach the page, and what the page
draws must come back."""

from __future__ import annotations

import pytest

from bench import load
from bench.streamlit_client import Session, number, options
from cnnviz import DEFAULT_SAMPLE, PRESETS, load_sample, output_size
from tests.run_async import run_async

pytestmark = pytest.mark.e2e


def test_a_stride_change_reaches_the_page_and_the_url(app_url):
    async def run():
        session = Session(app_url, "convolution", title="Convolution")
        await session.open()
        try:
            before = list(session.text)
            took = await session.change("conv.stride_h", number(2))
            return session, before, took
        finally:
            await session.close()

    session, before, took = run_async(run())
    assert session.errors == [] and session.alerts == []
    assert 0 < took < 60
    h, w = load_sample(DEFAULT_SAMPLE).shape[:2]
    k = PRESETS["sobel_x"].kernel.shape[0]  # the page's default kernel
    expected = f"**Output:** {output_size(h, k, 2)} × {output_size(w, k)}"
    assert any(expected in t for t in session.text), session.text
    assert not any(expected in t for t in before)
    # the page published the new stride; the client keeps the URL as the browser does
    assert "stride=2%2C1" in session.query or "stride=2,1" in session.query
    assert session.runs == 2 and session.page_hash


def test_a_gradcam_layer_change_redraws_that_layer(app_url):
    async def run():
        session = Session(app_url, "gradcam", "model=digits", title="Grad-CAM")
        await session.open()
        try:
            layer = session.widgets["gradcam.layer"].options[0]  # "conv1 · 28×28"
            await session.change("gradcam.layer", options([layer]))
            return session, layer.split(" · ")[0]
        finally:
            await session.close()

    session, layer = run_async(run())
    assert session.errors == []
    assert any(h.endswith(f"at {layer}") for h in session.headings), session.headings


def test_short_load_has_no_errors_and_every_session_reruns(app_url):
    scenarios = [load.SCENARIOS["convolution"], load.SCENARIOS["gradcam"]]
    results, wall = run_async(load.load(app_url, scenarios, sessions=2, duration=8, ramp=0.5,
                                          think=(0.3, 0.8)))
    assert [str(e) for e in results.errors] == []
    assert len(results.sessions) == 2
    assert all(s["opened"] and s["reruns"] >= 2 for s in results.sessions), results.sessions
    assert set(results.reruns) == {"convolution", "gradcam"}
    out = load.report(results, wall, {}, {}, {})
    for page in ("convolution", "gradcam"):
        stats = out["pages"][page]["reruns"]
        assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert out["reruns_per_s"] > 0
