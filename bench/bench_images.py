"""How long load_image takes to decode odd-but-valid files and to refuse bad ones.

Target (issue 2): every case under a second; decompression bombs refused from the header.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_images import BAD_INPUTS  # noqa: E402  (the test corpus, made in memory)
from timing import record  # noqa: E402  (bench/timing.py)

from cnnviz import (  # noqa: E402
    ImageError,
    encode_png,  # noqa: E402
    load_image,
    load_sample,  # noqa: E402
)


def main() -> None:
    cases = dict(BAD_INPUTS)
    cases["valid 512×512 PNG"] = encode_png(load_sample("astronaut"))
    worst = 0.0
    print(f"{'input':<26} {'result':<11} {'ms':>8}")
    for name, data in cases.items():
        start = time.perf_counter()
        try:
            load_image(data)
            result = "decoded"
        except ImageError:
            result = "ImageError"
        ms = (time.perf_counter() - start) * 1000
        worst = max(worst, ms)
        print(f"{name:<26} {result:<11} {ms:>8.2f}")
    print(f"slowest: {worst:.1f} ms (target: under 1,000 ms each)")
    record(f"`load_image`, slowest of {len(cases)} hostile and valid inputs", worst, "ms", 1000)


if __name__ == "__main__":
    main()
