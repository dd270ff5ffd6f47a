"""Session state shared by every page, and every session key that is not a page's own.

A page's own keys (its widgets, declared with its URL controls, and the few things a page
remembers for itself, such as the Convolution page's last preset) start with its catalogue
prefix (``ui.catalog``); everything shared, or kept across pages, is named here, once.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import streamlit as st
from torch import nn

from cnnviz import DEFAULT_SAMPLE, SAMPLES, encode_for_display, fit_within, load_sample
from ui.cache.memo import memo

__all__ = [
    "CAMERA",
    "CANVAS",
    "CANVAS_DIGEST",
    "IMAGE",
    "IMAGE_ERROR",
    "IMAGE_NOTICE",
    "KEPT_UPLOADS",
    "MAX_OWN_MODELS",
    "OWN_CLASSES",
    "OWN_MODELS",
    "OWN_RUN",
    "PRESENT",
    "QUIZ_PROBLEM",
    "QUIZ_RESULTS",
    "SAMPLE",
    "SOURCE",
    "SYNTHESES",
    "TRAINED_MODELS",
    "TRAINING_JOB",
    "TRAINING_START_ERROR",
    "UPLOAD",
    "UPLOADS",
    "URL_NOTICE",
    "WORKING_SIDE",
    "CurrentImage",
    "OwnModel",
    "add_own_model",
    "own_models",
    "current_image",
    "describe",
    "image_format",
    "image_bytes",
    "set_image",
    "set_sample",
    "session_uploads",
    "trained_models",
]

#: Longer side, in pixels, of the image pages work on. Uploads and photos are shrunk to it:
#: big enough to see detail, small enough that every page stays interactive on 2 cores.
WORKING_SIDE = 512

# --- the image, and the sidebar's widgets that choose it (shared by every page) -------------
IMAGE = "cnnviz.image"  # CurrentImage
IMAGE_ERROR = "cnnviz.image_error"  # str | None: the last refused upload, shown in the sidebar
IMAGE_NOTICE = "cnnviz.image_notice"  # str | None: e.g. "resized from ... to ..."
URL_NOTICE = "cnnviz.url_notice"  # str | None: a link asked for something invalid
SOURCE = "source"  # widget: "Sample" | "Upload" | "Draw" | "Camera"
SAMPLE = "sample"  # widget and URL key: sample name
UPLOAD = "upload"  # widget: file uploader
CANVAS = "canvas"  # widget: drawable canvas
CAMERA = "camera"  # widget: the webcam (st.camera_input)
CANVAS_DIGEST = "cnnviz.canvas_digest"  # bytes digest of the last drawing adopted
PRESENT = "present"  # widget and URL key: presenter mode (ui.present)

# --- what a session makes -------------------------------------------------------------------
# Models trained in this browser session (the Training page), for every page to explore:
# dict registry name -> (model in eval mode, model card dict). Never shared between sessions
# and never written to assets/. Each model carries ``cnnviz_name`` (its registry name, which
# names its preprocessing and classes) and ``cnnviz_run_id`` (unique to the training run).
TRAINED_MODELS = "cnnviz.trained_models"
TRAINING_JOB = "cnnviz.training_job"  # ui.training_job.TrainingJob | None: the latest run
TRAINING_START_ERROR = "cnnviz.training_start_error"  # str | None: why Train started nothing
# The syntheses made on the What a channel detects page: OrderedDict settings -> (Synthesis,
# seconds), the latest ``ui.cache.channels.KEPT_SYNTHESES``.
SYNTHESES = "cnnviz.syntheses"
# The images uploaded in this session, newest last: OrderedDict digest -> CurrentImage, the
# latest KEPT_UPLOADS (at most 512×512×3 each, 0.8 MB). "Ask the data" searches them.
UPLOADS = "cnnviz.uploads"
KEPT_UPLOADS = 12
# The Your own classes page: the classes a student is making (ui.own.Classes), the latest
# judged training (ui.own.Outcome), and the networks made or loaded in this session: an
# OrderedDict name -> OwnModel, newest last, at most MAX_OWN_MODELS. Each joins the model
# list of every network page under its name ("own-", a process-wide counter and 8 random hex
# digits: unique in the process, so cache keys never mix two sessions' networks). Only this
# session sees them; nothing is written to disk.
OWN_CLASSES = "cnnviz.own_classes"
OWN_RUN = "cnnviz.own_run"
OWN_MODELS = "cnnviz.own_models"
MAX_OWN_MODELS = 4
QUIZ_RESULTS = "cnnviz.quiz_results"  # dict seed -> {question index: (answer read, right?)}
QUIZ_PROBLEM = "cnnviz.quiz_problem"  # (seed, index, message) | None: an answer not read


@dataclass(frozen=True)
class CurrentImage:
    """The image every page works on: ``pixels`` is ``uint8 (H, W, 3)``."""

    pixels: np.ndarray
    label: str  # what the UI calls it: "Cat (Chelsea)", "photo.jpg", "Your drawing"
    source: str  # "sample" | "upload" | "draw" | "camera"
    name: str  # the sample name, the file name, "drawing" or "camera"
    pixel_scale: str = "unit"  # see cnnviz.data.samples.Sample
    original_shape: tuple[int, ...] | None = None  # before shrinking to WORKING_SIDE
    digest: str = ""  # of the pixels: names this image in cache keys
    is_gray: bool = False  # the three channels are equal (digits, teaching matrices, drawings)


def set_image(
    pixels: np.ndarray, label: str, source: str, name: str, pixel_scale: str = "unit"
) -> None:
    """Make ``pixels`` the current image, shrunk to the working size if needed."""
    original = pixels.shape
    work = fit_within(pixels, WORKING_SIDE)
    work = np.ascontiguousarray(work)
    work.setflags(write=False)
    digest = hashlib.blake2b(work.tobytes(), digest_size=16).hexdigest()
    gray = bool((work == work[:, :, :1]).all())
    image = CurrentImage(work, label, source, name, pixel_scale, original, digest, gray)
    st.session_state[IMAGE] = image
    if source == "upload":
        kept = st.session_state.setdefault(UPLOADS, OrderedDict())
        kept[digest] = image
        kept.move_to_end(digest)
        while len(kept) > KEPT_UPLOADS:
            kept.popitem(last=False)
    st.session_state[IMAGE_ERROR] = None
    if work.shape != original:
        st.session_state[IMAGE_NOTICE] = (
            f"Shrunk from {original[1]}×{original[0]} to {work.shape[1]}×{work.shape[0]} "
            "pixels so every page stays fast."
        )
    else:
        st.session_state[IMAGE_NOTICE] = None


def set_sample(name: str) -> None:
    sample = SAMPLES[name]
    set_image(load_sample(name), sample.label, "sample", name, sample.pixel_scale)


@memo(max_entries=64, ttl=3600)
def _encoded(digest: str, _pixels: np.ndarray) -> bytes:
    return encode_for_display(_pixels)[0]


def image_bytes(image: CurrentImage) -> bytes:
    """The image as JPEG/PNG bytes, encoded once per image (st.image would encode an array
    again on every rerun)."""
    return _encoded(image.digest, image.pixels)


def image_format(data: bytes) -> str:
    """"PNG" or "JPEG", what encoded ``data`` is: ``st.image(output_format=...)`` then sends
    the bytes as they are (with "auto" it re-encodes a PNG without alpha as JPEG on every
    rerun)."""
    return "PNG" if data[:8] == b"\x89PNG\r\n\x1a\n" else "JPEG"


#: What kind of picture each source gives, for text alternatives.
_KINDS = {"upload": "an uploaded image", "draw": "a drawing, white ink on black",
          "camera": "a webcam shot"}


def describe(image: CurrentImage) -> str:
    """A text alternative for the image: what it is and its size, e.g. "Cat (Chelsea), a
    photograph, 451×300 pixels"."""
    h, w = image.pixels.shape[:2]
    if image.source == "sample" and image.name in SAMPLES:
        group = SAMPLES[image.name].group
        kind = {"Photo": "a photograph", "MNIST digit": "a handwritten MNIST digit",
                "Shapes": "a generated shapes image",
                "Teaching matrix": "a small teaching matrix"}.get(group, "a sample image")
    else:
        kind = _KINDS.get(image.source, "an image")
    return f"{image.label}, {kind}, {w}×{h} pixels"


def current_image() -> CurrentImage:
    """The session's image; a new session starts with the default sample."""
    if IMAGE not in st.session_state:
        set_sample(DEFAULT_SAMPLE)
    return st.session_state[IMAGE]


def session_uploads() -> list[CurrentImage]:
    """The images uploaded in this session, oldest first (the latest KEPT_UPLOADS)."""
    return list(st.session_state.get(UPLOADS, {}).values())


def trained_models() -> dict:
    """This session's trained models: registry name -> (model, card dict). Read it, and add
    to it only through the Training page."""
    return st.session_state.setdefault(TRAINED_MODELS, {})


@dataclass(frozen=True, eq=False)
class OwnModel:
    """A network this session made (transfer learning) or loaded (a head or weights file)."""

    name: str  # "own-1a2b3c4d": its name on every page's model list and in cache keys
    model: nn.Module  # eval mode; cnnviz_base, cnnviz_class_names, cnnviz_pretrained
    base: str  # the registry network it is built on: preprocessing, input size, layers
    label: str  # what the pickers call it: "Your classes: cat, dog · efficientnet_lite0"
    origin: str  # how it came: "trained here", "head file", "weights file"


def own_models() -> OrderedDict:
    """This session's own networks: name -> OwnModel, newest last."""
    return st.session_state.setdefault(OWN_MODELS, OrderedDict())


_issued = itertools.count(1)  # own networks named in this process: never the same name twice
_issuing = threading.Lock()


def add_own_model(model: nn.Module, origin: str) -> OwnModel:
    """Add ``model`` (with ``cnnviz_base`` and ``cnnviz_class_names``) to this session's
    networks; beyond MAX_OWN_MODELS the oldest loaded one leaves (never the network of the
    latest training, ``OWN_RUN``). Its name is unique in the process: a counter, and random
    digits so that it cannot be guessed from another session's. Returns its entry."""
    names = model.cnnviz_class_names
    shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
    with _issuing:
        name = f"own-{next(_issued)}{uuid.uuid4().hex[:8]}"
    entry = OwnModel(name, model, model.cnnviz_base,
                     f"Yours ({origin}): {shown} · {model.cnnviz_base}", origin)
    kept = own_models()
    kept[entry.name] = entry
    latest = st.session_state.get(OWN_RUN)
    keep = {entry.name, getattr(latest, "name", None)}
    for old in [n for n in kept if n not in keep][:max(0, len(kept) - MAX_OWN_MODELS)]:
        del kept[old]
    return entry
