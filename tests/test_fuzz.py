"""Fuzzing what users upload and type, with hypothesis.

- ``load_image`` on random bytes and on valid PNG, JPEG, GIF, APNG, WebP, BMP and TIFF files
  with bytes overwritten, cut off or inserted: only ``ImageError`` escapes, and whatever it
  returns is ``uint8 (H, W, 3)`` within the pixel limit;
- ``parse_kernel_slices`` (the Convolution page's ``weights``, channel slices split by ``|``)
  on random text: only ``KernelError``; what it returns is finite and within the size limits
  (``parse_kernel`` alone is fuzzed in ``test_kernels.py``);
- the URL parsers of ``ui/urlstate.py`` on random text: only ``ValueError`` / ``TypeError``,
  the two exceptions ``seed`` turns into a notice (anything else would crash a page), and
  every value they accept is within its range.

Example counts are kept moderate (the whole module takes a few seconds).
"""

from __future__ import annotations

import io
import math

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from cnnviz import MAX_KERNEL_SIZE, ImageError, KernelError, load_image, parse_kernel_slices
from cnnviz.images import MAX_PIXELS
from cnnviz.kernels import MAX_KERNEL_VALUE
from tests.hostile_corpus import gradient
from ui.urlstate import (
    choice,
    class_in,
    flag,
    float_in,
    int_in,
    kernel_param,
    map_param,
    names_in,
    one_of,
    padding_param,
    pair_in,
    switched_pair_param,
    unit_param,
)

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _check_load(data: bytes) -> None:
    try:
        pixels = load_image(data)
    except ImageError as err:
        message = str(err)
        assert message.endswith(".") and len(message) > 20, message
        return
    assert isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8
    assert pixels.ndim == 3 and pixels.shape[2] == 3
    h, w = pixels.shape[:2]
    assert h >= 1 and w >= 1 and h * w <= MAX_PIXELS


def _file(fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    picture = Image.fromarray(gradient(12, 16))
    if kwargs.pop("animated", False):
        frames = [picture, Image.fromarray(gradient(12, 16)[::-1])]
        kwargs.update(save_all=True, append_images=frames[1:], duration=50)
    picture.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


SEEDS = {
    "png": _file("PNG"),
    "jpeg": _file("JPEG", quality=80),
    "gif": _file("GIF", animated=True),
    "apng": _file("PNG", animated=True),
    "webp": _file("WEBP", lossless=True),
    "bmp": _file("BMP"),
    "tiff": _file("TIFF"),
}


@FUZZ
@given(st.binary(max_size=4096))
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
@example(b"GIF89a")
@example(b"RIFF\x00\x00\x00\x00WEBP")
def test_load_image_on_random_bytes(data):
    _check_load(data)


@st.composite
def mutated_files(draw) -> bytes:
    """A valid small file of one format with a few bytes overwritten, a cut, or an insertion.
    Overwrites favour the first 64 bytes, where the headers (sizes, modes) live."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(0, 6))):
        limit = len(data) - 1 if draw(st.booleans()) else min(63, len(data) - 1)
        data[draw(st.integers(0, limit))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(data)))
        data = data[:cut]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@FUZZ
@given(mutated_files())
def test_load_image_on_damaged_files(data):
    _check_load(data)


def test_every_seed_file_loads():
    """The fuzzing starts from files that work."""
    for name, data in SEEDS.items():
        assert load_image(data).shape == (12, 16, 3), name


KERNEL_TEXT = st.text(alphabet="0123456789-+./,; \n[]|eEinfa", max_size=80)


@settings(max_examples=300, deadline=None)
@given(st.one_of(KERNEL_TEXT, st.text(max_size=80)))
@example("1 0; 0 1 | 0 1; 1 0 | 1 1; 1 1")
@example("|" * 20)
def test_parse_kernel_slices_returns_a_usable_kernel_or_says_why(text):
    try:
        kernel = parse_kernel_slices(text)
    except KernelError as err:
        assert str(err).endswith("."), str(err)
        return
    assert kernel.dtype == np.float32 and kernel.ndim in (2, 3)
    assert 1 <= kernel.shape[0] <= MAX_KERNEL_SIZE and 1 <= kernel.shape[1] <= MAX_KERNEL_SIZE
    if kernel.ndim == 3:
        assert 2 <= kernel.shape[2] <= 16
    assert np.isfinite(kernel).all() and (np.abs(kernel) <= MAX_KERNEL_VALUE).all()


URL_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789-+., eEinfa_x", max_size=40),
    st.sampled_from(["1e400", "-0", "nan", "inf", "9" * 5000, "0x10", "1_0", "\x00", "٣",
                     "9" * 400, "-" + "9" * 400, "0.0030000000001", "16.0", "1;2|3"]),
)
STEP_CHOICES = (16, 32, 64, 128)
RATES = (3e-4, 1e-3, 3e-3)


@settings(max_examples=300, deadline=None)
@given(URL_TEXT)
def test_url_parsers_accept_in_range_values_or_raise_what_seed_catches(text):
    parsers = {
        "int_in": (int_in(1, 16), lambda v: isinstance(v, int) and 1 <= v <= 16),
        "pair_in": (pair_in(0, 8), lambda v: len(v) == 2 and all(0 <= x <= 8 for x in v)),
        "float_in": (float_in(-1e4, 1e4), lambda v: math.isfinite(v) and -1e4 <= v <= 1e4),
        "choice": (choice(("max", "avg")), lambda v: v in ("max", "avg")),
        "flag": (flag, lambda v: v in (True, False)),
        "one_of int": (one_of(STEP_CHOICES, int), lambda v: v in STEP_CHOICES),
        "one_of float": (one_of(RATES, float), lambda v: v in RATES),
        "names_in": (names_in(("a", "b")), lambda v: set(v) <= {"a", "b"}),
        "class_in": (class_in(("cat", "dog"), -1), lambda v: v in (-1, 0, 1)),
        "padding": (padding_param("p", tuple("abcde"), ("valid", 0, 0, 0, 0)).parse,
                    lambda v: v[0] in ("valid", "same", "custom")
                    and all(0 <= x <= 64 for x in v[1:])),
        "weights": (kernel_param("w", "w", "1").parse, lambda v: isinstance(v, str)),
        "unit": (unit_param("u", ("y", "x"), (0, 0), 3, 4).parse,
                 lambda v: 0 <= v[0] < 3 and 0 <= v[1] < 4),
        "map": (map_param("c", "c", 4).parse, lambda v: v == "mean" or v in range(4)),
        "switched pair": (switched_pair_param("s", ("a", "b", "c"), (2, 2), 0, 8).parse,
                          lambda v: v[0] is False and all(0 <= x <= 8 for x in v[1:])),
    }
    for name, (parse, valid) in parsers.items():
        try:
            value = parse(text)
        except (ValueError, TypeError):
            continue
        assert valid(value), (name, text, value)
