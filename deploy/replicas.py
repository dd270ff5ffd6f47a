"""Run several cnnviz replicas behind nginx, each browser session pinned to one replica.

    python deploy/replicas.py                      # 2 replicas, nginx on port 8080
    python deploy/replicas.py --replicas 3 --listen 0.0.0.0:8080

Starts ``streamlit run app.py`` once per replica (ports 8501, 8502, ... on 127.0.0.1, so
only nginx reaches them), writes ``deploy/nginx.conf`` with those ports into a run folder
and runs Debian's nginx in the foreground with it: its own pid file, logs and temp folders
under the run folder (``nginx -p RUN -c RUN/nginx.conf -g 'daemon off;'``), never the
system service. Ctrl-C (or SIGTERM) stops nginx and the replicas.

Why sticky sessions: a Streamlit session (its widgets, its image, its trained models) lives
in the memory of the replica that opened its websocket. Its uploads
(``PUT /_stcore/upload_file/<session id>/<file id>``) must reach that replica too, or the
replica answers 400 "Invalid session_id". ``deploy/nginx.conf`` explains how it pins them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "nginx.conf"
#: glibc malloc arenas per server process, from its start (ui.boot.MALLOC_ARENAS says why).
MALLOC_ARENAS = 2
BEGIN, END = "    # replicas: begin\n", "    # replicas: end\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- one app server ------------------------------------------------------------------------


def start_app(port: int, log: Path, *, address: str = "127.0.0.1",
              session_ttl: int | None = None, env: dict[str, str] | None = None,
              prefix: Sequence[str] = (), script: Path | None = None) -> subprocess.Popen:
    """``streamlit run app.py`` on ``address:port``, headless, output to ``log``.

    The server gets MALLOC_ARENA_MAX=2 unless the environment sets it (see
    ``ui.boot.MALLOC_ARENAS``: from the start of the process it holds RSS after a load closer
    to where it began than the in-process ``mallopt`` can). ``session_ttl`` sets
    ``server.disconnectedSessionTTL``: how long a closed tab's session
    is kept for a reconnect (default 120 s). ``prefix`` goes before the command (the
    benchmarks pin the server to a core with ``taskset -c 0``). ``script``: another app than
    ``app.py`` (the accessibility benchmark's bare Streamlit page), with the same settings.
    """
    command = [*prefix, sys.executable, "-m", "streamlit", "run", str(script or ROOT / "app.py"),
               "--server.port", str(port), "--server.address", address,
               "--server.headless", "true", "--server.fileWatcherType", "none",
               "--browser.gatherUsageStats", "false"]
    if session_ttl is not None:
        command += ["--server.disconnectedSessionTTL", str(session_ttl)]
    with open(log, "ab") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={"MALLOC_ARENA_MAX": str(MALLOC_ARENAS), **os.environ,
                                     "PYTHONUNBUFFERED": "1", **(env or {})})


def wait_healthy(url: str, procs: list[subprocess.Popen] = (), timeout: float = 120) -> None:
    """Poll ``url/_stcore/health`` until it answers 200; RuntimeError if a process in
    ``procs`` exits first or ``timeout`` seconds pass."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while True:
        try:
            with opener.open(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{' '.join(map(str, dead[0].args[:4]))}… exited with "
                               f"{dead[0].returncode} before {url} was healthy")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} was not healthy after {timeout:.0f} s")
        time.sleep(0.3)


def stop(*procs: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM to every process, then SIGKILL to those still running after ``timeout``
    seconds."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- nginx ---------------------------------------------------------------------------------


def replicas_block(ports: list[int], host: str = "127.0.0.1") -> str:
    """The part of nginx.conf that names the replicas (between the ``replicas:`` marks)."""
    names = [f"r{i}" for i in range(1, len(ports) + 1)]
    pattern = re.escape(host)
    lines = ["    # Every replica, for visitors not pinned yet (round robin) and for a pinned",
             "    # visitor whose replica is down.",
             "    upstream cnnviz_any {"]
    lines += [f"        server {host}:{port};" for port in ports]
    lines += ["    }", "", "    # One group per replica, for visitors pinned to it."]
    lines += [f"    upstream cnnviz_{name} {{ server {host}:{port}; }}"
              for name, port in zip(names, ports, strict=True)]
    lines += ["", "    # The cnnviz_route cookie names a replica; without one, round robin.",
              "    map $cookie_cnnviz_route $cnnviz_upstream {",
              "        default cnnviz_any;"]
    lines += [f"        {name} cnnviz_{name};" for name in names]
    lines += ["    }", "",
              "    # The replica that answered (the last one tried), for the cookie.",
              "    map $upstream_addr $cnnviz_served_by {",
              '        default "";']
    lines += [f"        ~(^|\\s){pattern}:{port}$ {name};"
              for name, port in zip(names, ports, strict=True)]
    lines += ["    }"]
    return BEGIN + "\n".join(lines) + "\n" + END


def render_config(listen: str, ports: list[int], host: str = "127.0.0.1") -> str:
    """deploy/nginx.conf with nginx listening on ``listen`` and the replicas on ``ports``."""
    text = CONFIG.read_text()
    start, end = text.index(BEGIN), text.index(END) + len(END)
    text = text[:start] + replicas_block(ports, host) + text[end:]
    text, n = re.subn(r"(?m)^(\s*listen\s+)[^;]+;", rf"\g<1>{listen};", text, count=1)
    if n != 1:
        raise ValueError("deploy/nginx.conf has no listen directive")
    return text


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if found is None:
        raise RuntimeError("nginx is not installed: apt-get install -y nginx (or make nginx)")
    return found


def start_nginx(run_dir: Path, listen: str, ports: list[int],
                host: str = "127.0.0.1") -> subprocess.Popen:
    """Write the config into ``run_dir`` and run nginx in the foreground with it."""
    for sub in ("logs", "temp"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    # nginx started as root runs its workers as "nobody": they must be able to enter here.
    run_dir.chmod(0o755)
    conf = run_dir / "nginx.conf"
    conf.write_text(render_config(listen, ports, host))
    binary = nginx_binary()
    command = [binary, "-p", str(run_dir), "-c", str(conf), "-e", "stderr"]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"nginx rejected {conf}:\n{check.stderr}")
    with open(run_dir / "logs" / "nginx.out", "ab") as out:
        return subprocess.Popen([*command, "-g", "daemon off;"], stdout=out,
                                stderr=subprocess.STDOUT)


# --- the whole deployment ------------------------------------------------------------------


@dataclass
class Deployment:
    url: str  # nginx, what browsers open
    replica_urls: list[str]
    replicas: list[subprocess.Popen]
    nginx: subprocess.Popen
    run_dir: Path

    @property
    def access_log(self) -> Path:
        return self.run_dir / "logs" / "access.log"


@contextmanager
def deployment(replicas: int = 2, listen: str | None = None, ports: list[int] | None = None,
               run_dir: Path | None = None, session_ttl: int | None = None,
               env: dict[str, str] | None = None, timeout: float = 120
               ) -> Iterator[Deployment]:
    """Start ``replicas`` app servers and nginx in front of them; stop all on exit.

    ``listen`` defaults to a free port on 127.0.0.1, ``ports`` to free ports.
    """
    ports = ports or [free_port() for _ in range(replicas)]
    listen = listen or f"127.0.0.1:{free_port()}"
    run_dir = Path(run_dir or tempfile.mkdtemp(prefix="cnnviz-nginx-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        procs: list[subprocess.Popen] = []
        stack.callback(lambda: stop(*procs))  # all at once: each takes a few seconds
        for i, port in enumerate(ports, start=1):
            procs.append(start_app(port, run_dir / f"replica-{i}.log",
                                   session_ttl=session_ttl, env=env))
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_healthy(url, procs, timeout)
        nginx = start_nginx(run_dir, listen, ports)
        stack.callback(stop, nginx)
        host, _, port = listen.rpartition(":")
        url = f"http://{'127.0.0.1' if host in ('', '0.0.0.0', '*') else host}:{port}"
        wait_healthy(url, [nginx, *procs], timeout=30)
        yield Deployment(url, urls, procs, nginx, run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--listen", default="127.0.0.1:8080",
                        help="nginx's address:port (0.0.0.0:8080 in a container)")
    parser.add_argument("--base-port", type=int, default=8501,
                        help="the first replica's port; the others follow")
    parser.add_argument("--run-dir", type=Path, default=None,
                        help="nginx's prefix: config, pid file, logs, temp (default: a new "
                        "temporary folder)")
    args = parser.parse_args()
    if args.replicas < 1:
        parser.error("--replicas must be at least 1")
    ports = [args.base_port + i for i in range(args.replicas)]
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    with deployment(args.replicas, args.listen, ports, args.run_dir) as d:
        print(f"cnnviz: {d.url} -> nginx -> {', '.join(d.replica_urls)}", flush=True)
        print(f"nginx config, logs and pid file: {d.run_dir}", flush=True)
        try:
            while not stopping and all(p.poll() is None for p in [d.nginx, *d.replicas]):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        dead = [p for p in [d.nginx, *d.replicas] if p.poll() is not None]
        if dead and not stopping:
            print(f"stopping: {dead[0].args[0]} exited with {dead[0].returncode}",
                  file=sys.stderr)


if __name__ == "__main__":
    main()
