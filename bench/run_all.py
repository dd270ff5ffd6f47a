"""Run every benchmark and write the performance table (Markdown) for the README.

    python bench/run_all.py               # everything, load test included (~15 min)
    python bench/run_all.py --skip load   # leave scripts out by name
    python bench/run_all.py --out bench/RESULTS.md

Each script prints its own report and keeps its headline figures with
``timing.record``; this script collects them into one table, each row beside the target
its issue set and the ratio measured / target (under 1 is better; for "at least"
targets, such as the pointing game, over 1 is better).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

from timing import RESULTS_ENV  # noqa: E402

#: (name, script and arguments), in the order of the table.
SCRIPTS: list[tuple[str, list[str]]] = [
    ("pages", ["bench_pages.py"]),
    ("playground", ["bench_playground.py"]),
    ("layer", ["bench_layer.py"]),
    ("models", ["bench_models.py"]),
    ("images", ["bench_images.py"]),
    ("overview", ["bench_overview.py"]),
    ("inspect", ["bench_inspect.py"]),
    ("channels", ["bench_channels.py"]),
    ("attribution", ["bench_attribution.py"]),
    ("efficientnet", ["bench_efficientnet.py"]),
    ("transfer", ["bench_transfer.py"]),
    ("accessibility", ["bench_accessibility.py"]),
    ("load", ["load.py", "--sessions", "50", "--duration", "300"]),
    ("load_photo", ["load.py", "--sessions", "50", "--duration", "300",
                    "--pages", "gradcam_photo"]),
    ("load_hall", ["load.py", "--sessions", "100", "--duration", "300", "--pages",
                   "convolution", "--replicas", "2", "--p95", "1"]),
]


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def table(rows: list[dict], when: str, machine: str) -> str:
    lines = [
        f"Measured on {when} on {machine} by `python bench/run_all.py`.",
        "",
        "| what | measured | target | ratio | met |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        unit = row["unit"]
        measured = f"{_fmt(row['measured'])} {unit}".replace(" %", "%")
        target = ratio = met = "—"
        if row.get("target") is not None:
            t = float(row["target"])
            sign = "≥ " if row.get("at_least") else "< "
            target = sign + f"{_fmt(t)} {unit}".replace(" %", "%")
            ratio = f"{row['measured'] / t:.2f}" if t else "—"
            ok = row["measured"] >= t if row.get("at_least") else row["measured"] < t
            met = "yes" if ok else "**no**"
        what = row["what"] + (f" ({row['note']})" if row.get("note") else "")
        lines.append(f"| {what} | {measured} | {target} | {ratio} | {met} |")
    return "\n".join(lines) + "\n"


#: The heading of RESULTS.md's last section: what earlier runs measured, behind settings in
#: the code (ui/boot.py, app.py). A new run rewrites the table above it and keeps it.
HISTORY = "## History: measurements behind the settings"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB, no GPU, "
            f"Python {platform.python_version()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], help="script names to leave out")
    parser.add_argument("--only", nargs="*", default=None, help="run only these")
    parser.add_argument("--out", default=str(BENCH / "RESULTS.md"))
    args = parser.parse_args()

    results = Path(tempfile.mkstemp(suffix=".jsonl", prefix="cnnviz-bench-")[1])
    failed = []
    for name, command in SCRIPTS:
        if name in args.skip or (args.only is not None and name not in args.only):
            continue
        print(f"\n== {name}: python bench/{' '.join(command)}", flush=True)
        start = time.monotonic()
        code = subprocess.call([sys.executable, str(BENCH / command[0]), *command[1:]],
                               cwd=ROOT, env={**os.environ, RESULTS_ENV: str(results)})
        print(f"== {name}: {time.monotonic() - start:.0f} s, exit {code}", flush=True)
        if code:
            failed.append(name)
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    results.unlink()
    text = table(rows, dt.date.today().isoformat(), machine())
    if failed:
        text += f"\nThese benchmarks failed and have no rows: {', '.join(failed)}.\n"
    out = Path(args.out)
    old = out.read_text() if out.exists() else ""
    if HISTORY in old:  # measurements behind the code's settings, kept from run to run
        text += "\n" + old[old.index(HISTORY):]
    out.write_text(text)
    print("\n" + text)
    print(f"(written to {args.out})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
