"""Transfer learning (issue 15): accuracy beside a CNN from scratch, speed, and 10 sessions
training at once on the Your own classes page.

    python bench/bench_transfer.py [--threads 1] [--sessions 10] [--no-server]

1. Accuracy. The held-out shapes set: 10 training images a class (40, seeded), judged on 400
   others. The new head on EfficientNet-Lite0's frozen features (``transfer_learn``, 300
   full-batch epochs), with and without augmentation, beside the small CNN from scratch on
   the same 40 images for the same 300 epochs (``train_scratch``). Target: transfer ≥ 75%.
2. Speed, on one torch thread as a page rerun runs: 40 images from nothing (features, the
   judged head and the head kept, as the page's Train runs them), and adding one image then
   training again (the 40 features kept). Targets: ≤ 5 s and ≤ 1.5 s. The CNN from scratch
   (``judge_scratch``) trains beside the page after that; its time is measured apart.
3. Load. ``--sessions`` browser-less sessions (``bench/streamlit_client``) open
   /own_classes on one server, press "Use this set" (shapes, 10 a class: 40 images) and Train
   at the same moment, then run the page's polling fragment as a tab does until the CNN
   from scratch's numbers are on the page. Each must finish within 30 s with no error, and
   the server's RSS must come back within 10% of its start once the sessions are gone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.load import rss_mb, settle  # noqa: E402
from bench.streamlit_client import Session, SessionError  # noqa: E402
from bench.timing import record  # noqa: E402
from cnnviz import (  # noqa: E402
    TRANSFER_EPOCHS,
    augmented,
    compare_transfer,
    image_features,
    judge_scratch,
    preprocess,
    shapes_heldout,
    transfer_learn,
)
from cnnviz.models.transfer import scratch_input, train_scratch  # noqa: E402  (not in cnnviz.__all__)
from deploy.replicas import free_port, start_app, stop, wait_healthy  # noqa: E402

BASE = "efficientnet_lite0"
NAMES = ("circle", "square", "triangle", "star")
SESSION_TTL = 15


def _split():
    images, labels, _ = shapes_heldout()
    rng = np.random.default_rng(0)
    train = np.concatenate([rng.choice(np.flatnonzero(labels == c), 10, replace=False)
                            for c in range(4)])
    test = np.setdiff1d(np.arange(len(images)), train)[::2][:400]
    return ([images[i] for i in train], labels[train].tolist(),
            [images[i] for i in test], labels[test])


def accuracy() -> None:
    train_x, train_y, test_x, test_y = _split()
    test_features = image_features(test_x, base=BASE)
    model = transfer_learn(train_x, train_y, NAMES)
    with torch.no_grad():
        said = model.fc(torch.as_tensor(test_features)).argmax(1).numpy()
    transfer = float((said == test_y).mean())
    views = [image_features(augmented(x), base=BASE) for x in train_x]
    run = compare_transfer(train_x, train_y, NAMES, extra_features=views, scratch=False)
    with torch.no_grad():
        said = run.model.fc(torch.as_tensor(test_features)).argmax(1).numpy()
    augmented_acc = float((said == test_y).mean())
    net = train_scratch(train_x, train_y, 4, steps=TRANSFER_EPOCHS)
    with torch.no_grad():
        said = net(scratch_input(test_x)).argmax(1).numpy()
    scratch = float((said == test_y).mean())
    print(f"accuracy on {len(test_y)} held-out shapes, 10 training images a class:")
    print(f"  transfer (new head, {TRANSFER_EPOCHS} epochs)     {transfer:6.1%}   target ≥ 75%")
    print(f"  transfer with augmentation             {augmented_acc:6.1%}")
    print(f"  CNN from scratch, same 40, same epochs {scratch:6.1%}   chance 25%")
    record("Transfer learning, shapes 10 a class: held-out accuracy (400 images)",
           100 * transfer, "%", 75, at_least=True)
    record("… with augmentation (mirror, centre crop)", 100 * augmented_acc, "%")
    record("… a small CNN from scratch on the same 40 images, same epochs", 100 * scratch, "%")


def speed() -> None:
    train_x, train_y, _, _ = _split()
    extra = shapes_heldout()[0][-1]
    compare_transfer(train_x[:4], train_y[:4], NAMES, scratch=True)  # warm-up (Adam, kernels)
    start = time.perf_counter()
    run = compare_transfer(train_x, train_y, NAMES, scratch=False)
    head = time.perf_counter() - start
    start = time.perf_counter()
    judge_scratch(train_x, train_y, run.train, run.held_out, 4)
    scratch = time.perf_counter() - start
    features = image_features(train_x, base=BASE)
    start = time.perf_counter()
    one = image_features([extra], base=BASE)
    compare_transfer([*train_x, extra], [*train_y, 3], NAMES,
                     features=np.concatenate([features, one]), scratch=False)
    add = time.perf_counter() - start
    print(f"40 images from nothing (features, judged head, kept head): {head:.2f} s   "
          "target ≤ 5 s")
    print(f"adding one image and training again: {add:.2f} s   target ≤ 1.5 s")
    print(f"the CNN from scratch beside it (32 training images, {TRANSFER_EPOCHS} epochs): "
          f"{scratch:.2f} s")
    record("Transfer learning: 40 images, features + training (1 thread)", head, "s", 5)
    record("Transfer learning: one image added, training again", add, "s", 1.5)
    record("… the CNN from scratch beside it (trains after, on its own thread)", scratch, "s")


async def _one_student(url: str, start_at: float, timeout: float
                       ) -> tuple[float, float, list]:
    """Fill the classes, wait for ``start_at``, Train; seconds until the head's numbers and
    until the CNN from scratch's, and the errors."""
    session = Session(url, "own_classes", timeout=timeout, title="Your own classes")
    try:
        await session.open()
        await session.click("own.use_set")
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        start = time.perf_counter()
        await session.click("own.train")
        head = time.perf_counter() - start
        if not any("Trained on 40 images" in t for t in session.text):
            session.errors.append(SessionError("page", "no training result drawn"))
        while not any(t.startswith("CNN from scratch: ") and t.endswith("%")
                      for t in session.text):  # the page polls in a fragment, as a tab does
            if time.perf_counter() - start > timeout or not session.auto_reruns:
                raise SessionError("timeout", "the CNN from scratch never finished")
            fragment, every = next(iter(session.auto_reruns.items()))
            await asyncio.sleep(every)
            await session.rerun(fragment=fragment)
        return head, time.perf_counter() - start, \
            session.errors + [SessionError("alert", a) for a in session.alerts]
    except SessionError as err:
        return float("nan"), float("nan"), [*session.errors, err]
    finally:
        await session.close()


async def load(sessions: int) -> None:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="cnnviz-transfer-")) / "server.log"
    proc = start_app(port, log, session_ttl=SESSION_TTL)
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_healthy, url, [proc])
        _, _, errors = await _one_student(url, 0, 120)  # warm-up: model, modules, kernels
        if errors:
            raise SystemExit(f"warm-up failed: {errors[0]}")
        await settle(url, SESSION_TTL, 5)
        before = rss_mb([proc.pid])
        start_at = time.monotonic() + 5  # every session opened and filled first
        results = await asyncio.gather(*[_one_student(url, start_at, 60)
                                         for _ in range(sessions)])
        peak = rss_mb([proc.pid])
        await settle(url, SESSION_TTL, 5)
        after = rss_mb([proc.pid])
    finally:
        stop(proc)
    heads = [h for h, _, _ in results]
    times = [t for _, t, _ in results]
    errors = [e for _, _, errs in results for e in errs]
    print(f"{sessions} sessions training at once (40 images each): the head's numbers after "
          f"{np.median(heads):.1f} s (median; slowest {max(heads):.1f} s), the CNN from "
          f"scratch's after {np.median(times):.1f} s (slowest {max(times):.1f} s); "
          f"{len(errors)} errors; server RSS {before:.0f} MB before, {peak:.0f} MB after the "
          f"trainings, {after:.0f} MB once the sessions were gone ({after / before:.2f}×)   "
          "targets ≤ 30 s, 0 errors, ≤ 1.10×")
    for err in errors[:5]:
        print("  ", err)
    record(f"Transfer learning: {sessions} sessions training at once, the slowest (head and "
           "CNN from scratch)", max(times), "s", 30)
    record(f"… the head's numbers, the slowest of the {sessions}", max(heads), "s", 30)
    record(f"… errors in those {sessions} sessions", len(errors), "errors", 1)
    record("… server RSS after the sessions left / before", after / before, "×", 1.10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--no-server", action="store_true", help="skip the load test")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s); {os.cpu_count()} CPUs")
    preprocess(BASE, shapes_heldout()[0][0])
    accuracy()
    speed()
    if not args.no_server:
        asyncio.run(load(args.sessions))


if __name__ == "__main__":
    main()
