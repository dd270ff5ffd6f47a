"""EfficientNet-Lite0 at 224×224 on one torch thread: predict, Grad-CAM at the recommended
layer beside a forward pass and beside pytorch-grad-cam's GradCAM (same input, same run),
the receptive-field table, and activation maximisation of one channel (64 steps, jitter and
the 1/f spectrum, as the What a channel detects page runs it).

    python bench/bench_efficientnet.py [--calls 40] [--threads 1]

Targets (issue 14): predict ≤ 40 ms; Grad-CAM ≤ 1.5× a forward pass and faster than
pytorch-grad-cam; 64 steps of activation maximisation ≤ 6 s.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from timing import median_ms, record  # noqa: E402  (bench/timing.py)

import cnnviz  # noqa: E402
from cnnviz import (  # noqa: E402
    MODELS,
    RECOMMENDED_LAYERS,
    load_model,
    load_sample,
    maximise_channel,
    maximise_config,
    predict,
    preprocess,
)

NAME = "efficientnet_lite0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); {os.cpu_count()} CPUs")

    start = time.perf_counter()
    model = load_model(NAME)
    print(f"load_model (first, from the package)   {1000 * (time.perf_counter() - start):.0f} ms")
    photo = load_sample("cat")
    x = preprocess(NAME, photo)
    target = int(predict(NAME, photo).argmax())
    layer = RECOMMENDED_LAYERS[NAME]

    predict_ms = median_ms(lambda: predict(NAME, photo), args.calls, warmup=5)
    print(f"predict (preprocess + forward)         {predict_ms:7.1f} ms   target ≤ 40 ms")
    record(f"`predict(\"{NAME}\")` at 224×224", predict_ms, "ms", 40,
           note=f"{args.threads} thread(s)")

    def forward() -> None:
        with torch.no_grad():
            model(x)

    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    reference = copy.deepcopy(model)  # pytorch-grad-cam hooks it and writes .grad
    cam = GradCAM(model=reference, target_layers=[reference.get_submodule(layer)])
    targets = [ClassifierOutputTarget(target)]

    # side by side, interleaved, so machine drift hits all three alike
    times: dict[str, list[float]] = {"forward": [], "grad_cam": [], "pytorch-grad-cam": []}
    calls = {"forward": forward,
             "grad_cam": lambda: cnnviz.grad_cam(model, x, target, layer),
             "pytorch-grad-cam": lambda: cam(input_tensor=x, targets=targets)}
    for call in calls.values():
        for _ in range(3):
            call()
    for _ in range(args.calls):
        for what, call in calls.items():
            t = time.perf_counter()
            call()
            times[what].append(1000 * (time.perf_counter() - t))
    cam.__exit__(None, None, None)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    ratio = med["grad_cam"] / med["forward"]
    print(f"forward pass (no grad)                 {med['forward']:7.1f} ms")
    print(f"grad_cam at {layer:<27}{med['grad_cam']:7.1f} ms   {ratio:.2f}× the forward pass "
          "(target ≤ 1.5×)")
    print(f"pytorch-grad-cam GradCAM, same layer   {med['pytorch-grad-cam']:7.1f} ms   "
          f"ours is {med['pytorch-grad-cam'] / med['grad_cam']:.2f}× faster")
    record(f"`grad_cam` {NAME} at {layer} / a forward pass (medians of {args.calls}, "
           f"interleaved: {med['grad_cam']:.1f} / {med['forward']:.1f} ms)", ratio, "×", 1.5)
    record(f"`grad_cam` {NAME} at {layer} / pytorch-grad-cam's GradCAM (same input, "
           f"{med['pytorch-grad-cam']:.1f} ms)", med["grad_cam"] / med["pytorch-grad-cam"],
           "×", 1.0)

    guided = cnnviz.guided_backprop(model, x, target)
    for label, call in (
        ("guided_backprop", lambda: cnnviz.guided_backprop(model, x, target)),
        (f"guided_grad_cam at {layer}", lambda: cnnviz.guided_grad_cam(model, x, target, layer)),
        ("  the same, guided gradients kept", lambda: cnnviz.guided_grad_cam(
            model, x, target, layer, guided=guided)),
        ("saliency", lambda: cnnviz.saliency(model, x, target)),
    ):
        ms = median_ms(call, max(5, args.calls // 4), warmup=2)
        print(f"{label:<39}{ms:7.1f} ms")
        record(f"`{label.strip()}` on {NAME}", ms, "ms", note=f"{args.threads} thread(s)")

    fresh = copy.deepcopy(model)  # the table is cached per model: time a cold one
    start = time.perf_counter()
    rows = cnnviz.receptive_field_table(fresh, MODELS[NAME].input_size)
    table_s = time.perf_counter() - start
    print(f"receptive_field_table, 49 convs (cold) {1000 * table_s:7.0f} ms   "
          f"(head: {rows[-1]['rf'][0]} px)")
    record(f"`receptive_field_table` on {NAME} (cold, {len(rows)} rows)", 1000 * table_s, "ms")

    for block, channel in (("stage5.block9", 10), ("stage4.block7", 3)):
        config = maximise_config("fourier", (3, 224, 224), steps=64, objective="centre")
        start = time.perf_counter()
        result = maximise_channel(model, block, channel, (3, 224, 224), config=config)
        seconds = time.perf_counter() - start
        print(f"maximise {block} channel {channel}, 64 steps at 224, jitter + 1/f: "
              f"{seconds:.2f} s (objective {result.start:.3g} -> {result.final:.3g})")
        record(f"Activation maximisation, {NAME} {block} channel {channel}, 64 steps at "
               "224×224 (jitter + 1/f)", seconds, "s", 6, note=f"{args.threads} thread(s)")


if __name__ == "__main__":
    main()
