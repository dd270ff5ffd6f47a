"""Print attribution latencies and the shapes pointing game per layer.

    python bench/bench_attribution.py [--calls 30] [--skip-pointing]

Grad-CAM on digits (target < 20 ms) and on ResNet-18 at 224x224 with random weights (target
< 150 ms) with 1 and 2 torch threads, the other methods on ResNet-18 (Integrated Gradients with
32 steps: target < 2 s), and the share of held-out shapes whose Grad-CAM peak falls inside the
object's box, for every layer of the shapes model.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
os.environ.setdefault("CNNVIZ_OFFLINE", "1")  # random ResNet weights rather than a download

from timing import median_ms, record  # noqa: E402  (bench/timing.py)

from cnnviz import (  # noqa: E402
    attribution,  # noqa: E402
    load_model,
    preprocess,
    trust,  # noqa: E402
)
from cnnviz.data import mnist  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--skip-pointing", action="store_true")
    args = parser.parse_args()

    images, labels = mnist.mnist_sample()
    digits = load_model("digits")
    x_digit, t_digit = preprocess("digits", images[4]), int(labels[4])
    resnet = load_model("resnet18")
    x_photo = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    weights = "pretrained" if resnet.cnnviz_pretrained else "random weights"

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs; resnet18 with {weights}")
    print(f"{'call':<46}{'threads':>8}{'median':>12}{'target':>10}")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        rows = [
            ("grad_cam digits relu2 (28x28)",
             lambda: attribution.grad_cam(digits, x_digit, t_digit, "relu2"), args.calls, 20),
            ("grad_cam resnet18 layer4 (224x224)",
             lambda: attribution.grad_cam(resnet, x_photo, 7, "layer4"), args.calls, 150),
            ("saliency resnet18",
             lambda: attribution.saliency(resnet, x_photo, 7), max(3, args.calls // 3), None),
            ("guided_grad_cam resnet18 layer4",
             lambda: attribution.guided_grad_cam(resnet, x_photo, 7, "layer4"),
             max(3, args.calls // 3), None),
            ("integrated_gradients resnet18, 32 steps",
             lambda: attribution.integrated_gradients(resnet, x_photo, 7, steps=32), 3, 2000),
            ("occlusion resnet18 (window 28, stride 14)",
             lambda: attribution.occlusion(resnet, x_photo, 7), 1, None),
        ]
        for name, call, n, target in rows:
            ms = median_ms(call, n, warmup=1 if n < 5 else 3)
            goal = f"< {target} ms" if target else ""
            print(f"{name:<46}{threads:>8}{ms:>9.1f} ms{goal:>12}")
            if target or threads == 1:
                record(f"`{name}`", ms, "ms", target, note=f"{threads} thread(s)")

    torch.set_num_threads(1)
    _, delta = attribution.integrated_gradients(resnet, x_photo, 7, steps=32, return_delta=True)
    print(f"integrated_gradients resnet18 32 steps: convergence delta {delta:+.4f}")

    if args.skip_pointing:
        return
    model = load_model("shapes")
    layers = [name for name, _ in model.named_modules()
              if name.startswith(("conv", "bn", "relu", "pool"))]
    print("\npointing game, Grad-CAM on the 1,000 held-out shapes (true class as target), "
          "1 thread")
    print(f"{'layer':<8}{'hits':>8}{'score':>9}{'seconds':>10}")
    for layer in layers:
        start = time.perf_counter()
        result = trust.pointing_game("shapes", layer, "grad_cam")
        seconds = time.perf_counter() - start
        mark = "  <- recommended" if layer == attribution.RECOMMENDED_LAYERS["shapes"] else ""
        print(f"{layer:<8}{result.hits:>8}{result.score:>9.1%}{seconds:>10.2f}{mark}")
        if mark:
            record(f"Pointing game, Grad-CAM at `{layer}`, 1,000 held-out shapes",
                   100 * result.score, "%", 90, at_least=True, note=f"{seconds:.1f} s")


if __name__ == "__main__":
    main()
