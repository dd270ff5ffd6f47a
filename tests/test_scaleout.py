"""Scale-out: two app replicas behind Debian's nginx (deploy/nginx.conf), driven by
bench/load.py. Every session must stay on one replica: its websocket, and its upload over
plain HTTP, which only the replica holding the session accepts."""

from __future__ import annotations

import io
import re
import subprocess
import urllib.error
import urllib.request

import numpy as np
import pytest
from PIL import Image

from bench import load
from bench.streamlit_client import Session, options
from deploy import replicas
from tests.run_async import run_async

pytestmark = pytest.mark.slow

LOG_LINE = re.compile(r'"(?P<method>\w+) (?P<path>\S+) [^"]*" (?P<status>\d+) \d+ '
                      r"upstream=(?P<upstream>\S+) route=(?P<route>\S+)")


def test_the_committed_config_is_what_the_launcher_writes():
    """deploy/nginx.conf shows 2 replicas on 8501/8502; the launcher rewrites only the
    replicas block and the listen address, so the two cannot drift apart."""
    assert replicas.render_config("8080", [8501, 8502]) == replicas.CONFIG.read_text()
    three = replicas.render_config("0.0.0.0:9000", [9001, 9002, 9003])
    assert "listen 0.0.0.0:9000;" in three
    assert "upstream cnnviz_r3 { server 127.0.0.1:9003; }" in three
    assert "        r3 cnnviz_r3;" in three


def test_nginx_accepts_the_config(tmp_path):
    conf = tmp_path / "nginx.conf"
    (tmp_path / "logs").mkdir()
    (tmp_path / "temp").mkdir()
    conf.write_text(replicas.render_config(f"127.0.0.1:{replicas.free_port()}", [8501, 8502]))
    check = subprocess.run([replicas.nginx_binary(), "-t", "-p", str(tmp_path), "-c",
                            str(conf), "-e", "stderr"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    with replicas.deployment(2, run_dir=tmp_path_factory.mktemp("nginx")) as d:
        yield d


def _log(d: replicas.Deployment) -> list[dict]:
    return [m.groupdict() for m in map(LOG_LINE.search, d.access_log.read_text().splitlines())
            if m]


def _port(upstream: str) -> int:
    return int(upstream.rsplit(":", 1)[1])


def test_load_through_nginx_spreads_sessions_and_keeps_each_on_one_replica(deployed):
    ports = [int(u.rsplit(":", 1)[1]) for u in deployed.replica_urls]
    before = [load.session_counts(u)["connect"] for u in deployed.replica_urls]
    scenarios = [load.SCENARIOS["convolution"], load.SCENARIOS["gradcam"]]
    # Cold replicas: the first Grad-CAM page loads captum and the model (seconds on a busy
    # machine), so each session makes 2 changes even if that takes longer than 8 s.
    results, _ = run_async(load.load(deployed.url, scenarios, sessions=4, duration=8,
                                       ramp=1, think=(0.3, 1.0), timeout=90, min_changes=2))

    assert [str(e) for e in results.errors] == []
    assert all(s["opened"] and s["reruns"] >= 2 for s in results.sessions), results.sessions
    # Each replica counts the sessions it accepted (Streamlit's /_stcore/metrics).
    after = [load.session_counts(u)["connect"] for u in deployed.replica_urls]
    served = [a - b for a, b in zip(after, before, strict=True)]
    assert sum(served) == 4 and min(served) >= 1, served

    lines = _log(deployed)
    sockets = [line for line in lines if line["path"] == "/_stcore/stream"]
    assert sockets and all(line["status"] == "101" for line in sockets)
    assert {_port(line["upstream"]) for line in sockets} == set(ports)
    # Sticky: every request that carried a route cookie went to the replica it names.
    pinned = [line for line in lines if line["route"] != "-"]
    assert pinned
    for line in pinned:
        assert _port(line["upstream"]) == ports[int(line["route"][1:]) - 1], line


def _png(width: int, height: int) -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_upload_through_nginx_reaches_the_session_on_its_replica(deployed):
    data = _png(40, 30)

    async def run():
        session = Session(deployed.url, "convolution", title="Convolution")
        await session.open()
        try:
            await session.change("source", options(["Upload"]))
            await session.upload("tiny.png", data, "image/png")
            return session
        finally:
            await session.close()

    session = run_async(run())
    assert session.errors == [] and session.alerts == []
    # The sidebar now shows the uploaded picture, captioned with its name and size.
    captions = [t.replace("\\", "") for t in session.text]  # markdown escapes the dot
    assert "tiny.png · 40×30" in captions, captions

    route = session.cookies["cnnviz_route"]
    ports = [int(u.rsplit(":", 1)[1]) for u in deployed.replica_urls]
    home = ports[int(route[1:]) - 1]
    put = [line for line in _log(deployed) if line["method"] == "PUT"
           and session.session_id in line["path"]]
    assert len(put) == 1 and put[0]["status"] == "204" and _port(put[0]["upstream"]) == home

    # The other replica has never heard of this session: without stickiness the upload
    # would have failed like this.
    other = next(u for u, p in zip(deployed.replica_urls, ports, strict=True) if p != home)
    request = urllib.request.Request(f"{other}{put[0]['path']}", data=b"x", method="PUT")
    request.add_header("X-Xsrftoken", session.cookies["_streamlit_xsrf"])
    request.add_header("Cookie", f"_streamlit_xsrf={session.cookies['_streamlit_xsrf']}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10)
    assert refused.value.code == 400
    assert b"Invalid session_id" in refused.value.read()


def test_a_browser_pinned_to_a_stopped_replica_is_moved_to_a_live_one(deployed):
    """Runs last: it stops replica 1. A browser pinned to it gets its requests answered by
    replica 2 and a cookie that pins it there (its Streamlit session starts afresh)."""
    replicas.stop(deployed.replicas[0])
    request = urllib.request.Request(f"{deployed.url}/_stcore/health",
                                     headers={"Cookie": "cnnviz_route=r1"})
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(
            request, timeout=10) as resp:
        assert resp.status == 200
        cookies = resp.headers.get_all("Set-Cookie")
    assert any(c.startswith("cnnviz_route=r2;") for c in cookies), cookies
