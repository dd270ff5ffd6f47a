"""Load test: N concurrent sessions without browsers, over Streamlit's own websocket protocol.

    python bench/load.py                                   # 50 sessions, 5 minutes
    python bench/load.py --sessions 10 --duration 60 --json out.json
    python bench/load.py --url http://127.0.0.1:8080 --server-pid 1234,1235
    python bench/load.py --sessions 100 --pages convolution --replicas 2 --p95 1   # a hall

Each session is a ``bench/streamlit_client.Session``: a browser tab without a browser,
speaking the protocol with the ``streamlit.proto`` messages. It opens its page, then every
few seconds changes a widget as a student would (Convolution: stride, kernel, padding;
Grad-CAM on the digits network: layer and methods) and times the rerun from sending the
change to ``script_finished``. Sessions are spread round robin over ``--pages`` and open
evenly over ``--ramp`` seconds.

Errors: an ``exception`` element, a script that fails to compile, a page not found or not
drawn, a dropped websocket, a rerun that does not finish within ``--timeout``, a failed HTTP
request, a reference to a message the session never received. ``st.error`` messages of the
app (e.g. "These settings do not work together") are counted apart: they are the app working.

Memory: the server's RSS (from /proc) after a warm-up ("cold"), after ``--fill`` changes
per page have filled the bounded caches ("start"), every 0.5 s during the load ("peak"),
and after every session has closed and Streamlit has dropped it ("end"). Streamlit keeps a
closed session for ``server.disconnectedSessionTTL`` seconds in case the tab reconnects
(120 s by default); the server started here gets ``--session-ttl`` (15 s) instead, and once
it has passed, one short probe session makes Streamlit sweep the expired ones.

Without ``--url`` it starts ``streamlit run app.py`` itself on a free localhost port.
``--profile FILE`` samples the server with py-spy during the load and prints where the time
goes. Targets (issue 8): zero errors; p95 rerun under 1.5 s on Convolution and 3 s on
Grad-CAM; RSS under 3 GB, and within 10% of its start once the sessions are gone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from streamlit.proto.WidgetStates_pb2 import WidgetState

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.streamlit_client import (  # noqa: E402
    Session,
    SessionError,
    Widget,
    number,
    option,
    options,
)
from bench.timing import record  # noqa: E402
from deploy.replicas import (  # noqa: E402
    deployment,
    free_port,
    start_app,
    stop,
    wait_healthy,
)

TARGET_P95_S = {"convolution": 1.5, "gradcam": 3.0, "gradcam_photo": 1.5}
RSS_TARGET_MB = 3000
TOP_FRAMES = 20  # lines of the profile summary


# --- what a session does on each page --------------------------------------------------------


Change = tuple[str, Callable[[Widget], WidgetState]]  # (widget key, its new state)


def conv_change(rng: random.Random, widgets: dict[str, Widget]) -> Change | None:
    """A student on the Convolution page: stride, kernel or padding."""
    what = rng.choice(("stride", "kernel", "padding"))
    if what == "stride":
        return rng.choice(("conv.stride_h", "conv.stride_w")), number(rng.choice((1, 2, 3)))
    key = "conv.kernel" if what == "kernel" else "conv.pad_kind"
    widget = widgets.get(key)
    if widget is None or not widget.options:
        return None
    # Presets only: "Custom" would open the grid editor, another page's worth of widgets.
    options = [o for o in widget.options if not o.startswith("Custom")]
    return key, option(rng.choice(options))


def gradcam_change(rng: random.Random, widgets: dict[str, Widget]) -> Change | None:
    """A student on the Grad-CAM page: the layer slider or the methods beside Grad-CAM."""
    if rng.random() < 0.5:
        widget = widgets.get("gradcam.layer")
        if widget is None or not widget.options:
            return None
        return "gradcam.layer", options([rng.choice(widget.options)])
    widget = widgets.get("gradcam.methods")
    if widget is None or not widget.options:
        return None
    return "gradcam.methods", options(rng.sample(widget.options, rng.randint(1, 2)))


def photo_change(rng: random.Random, widgets: dict[str, Widget]) -> Change | None:
    """A student on the Grad-CAM page with EfficientNet-Lite0 on the cat: the layer slider or
    the class to explain (one of the 1,000)."""
    if rng.random() < 0.5:
        widget = widgets.get("gradcam.layer")
        if widget is None or not widget.options:
            return None
        return "gradcam.layer", options([rng.choice(widget.options)])
    widget = widgets.get("gradcam.class")
    if widget is None or not widget.options:
        return None
    return "gradcam.class", option(rng.choice(widget.options))


@dataclass(frozen=True)
class Scenario:
    page: str  # url path, and the key of the results
    query: str  # what the link a student opened carries
    change: Callable[[random.Random, dict[str, Widget]], Change | None]
    title: str = ""  # the page's st.title: every rerun must draw it (the right page ran)
    name: str = ""  # the key of its results when it is not the page's (gradcam_photo)

    @property
    def label(self) -> str:
        return self.name or self.page


SCENARIOS = {
    "convolution": Scenario("convolution", "", conv_change, "Convolution"),
    "gradcam": Scenario("gradcam", "model=digits", gradcam_change, "Grad-CAM"),
    # issue 14: the photo network on the cat, changing class and layer
    "gradcam_photo": Scenario("gradcam", "model=efficientnet_lite0&sample=cat", photo_change,
                              "Grad-CAM", name="gradcam_photo"),
}


# --- the server's memory -----------------------------------------------------------------------


def rss_mb(pids: list[int]) -> float:
    """Resident memory of the processes, in MB (VmRSS from /proc)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class RssSampler:
    """Samples the servers' RSS every ``every`` seconds in the background."""

    def __init__(self, pids: list[int], every: float = 0.5) -> None:
        self.pids, self.every, self.peak = pids, every, 0.0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb(self.pids))
            await asyncio.sleep(self.every)

    def start(self) -> None:
        self.peak = rss_mb(self.pids)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> float:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        return self.peak


def cache_memory(base_url: str) -> dict[str, float]:
    """Streamlit's own count of its caches (/_stcore/metrics, cache_memory_bytes): bytes
    for st.cache_data and media files, entries for st.cache_resource and session state."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url}/_stcore/metrics?families=cache_memory_bytes",
                         timeout=10) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for m in re.finditer(r'^cache_memory_bytes\{cache_type="([^"]*)",cache="([^"]*)"\} (\S+)',
                         text, re.M):
        out[f"{m[1]}:{m[2]}" if m[2] else m[1]] = float(m[3])
    return out


def session_counts(base_url: str) -> dict[str, float]:
    """Session events of one server (/_stcore/metrics): connect, reconnect, disconnect, and
    the sessions active now."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{base_url}/_stcore/metrics", timeout=10) as resp:
        text = resp.read().decode()
    counts = {m[1]: float(m[2]) for m in
              re.finditer(r'^session_events_total\{type="(\w+)"\} (\S+)', text, re.M)}
    active = re.search(r"^active_sessions (\S+)", text, re.M)
    if active:
        counts["active"] = float(active[1])
    return counts


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Results:
    opens: dict[str, list[float]] = field(default_factory=dict)  # page -> seconds
    reruns: dict[str, list[float]] = field(default_factory=dict)  # page -> seconds
    alerts: Counter = field(default_factory=Counter)  # page -> st.error messages seen
    alert_texts: Counter = field(default_factory=Counter)  # (page, message) -> times
    errors: list[SessionError] = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)  # per session: page, reruns, errors
    timeline: list[tuple[float, float, str]] = field(default_factory=list)  # (end s, s, key)

    def add(self, page: str, session: Session, opened: float | None, times: list[float],
            alerts: list[str]) -> None:
        if opened is not None:
            self.opens.setdefault(page, []).append(opened)
        self.reruns.setdefault(page, []).extend(times)
        self.alerts[page] += len(alerts)
        self.alert_texts.update((page, text[:120]) for text in alerts)
        self.errors.extend(session.errors)
        self.sessions.append({"page": page, "opened": opened is not None,
                              "reruns": len(times), "errors": len(session.errors),
                              "session_id": session.session_id})


async def run_session(base_url: str, scenario: Scenario, results: Results, *, start_at: float,
                      stop_at: float, think: tuple[float, float], seed: int,
                      timeout: float, min_changes: int = 0) -> None:
    """One student: open the page at ``start_at``, change a widget every few seconds until
    ``stop_at`` (at least ``min_changes`` times), close the tab."""
    rng = random.Random(seed)
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    session = Session(base_url, scenario.page, scenario.query, timeout, scenario.title)
    opened, times, alerts = None, [], []
    try:
        opened = await session.open()
        alerts += session.alerts
        while True:
            pause = rng.uniform(*think)
            if time.monotonic() + pause >= stop_at and len(times) >= min_changes:
                break
            await asyncio.sleep(pause)
            change = scenario.change(rng, session.widgets)
            if change is None:
                raise SessionError("widget", f"{scenario.page}: nothing to change (seen: "
                                f"{', '.join(sorted(session.widgets))})")
            times.append(await session.change(*change))
            results.timeline.append((time.monotonic(), times[-1], change[0]))
            alerts += session.alerts
    except SessionError as err:
        if err not in session.errors:
            session.errors.append(err)
    finally:
        await session.close()
        results.add(scenario.label, session, opened, times, alerts)


async def visit(base_url: str, scenario: Scenario, changes: int, seed: int = 0,
                timeout: float = 120) -> Session:
    """Open a page, make ``changes`` widget changes back to back, close it (warm-up, probe)."""
    rng = random.Random(seed)
    session = Session(base_url, scenario.page, scenario.query, timeout, scenario.title)
    try:
        await session.open()
        for _ in range(changes):
            change = scenario.change(rng, session.widgets)
            if change is not None:
                await session.change(*change)
    except SessionError as err:
        if err not in session.errors:
            session.errors.append(err)
    finally:
        await session.close()
    return session


async def load(base_url: str, scenarios: list[Scenario], sessions: int, duration: float, *,
               ramp: float = 20, think: tuple[float, float] = (2, 5), timeout: float = 60,
               seed: int = 0, min_changes: int = 0) -> tuple[Results, float]:
    """``sessions`` sessions spread round robin over ``scenarios``, starting evenly over
    ``ramp`` seconds, each changing widgets until ``duration`` seconds after the first
    started (and at least ``min_changes`` times). Returns the results and the wall time of
    the whole run."""
    results = Results()
    start = time.monotonic()
    stop_at = start + duration
    tasks = [run_session(base_url, scenarios[i % len(scenarios)], results,
                         start_at=start + ramp * i / max(sessions, 1), stop_at=stop_at,
                         think=think, seed=seed * 100_003 + i, timeout=timeout,
                         min_changes=min_changes)
             for i in range(sessions)]
    await asyncio.gather(*tasks)
    return results, time.monotonic() - start


# --- profile -----------------------------------------------------------------------------------


def start_profile(pid: int, out: Path) -> subprocess.Popen | None:
    """py-spy, sampling ``pid`` 50 times a second until stopped (SIGINT): the thread that
    holds the GIL. The server is one process whose threads share the GIL, so that is where
    its Python time goes; threads waiting for the GIL would otherwise show up as busy in
    whatever line they wait."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        print("py-spy is not installed (pip install -r requirements-dev.txt): no profile",
              file=sys.stderr)
        return None
    return subprocess.Popen([pyspy, "record", "--pid", str(pid), "--rate", "50",
                             "--nonblocking", "--gil", "--format", "raw", "--output", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def stop_profile(proc: subprocess.Popen) -> None:
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()


def summarize_profile(path: Path, top: int = TOP_FRAMES) -> list[str]:
    """Where the server's CPU time went, from py-spy's collapsed stacks: the functions of
    the app and the libraries with the most samples on the stack (inclusive), and the most
    samples at the top of the stack (self)."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")
                  and not f.startswith("thread ")]
        frames = [re.sub(r":\d+\)$", ")", f) for f in frames]  # per function, not line
        for frame in set(frames):
            inclusive[frame] += n
        if frames:
            own[frames[-1]] += n
    if not total:
        return ["no samples"]

    def short(frame: str) -> str:
        frame = frame.replace(str(ROOT) + "/", "").replace(".venv/lib/python3.11/site-packages/",
                                                          "")
        return re.sub(r"/root/\.pyenv/versions/[^/]+/lib/python3\.11/", "", frame)

    lines = [f"{total} samples (50 a second of the thread holding the GIL)",
             "inclusive (on the stack):"]
    lines += [f"  {100 * n / total:5.1f}%  {short(f)}" for f, n in inclusive.most_common(top)]
    lines += ["self (running that line's function):"]
    lines += [f"  {100 * n / total:5.1f}%  {short(f)}" for f, n in own.most_common(top)]
    return lines


# --- report ----------------------------------------------------------------------------------


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    arr = np.asarray(values) * 1000
    return {"n": len(values), "p50_ms": float(np.percentile(arr, 50)),
            "p95_ms": float(np.percentile(arr, 95)), "p99_ms": float(np.percentile(arr, 99)),
            "max_ms": float(arr.max())}


def timeline(reruns: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """(seconds since the first rerun ended, its duration, the widget changed), in order."""
    ordered = sorted(reruns)
    return [(round(end - ordered[0][0], 3), round(seconds, 4), key)
            for end, seconds, key in ordered]


def report(results: Results, wall: float, rss: dict[str, float], caches: dict, meta: dict
           ) -> dict:
    """The figures as a dict (for --json)."""
    kinds = Counter(e.kind for e in results.errors)
    total = sum(len(v) for v in results.reruns.values())
    pages = {}
    for page in sorted(set(results.reruns) | set(results.opens)):
        stats = percentiles(results.reruns.get(page, []))
        target = TARGET_P95_S.get(page)
        pages[page] = {"reruns": stats, "opens": percentiles(results.opens.get(page, [])),
                       "app_error_messages": results.alerts[page],
                       "target_p95_ms": target * 1000 if target else None,
                       "meets_target": (stats.get("p95_ms", float("inf")) <= target * 1000
                                        if target else None)}
    out = {**meta, "wall_s": wall, "pages": pages, "reruns": total,
           "reruns_per_s": total / wall if wall else 0.0,
           "errors": len(results.errors), "errors_by_kind": dict(kinds),
           "error_examples": sorted({str(e) for e in results.errors})[:10],
           "app_error_messages": [{"page": page, "message": text, "times": n} for
                                  (page, text), n in results.alert_texts.most_common(10)],
           "sessions_opened": sum(s["opened"] for s in results.sessions),
           "sessions_with_reruns": sum(s["reruns"] > 0 for s in results.sessions),
           "rss_mb": rss, "caches": caches,
           "timeline": timeline(results.timeline)}
    if rss.get("start"):
        out["rss_end_over_start"] = rss["end"] / rss["start"] if "end" in rss else None
    return out


def print_report(out: dict) -> None:
    print(f"\ncnnviz load: {out['sessions']} sessions for {out['duration_s']:.0f} s on "
          f"{', '.join(out['scenarios'])} against {out['url']}")
    print(f"think time {out['think_s'][0]:g}-{out['think_s'][1]:g} s between changes; "
          f"{out['cpus']} CPUs; server: {out['server']}")
    print(f"{'page':<12} {'reruns':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
          f"{'max ms':>8} {'open p95':>9} {'target p95':>11} {'st.error':>9}")
    for page, p in out["pages"].items():
        r, o = p["reruns"], p["opens"]
        target = f"{p['target_p95_ms']:.0f} {'ok' if p['meets_target'] else 'MISSED'}" \
            if p["target_p95_ms"] else "-"
        print(f"{page:<12} {r.get('n', 0):>7} {r.get('p50_ms', 0):>8.0f} "
              f"{r.get('p95_ms', 0):>8.0f} {r.get('p99_ms', 0):>8.0f} {r.get('max_ms', 0):>8.0f} "
              f"{o.get('p95_ms', 0):>9.0f} {target:>11} {p['app_error_messages']:>9}")
    print(f"reruns/s: {out['reruns_per_s']:.2f} ({out['reruns']} widget reruns in "
          f"{out['wall_s']:.0f} s); sessions opened {out['sessions_opened']}/"
          f"{out['sessions']}, with reruns {out['sessions_with_reruns']}")
    kinds = ", ".join(f"{k} {v}" for k, v in out["errors_by_kind"].items()) or "none"
    print(f"errors: {out['errors']} ({kinds})")
    for example in out["error_examples"]:
        print(f"  {example[:200]}")
    for alert in out["app_error_messages"][:5]:
        print(f"st.error on {alert['page']} ({alert['times']}x): {alert['message']}")
    rss = out["rss_mb"]
    if rss.get("start"):
        ratio = out.get("rss_end_over_start")
        cold = f"after warm-up {rss['cold']:.0f}, " if "cold" in rss else ""
        print(f"server RSS MB: {cold}start (caches filled) {rss['start']:.0f}, peak "
              f"{rss['peak']:.0f}, end {rss.get('end', float('nan')):.0f} (end/start "
              f"{ratio:.3f}; targets: peak < {RSS_TARGET_MB}, end/start <= 1.10)")
    caches = out.get("caches", {})
    if caches.get("start") or caches.get("end"):
        print("Streamlit's cache count (/_stcore/metrics cache_memory_bytes) start -> end:")
        start, end = caches.get("start", {}), caches.get("end", {})
        for name in sorted(set(start) | set(end)):
            unit = "entries" if "cache_resource" in name or "session_state" in name else "MB"
            scale, digits = (1, 0) if unit == "entries" else (1 / 2**20, 2)
            print(f"  {name:<58} {start.get(name, 0) * scale:>9.{digits}f} -> "
                  f"{end.get(name, 0) * scale:>9.{digits}f} {unit}")


# --- main ------------------------------------------------------------------------------------


async def warm_up(base_url: str, scenarios: list[Scenario], changes: int, seed: int) -> None:
    """Every page once, with ``changes`` widget changes back to back; SystemExit on error."""
    for i, scenario in enumerate(scenarios):
        warm = await visit(base_url, scenario, changes, seed=seed * 1000 + i)
        if warm.errors:
            raise SystemExit(f"warm-up on {scenario.page} failed: {warm.errors[0]}")


async def settle(base_url: str, session_ttl: float, settle_s: float) -> None:
    """Wait until Streamlit may drop the closed sessions, then make it sweep them: expired
    sessions are removed from its store when the next closed session is put in."""
    await asyncio.sleep(session_ttl + 1)
    await visit(base_url, Scenario("", "", lambda rng, w: None), 0)
    await asyncio.sleep(settle_s)


async def main_async(args: argparse.Namespace) -> dict:
    scenarios = [SCENARIOS[name] for name in args.pages]
    if args.p95:  # a stricter target for this run (issue 16: a lecture hall, p95 ≤ 1 s)
        TARGET_P95_S.update(dict.fromkeys(args.pages, args.p95))
    proc = None
    log = Path(tempfile.mkdtemp(prefix="cnnviz-load-")) / "server.log"
    stack = contextlib.ExitStack()
    if args.url:
        url, pids = args.url.rstrip("/"), args.server_pid
        server = f"given ({url})"
        ttl = args.session_ttl
    elif args.replicas:
        d = await asyncio.to_thread(stack.enter_context, deployment(
            args.replicas, session_ttl=args.session_ttl))
        url, pids = d.url, [p.pid for p in d.replicas]
        server = (f"nginx on {d.url} in front of {args.replicas} replicas "
                  f"({', '.join(d.replica_urls)}; pids {', '.join(map(str, pids))}), "
                  f"disconnectedSessionTTL {args.session_ttl} s, logs {d.run_dir}")
        ttl = args.session_ttl
    else:
        port = free_port()
        proc = start_app(port, log, session_ttl=args.session_ttl)
        url, pids = f"http://127.0.0.1:{port}", [proc.pid]
        server = (f"streamlit run app.py on 127.0.0.1:{port}, pid {proc.pid}, "
                  f"disconnectedSessionTTL {args.session_ttl} s, log {log}")
        ttl = args.session_ttl
    profile = None
    try:
        if proc is not None:
            await asyncio.to_thread(wait_healthy, url, [proc])
        # Warm-up: every page, a few changes (modules imported, models loaded).
        rss: dict[str, float] = {}
        caches: dict[str, dict] = {}
        await warm_up(url, scenarios, 4, seed=1)
        if pids:
            await settle(url, ttl, args.settle)
            rss["cold"] = rss_mb(pids)
        # Fill the caches: they are bounded (max_entries), so once full, memory must stay
        # flat; growth after this is what a leak would look like.
        if args.fill:
            await warm_up(url, scenarios, args.fill, seed=2)
            if pids:
                await settle(url, ttl, args.settle)
        if pids:
            rss["start"] = rss_mb(pids)
        caches["start"] = await asyncio.to_thread(cache_memory, url)
        if args.profile and pids:
            profile = start_profile(pids[0], args.profile)
        sampler = RssSampler(pids)
        sampler.start()
        results, wall = await load(url, scenarios, args.sessions, args.duration,
                                   ramp=args.ramp, think=tuple(args.think),
                                   timeout=args.timeout, seed=args.seed)
        rss["peak"] = await sampler.stop()
        if profile is not None:
            stop_profile(profile)
        if pids:
            await settle(url, ttl, args.settle)
            rss["end"] = rss_mb(pids)
        caches["end"] = await asyncio.to_thread(cache_memory, url)
    finally:
        if proc is not None:
            stop(proc)
        await asyncio.to_thread(stack.close)
    meta = {"url": url, "sessions": args.sessions, "duration_s": args.duration,
            "scenarios": [f"{s.page}" + (f"?{s.query}" if s.query else "") for s in scenarios],
            "think_s": list(args.think), "ramp_s": args.ramp, "cpus": os.cpu_count(),
            "server": server, "date": time.strftime("%Y-%m-%d %H:%M"),
            "load_average_1min": os.getloadavg()[0]}
    out = report(results, wall, rss, caches, meta)
    if args.profile and profile is not None and args.profile.exists():
        out["profile"] = {"file": str(args.profile), "summary": summarize_profile(args.profile)}
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--duration", type=float, default=300, help="seconds (default 300)")
    parser.add_argument("--pages", default="convolution,gradcam",
                        type=lambda s: [p.strip() for p in s.split(",") if p.strip()],
                        help=f"comma-separated, sessions spread round robin: "
                        f"{', '.join(SCENARIOS)} (gradcam opens ?model=digits)")
    parser.add_argument("--url", help="an app already running (else one is started)")
    parser.add_argument("--p95", type=float, default=0,
                        help="the p95 target in seconds for every page of this run (default: "
                        "each page's own, TARGET_P95_S)")
    parser.add_argument("--replicas", type=int, default=0,
                        help="start this many app servers behind nginx (deploy/replicas.py) "
                        "instead of one server, and load them through nginx")
    parser.add_argument("--server-pid", default=[],
                        type=lambda s: [int(p) for p in s.split(",") if p.strip()],
                        help="with --url: the server processes whose RSS to measure "
                        "(comma-separated)")
    parser.add_argument("--think", nargs=2, type=float, default=(2.0, 5.0),
                        metavar=("MIN", "MAX"), help="seconds between changes (default 2 5)")
    parser.add_argument("--ramp", type=float, default=20,
                        help="seconds over which the sessions open (default 20)")
    parser.add_argument("--timeout", type=float, default=60,
                        help="a rerun that takes longer is an error (default 60 s)")
    parser.add_argument("--session-ttl", type=int, default=15,
                        help="server.disconnectedSessionTTL of the server started here, or "
                        "of the --url server (default 15; Streamlit's default is 120)")
    parser.add_argument("--settle", type=float, default=65,
                        help="seconds to wait after the sweep before reading RSS (default "
                        "65: the app collects garbage once a minute, ui/boot.py)")
    parser.add_argument("--fill", type=int, default=80,
                        help="widget changes per page before the start RSS, to fill the "
                        "bounded caches (default 80; 0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--profile", type=Path,
                        help="sample the server with py-spy during the load; collapsed "
                        "stacks go to this file (open it in speedscope) and a summary is "
                        "printed")
    args = parser.parse_args(argv)
    unknown = [p for p in args.pages if p not in SCENARIOS]
    if unknown or not args.pages:
        parser.error(f"unknown page {unknown or args.pages}: choose from {', '.join(SCENARIOS)}")
    if args.sessions < 1 or args.duration <= 0:
        parser.error("--sessions and --duration must be positive")
    if args.think[0] < 0 or args.think[1] < args.think[0]:
        parser.error("--think MIN MAX with 0 <= MIN <= MAX")
    if args.server_pid and not args.url:
        parser.error("--server-pid goes with --url")
    if args.replicas and args.url:
        parser.error("--replicas starts its own servers: leave out --url")
    return args


def record_figures(out: dict) -> None:
    """The headline figures, for bench/run_all.py's performance table."""
    load_ = f"{out['sessions']} sessions × {out['duration_s']:.0f} s"
    which = " + ".join(out["pages"])  # the scenarios, so two load runs have their own rows
    record(f"Load {which} ({load_}): errors", out["errors"], "errors", 1)
    for page, p in out["pages"].items():
        if p["reruns"]:
            record(f"Load: {page} rerun p95 (p50 {p['reruns']['p50_ms']:.0f} ms)",
                   p["reruns"]["p95_ms"], "ms", p["target_p95_ms"])
    record(f"Load {which}: reruns per second", out["reruns_per_s"], "/s")
    rss = out["rss_mb"]
    if rss.get("peak"):
        record(f"Load {which}: server RSS peak", rss["peak"], "MB", RSS_TARGET_MB)
    if out.get("rss_end_over_start"):
        record(f"Load {which}: server RSS after the sessions closed / before "
               f"({rss['end']:.0f} / {rss['start']:.0f} MB)", out["rss_end_over_start"], "×",
               1.10)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out = asyncio.run(main_async(args))
    print_report(out)
    record_figures(out)
    if "profile" in out:
        print(f"\nprofile of the server during the load ({out['profile']['file']}):")
        print("\n".join(out["profile"]["summary"]))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
        print(f"\nfigures written to {args.json}")
    return 1 if out["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
