"""Print how long the inspection functions take on the digits CNN (28×28) and ResNet-18
(224×224), one torch thread by default.

    python bench/bench_inspect.py [--threads 1] [--calls 20]

"cold" receptive fields are measured on a fresh copy of the model (the probe is built and
nothing is cached); "cached" is a repeated call. Times are medians over --calls calls
(cold ones: over 5 fresh copies).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
os.environ.setdefault("CNNVIZ_OFFLINE", "1")  # never download weights for a benchmark

from timing import median_ms, record  # noqa: E402  (bench/timing.py)

from cnnviz import (  # noqa: E402
    MODELS,
    conv_layers,
    effective_receptive_field,
    feature_maps,
    layer_table,
    load_model,
    model_totals,
    receptive_field,
    receptive_field_table,
)

CASES = [("digits", "pool2"), ("resnet18", "layer4")]


def cold_ms(model, call, n: int = 5) -> float:
    """Median time of ``call(fresh_copy)``: nothing cached for the copy."""
    times = []
    for _ in range(n):
        fresh = copy.deepcopy(model)
        start = time.perf_counter()
        call(fresh)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def _rows(name: str, last: str, calls: int) -> list[tuple[str, float]]:
    """(label, median ms) of every measured call on model ``name`` and its layer ``last``."""
    model = load_model(name)
    shape = MODELS[name].input_size
    x = torch.randn(1, *shape)
    convs = conv_layers(model)
    with torch.inference_mode():
        model(x)  # warm-up: the first forward pass of a model is slow
    return [
        ("layer_table", median_ms(lambda: layer_table(model, shape), calls)),
        ("model_totals", median_ms(lambda: model_totals(model, shape), calls)),
        (f"receptive_field {last} (cold)",
         cold_ms(model, lambda m: receptive_field(m, last, shape))),
        (f"receptive_field {last} (cached)",
         median_ms(lambda: receptive_field(model, last, shape), calls)),
        ("receptive_field_table (cold)",
         cold_ms(model, lambda m: receptive_field_table(m, shape))),
        (f"feature_maps {last}", median_ms(lambda: feature_maps(model, x, [last]), calls)),
        (f"feature_maps all {len(convs)} convs",
         median_ms(lambda: feature_maps(model, x, convs), calls)),
        (f"effective_receptive_field {last}",
         median_ms(lambda: effective_receptive_field(model, last, x), calls)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); median ms")
    for name, last in CASES:
        shape = MODELS[name].input_size
        rows = _rows(name, last, args.calls)
        print(f"\n{name} {shape}")
        for label, ms in rows:
            print(f"  {label:<38} {ms:8.1f}")
            record(f"`{label.split(' (')[0]}` on {name}" + (" (cold)" if "cold" in label else ""),
                   ms, "ms")


if __name__ == "__main__":
    main()
