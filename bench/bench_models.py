"""Print the digits and shapes models' training time (from their cards), size on disk and
predict latency.

    python bench/bench_models.py [--threads 1] [--calls 200]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from timing import median_ms, record  # noqa: E402  (bench/timing.py)

from cnnviz import (  # noqa: E402
    MODELS,
    load_model,
    load_sample,  # noqa: E402
    predict,
)
from cnnviz.data import (
    mnist,  # noqa: E402
    shapes,  # noqa: E402
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    spec = MODELS["digits"]
    card = json.loads(spec.card.read_text())
    images, _ = mnist.mnist_sample()
    digit = images[4]  # a held-out MNIST digit, 28x28
    canvas = np.zeros((280, 280, 3), np.uint8)  # a drawing-canvas sized RGB image
    big = np.kron(digit, np.ones((4, 4), np.uint8))  # (112, 112)
    canvas[40:152, 150:262] = big[:, :, None]

    start = time.perf_counter()
    load_model("digits")
    load_seconds = time.perf_counter() - start
    for _ in range(10):  # warm-up
        predict("digits", digit)
        predict("digits", canvas)

    print(f"model                  digits ({card['parameter_count']:,} parameters)")
    print(f"training time (card)   {card['training_seconds']:.1f} s, {card['epochs']} epochs, "
          f"{card['torch_threads']} thread(s), torch {card['torch_version']}")
    print(f"held-out accuracy      {card['heldout_accuracy']:.2%} (card)")
    print(f"weights on disk        {spec.weights.path.stat().st_size / 1e6:.3f} MB")
    print(f"load_model (first)     {1000 * load_seconds:.1f} ms")
    small_ms = median_ms(lambda: predict("digits", digit), args.calls)
    print(f"predict 28x28          {small_ms:.3f} ms median of {args.calls}, "
          f"{args.threads} thread(s)")
    canvas_ms = median_ms(lambda: predict("digits", canvas), args.calls)
    print(f"predict 280x280 RGB    {canvas_ms:.3f} ms median of {args.calls}")
    record("`predict(\"digits\")`, 28×28", small_ms, "ms", 5)
    record("digits: held-out accuracy (model card)", 100 * card["heldout_accuracy"], "%", 98,
           at_least=True)
    record("digits: training time (model card)", card["training_seconds"], "s", 180,
           note=f"{card['epochs']} epochs, {card['torch_threads']} thread(s)")
    record("digits: weights on disk", spec.weights.path.stat().st_size / 1e6, "MB", 2)

    spec = MODELS["shapes"]
    card = json.loads(spec.card.read_text())
    image = shapes.make_shape(shapes.HELDOUT_SEED, 0)[0]  # a held-out shape, 64x64 RGB
    for _ in range(10):  # warm-up
        predict("shapes", image)
    shapes_ms = median_ms(lambda: predict("shapes", image), args.calls)
    print(f"shapes: {shapes_ms:.3f} ms predict 64x64 RGB (median of {args.calls}), "
          f"{spec.weights.path.stat().st_size / 1e6:.3f} MB, "
          f"{card['parameter_count']:,} parameters, trained in {card['training_seconds']:.1f} s "
          f"({card['epochs']} epochs, {card['torch_threads']} thread(s)), "
          f"held-out accuracy {card['heldout_accuracy']:.2%} (card)")
    record("shapes: held-out accuracy (model card)", 100 * card["heldout_accuracy"], "%", 95,
           at_least=True)
    record("shapes: training time (model card)", card["training_seconds"], "s", 180,
           note=f"{card['epochs']} epochs, {card['torch_threads']} thread(s)")

    # resnet18 at 224x224: the latency does not depend on the weights, so random weights
    # (offline, no cache) measure the same as ImageNet ones. Target (issue 4): < 60 ms.
    os.environ.setdefault("CNNVIZ_OFFLINE", "1")
    photo = load_sample("astronaut")  # 512x512 RGB, resized to 224x224 by the preprocessing
    for _ in range(5):
        predict("resnet18", photo)
    resnet_ms = median_ms(lambda: predict("resnet18", photo), max(20, args.calls // 10))
    pretrained = getattr(load_model("resnet18"), "cnnviz_pretrained", False)
    print(f"resnet18: {resnet_ms:.1f} ms predict 224x224 RGB (median, {args.threads} thread(s), "
          f"{'ImageNet' if pretrained else 'random'} weights; target < 60 ms)")
    record("`predict(\"resnet18\")` at 224×224", resnet_ms, "ms", 60,
           note=f"{args.threads} thread(s)")


if __name__ == "__main__":
    main()
