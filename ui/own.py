"""Your own classes: the classes a student makes, their images, and training on them.

The page (``pages/own_classes.py``) draws; this module keeps the session's classes
(``state.OWN_CLASSES``: a ``Classes``), adds and removes images with the limits and the
refusals, keeps each image's features so that adding one image does not recompute the
others, and trains (``cnnviz.compare_transfer``) into this session's own networks
(``state.add_own_model``). Nothing is written to disk: images (kept as JPEG bytes),
features and networks live in the session and go with it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np
import streamlit as st

from cnnviz import (
    MODELS,
    TRANSFER_EPOCHS,
    ImageError,
    Judgement,
    TransferRun,
    architecture,
    augmented,
    class_name_problem,
    compare_transfer,
    encode_for_display,
    fit_within,
    head_features,
    image_features,
    judge_scratch,
    load_image,
    make_shapes,
    mnist_sample,
)
from ui import state
from ui.sidebar import UPLOAD_LIMIT_MB, escape_markdown

__all__ = [
    "BASE",
    "KEEP_SIDE",
    "MAX_CLASSES",
    "MAX_IMAGES",
    "MIN_CLASSES",
    "NAME_LENGTH",
    "SCRATCH_WORKERS",
    "SHAPES_SEED",
    "THUMB_SIDE",
    "VIEWS",
    "Classes",
    "Example",
    "Outcome",
    "add_files",
    "add_image",
    "add_shot",
    "classes",
    "head_inputs",
    "held_out_text",
    "ready_made",
    "train",
]

BASE = "efficientnet_lite0"
MIN_CLASSES, MAX_CLASSES = 2, 6
MAX_IMAGES = 50  # per class
NAME_LENGTH = 40  # characters of a class name typed on the page
#: Longer side of a kept image: the network sees 224×224 of it, after 256 on the shorter side.
KEEP_SIDE = 320
THUMB_SIDE = 96
JPEG_QUALITY = 92  # a kept image is 20-40 kB, not 300 kB of pixels
#: Seed of the ready-made shapes: a set of its own, not the shapes CNN's training or
#: held-out images.
SHAPES_SEED = 15
#: The CNNs from scratch train here, beside the page: the new head's numbers show at once and
#: the comparison joins them a second or two later. Two at a time (two cores); more wait.
SCRATCH_WORKERS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cnnviz-scratch")
VIEWS = "+views"  # the features key of an image's augmented views: digest + VIEWS


@dataclass(frozen=True, eq=False)
class Example:
    """One image of a class, kept as JPEG bytes (decoded when the network needs it)."""

    data: bytes  # JPEG, longer side at most KEEP_SIDE
    digest: str  # of the pixels as added: names it, and its features
    origin: str  # "cat.jpg", "webcam shot", "the sidebar image", "shapes #3"
    thumb: bytes  # a small JPEG/PNG for the thumbnail

    @property
    def pixels(self) -> np.ndarray:
        """uint8 (H, W, 3) RGB."""
        bgr = cv2.imdecode(np.frombuffer(self.data, np.uint8), cv2.IMREAD_COLOR)
        return np.ascontiguousarray(bgr[:, :, ::-1])


@dataclass
class Classes:
    """The classes being made: names, images, and the features kept per image."""

    names: list[str] = field(default_factory=lambda: ["Class 1", "Class 2"])
    images: list[list[Example]] = field(default_factory=lambda: [[], []])
    # digest -> (1, D) float32: an image's features; digest + VIEWS -> (views, D): its
    # augmented views' (``cnnviz.augmented``), computed when augmentation is first asked for
    features: dict[str, np.ndarray] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # refusals of the latest additions
    generation: int = 0  # bumped when the classes change shape: fresh widget keys

    @property
    def count(self) -> int:
        return sum(len(imgs) for imgs in self.images)

    def changed(self) -> None:
        """The classes changed shape: widgets keyed by position start afresh."""
        self.generation += 1

    def add_class(self) -> None:
        if len(self.names) < MAX_CLASSES:
            used = set(self.names)
            number = next(i for i in range(1, 100) if f"Class {i}" not in used)
            self.names.append(f"Class {number}")
            self.images.append([])
        self.changed()

    def remove_class(self, name: str) -> None:
        """Remove the class called ``name`` (a name, not a position: a click from an older
        run of the page still means the class it showed)."""
        if len(self.names) > MIN_CLASSES and name in self.names:
            c = self.names.index(name)
            del self.names[c], self.images[c]
            self._forget_unused()
        self.changed()

    def remove(self, digest: str) -> None:
        """Remove the image ``digest`` from every class it is in."""
        self.images = [[e for e in imgs if e.digest != digest] for imgs in self.images]
        self._forget_unused()
        self.changed()

    def rename(self, c: int, name: str) -> None:
        if 0 <= c < len(self.names):
            self.names[c] = " ".join(str(name).split())[:NAME_LENGTH]

    def _forget_unused(self) -> None:
        used = {e.digest for imgs in self.images for e in imgs}
        for key in set(self.features) - used - {d + VIEWS for d in used}:
            del self.features[key]

    def name_problem(self) -> str | None:
        """Why these names cannot be trained on, or None."""
        for name in self.names:
            problem = class_name_problem(name)
            if problem:
                return problem
        if len({" ".join(n.split()).casefold() for n in self.names}) != len(self.names):
            return "Two classes have the same name: give each one its own."
        return None

    def train_problem(self) -> str | None:
        """Why Train cannot start, in one sentence, or None."""
        empty = [n for n, imgs in zip(self.names, self.images, strict=True) if not imgs]
        if empty:
            return f"Add at least one image to {', '.join(empty)}."
        return self.name_problem()


def classes() -> Classes:
    """This session's classes (two empty ones to start)."""
    return st.session_state.setdefault(state.OWN_CLASSES, Classes())


def _example(pixels: np.ndarray, origin: str) -> Example:
    kept = np.ascontiguousarray(fit_within(pixels, KEEP_SIDE))
    digest = hashlib.blake2b(kept.tobytes(), digest_size=16).hexdigest()
    ok, jpeg = cv2.imencode(".jpg", kept[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ImageError("This image could not be kept.")
    thumb = encode_for_display(fit_within(kept, THUMB_SIDE))[0]
    return Example(jpeg.tobytes(), digest, origin, thumb)


def add_image(c: int, pixels: np.ndarray, origin: str) -> str | None:
    """Add ``pixels`` (uint8 (H, W, 3)) to class ``c``; the reason it was refused, or None."""
    found = classes()
    if not 0 <= c < len(found.images):
        return "That class no longer exists."
    shown = escape_markdown(origin)
    if len(found.images[c]) >= MAX_IMAGES:
        return (f"“{shown}” was not added: {found.names[c]} has {MAX_IMAGES} images, the "
                "most a class can hold.")
    example = _example(pixels, origin)
    if any(e.digest == example.digest for e in found.images[c]):
        return f"“{shown}” is in {found.names[c]} already."
    found.images[c].append(example)
    return None


def add_files(c: int, files: Sequence) -> list[str]:
    """Add uploaded files to class ``c``; one sentence per file refused (the others stay)."""
    problems = []
    for f in files:
        data = f.getvalue()
        name = escape_markdown(f.name)
        if len(data) > UPLOAD_LIMIT_MB * 2**20:
            problems.append(f"“{name}” is {len(data) / 2**20:.1f} MB; the limit is "
                            f"{UPLOAD_LIMIT_MB} MB.")
            continue
        try:
            pixels = load_image(data)
        except ImageError as err:
            problems.append(f"“{name}” was not loaded. {err}")
            continue
        problem = add_image(c, pixels, f.name)
        if problem:
            problems.append(problem)
    return problems


def add_shot(c: int, data: bytes) -> list[str]:
    """Add a webcam shot (its image bytes) to class ``c``; the refusals, as ``add_files``."""
    try:
        pixels = load_image(data)
    except ImageError as err:
        return [f"The webcam shot was not loaded. {err}"]
    problem = add_image(c, pixels, "webcam shot")
    return [problem] if problem else []


def ready_made(kind: str, per_class: int, digits: Sequence[int] = (3, 8)) -> None:
    """Replace the classes with a ready-made set: the four shapes, or MNIST ``digits``,
    ``per_class`` images each."""
    per_class = max(1, min(MAX_IMAGES, int(per_class)))
    if kind == "shapes":
        names = list(MODELS["shapes"].class_names)
        images, labels, _ = make_shapes(per_class * len(names) * 3, SHAPES_SEED)
        chosen = [np.flatnonzero(labels == c)[:per_class] for c in range(len(names))]
        pick = [[(images[i], f"shapes #{i}") for i in idx] for idx in chosen]
    else:
        digits = list(dict.fromkeys(int(d) for d in digits))[:MAX_CLASSES]
        if len(digits) < MIN_CLASSES:
            raise ValueError("Choose at least two digits.")
        images, labels = mnist_sample()
        names = [f"digit {d}" for d in digits]
        pick = [[(np.repeat(images[i][:, :, None], 3, axis=2), f"MNIST #{i}")
                 for i in np.flatnonzero(labels == d)[:per_class]] for d in digits]
    before = st.session_state.get(state.OWN_CLASSES)
    fresh = Classes(names=names, images=[[_example(p, o) for p, o in group] for group in pick],
                    generation=(before.generation + 1) if before is not None else 0)
    st.session_state[state.OWN_CLASSES] = fresh


def _features(found: Classes, examples: list[Example], augment: bool,
              progress: Callable[[float, str], None]) -> None:
    """Compute the features of every image that has none kept (and, with ``augment``, of its
    augmented views): an image's features are computed once, whatever is added later."""
    jobs: list[tuple[str, list[np.ndarray]]] = []
    for e in examples:
        missing = e.digest not in found.features
        views = augment and e.digest + VIEWS not in found.features
        if missing or views:
            pixels = e.pixels
            if missing:
                jobs.append((e.digest, [pixels]))
            if views:
                jobs.append((e.digest + VIEWS, augmented(pixels)))
    if not jobs:
        return
    flat = [view for _, views in jobs for view in views]
    rows = image_features(flat, base=BASE,
                          progress=lambda f: progress(0.6 * f, "Features of the new images"))
    at = 0
    for key, views in jobs:
        found.features[key] = rows[at:at + len(views)]
        at += len(views)


@dataclass(frozen=True)
class Outcome:
    """The latest training: the judged run and the network it made."""

    name: str  # the own network's name (``state.OWN_MODELS``)
    class_names: tuple[str, ...]
    run: TransferRun  # the new head, judged; its ``scratch`` is None (see ``scratch``)
    augment: bool
    counts: tuple[int, ...]  # images per class
    seconds: float  # until the head was trained and judged
    # The CNN from scratch on the same split, training on SCRATCH_WORKERS; None when not
    # asked for or when nothing could be held out.
    scratch: Future | None = None

    def scratch_result(self) -> Judgement | None:
        """The comparison when it is ready; None while it trains, when there is none, or
        when it did not finish (cancelled, or failed)."""
        job = self.scratch
        if job is None or not job.done() or job.cancelled() or job.exception() is not None:
            return None
        return job.result()


def train(augment: bool, scratch: bool, progress: Callable[[float, str], None]) -> Outcome:
    """Train a new head on the classes (features kept per image), judged on a held-out part
    of each class; the network joins this session's networks, replacing the one the previous
    training made. With ``scratch``, a CNN from scratch starts training on the same split on
    SCRATCH_WORKERS. ValueError when the classes cannot be trained on."""
    found = classes()
    problem = found.train_problem()
    if problem:
        raise ValueError(problem)
    started = time.perf_counter()
    examples = [e for imgs in found.images for e in imgs]
    _features(found, examples, augment, progress)
    labels = [c for c, imgs in enumerate(found.images) for _ in imgs]
    names = tuple(" ".join(n.split()) for n in found.names)
    rows = np.concatenate([found.features[e.digest] for e in examples])
    extra = [found.features[e.digest + VIEWS] for e in examples] if augment else None
    pixels = [e.pixels for e in examples]  # the CNN from scratch learns from these
    run = compare_transfer(pixels, labels, names, base=BASE, features=rows,
                           extra_features=extra, scratch=False, steps=TRANSFER_EPOCHS,
                           progress=lambda f, what: progress(0.6 + 0.4 * f, what))
    previous = st.session_state.get(state.OWN_RUN)
    if previous is not None:
        state.own_models().pop(previous.name, None)
        if previous.scratch is not None:
            previous.scratch.cancel()  # if it has not started: nobody will read it
    entry = state.add_own_model(run.model, "trained here")
    job = None
    if scratch and len(run.held_out):
        job = SCRATCH_WORKERS.submit(judge_scratch, pixels, labels, run.train, run.held_out,
                                     len(names), augment=augment, steps=TRANSFER_EPOCHS)
    outcome = Outcome(entry.name, names, run, augment, tuple(len(i) for i in found.images),
                      time.perf_counter() - started, job)
    st.session_state[state.OWN_RUN] = outcome
    return outcome


def head_inputs() -> int:
    """How many features the new last layer takes: BASE's last dense layer's inputs."""
    return head_features(architecture(BASE))


def held_out_text(outcome: Outcome) -> str:
    """One or two sentences on how the networks were judged: how many images of each class
    were held out, which classes were too small for it, and what guessing would score."""
    run, names = outcome.run, outcome.class_names
    truth = run.transfer.truth
    held = [int((truth == c).sum()) for c in range(len(names))]
    parts = [f"{names[c]} {held[c]} of {outcome.counts[c]}" for c in range(len(names))]
    text = (f"Held out and judged: {len(truth)} images ({', '.join(parts)}); the networks "
            f"trained on the other {len(run.train)}.")
    lone = [names[c] for c in range(len(names)) if outcome.counts[c] == 1]
    if lone:
        text += (f" {', '.join(lone)} {'has' if len(lone) == 1 else 'have'} one image only, "
                 "which training needs, so no image of it is judged.")
    guess = max(held) / len(truth)
    return text + f" Always answering the most common held-out class would score {guess:.0%}."
