"""A corpus of hostile, broken and odd image files, made in memory by the tests, and the
hostile query values the URL tests send.

Every entry is a file a user could upload: its name, its bytes, the MIME type a browser would
send, and what the app must do with it:

- ``refused`` entries must give ``ImageError`` whose sentence contains ``fragment``;
- ``loaded`` entries must decode to ``uint8 (H, W, 3)`` of ``shape`` (before the app shrinks
  it to its working size), and ``check(pixels)`` must hold (colours, orientation, first frame).

Nothing is read from disk and nothing is written: the files are built with Pillow, OpenCV and
``struct``/``zlib``. :func:`corpus` builds them once per process (the largest takes about a
second to encode).
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

Check = Callable[[np.ndarray], None]


@dataclass(frozen=True)
class HostileFile:
    name: str  # the file name the browser sends
    data: bytes
    mime: str
    fragment: str | None = None  # refused: words the refusal must contain
    shape: tuple[int, int, int] | None = None  # loaded: load_image's (H, W, 3)
    check: Check | None = None  # loaded: more about the pixels
    about: str = ""  # what the file is, for test ids and failure messages

    @property
    def refused(self) -> bool:
        return self.fragment is not None

    def __repr__(self) -> str:  # pytest ids and messages stay short (no bytes)
        return f"HostileFile({self.name!r}, {len(self.data)} bytes)"


# --- builders --------------------------------------------------------------------------------


def _save(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_header_only(width: int, height: int) -> bytes:
    """A small PNG whose header claims ``width`` x ``height`` 8-bit grey pixels: a
    decompression bomb as far as the header is concerned (its data runs out early)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def bomb_png(width: int, height: int) -> bytes:
    """A complete, valid PNG of ``width`` x ``height`` black 1-bit pixels; zlib squeezes the
    rows so that 20000 x 20000 (400 megapixels) stays under 100 kB."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def gradient(h: int = 30, w: int = 40) -> np.ndarray:
    """uint8 (h, w, 3): red grows to the right, green downwards, blue to the left."""
    x = np.linspace(0, 255, w)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h)[:, None].repeat(w, 1)
    return np.stack([x, y, 255 - x], axis=2).round().astype(np.uint8)


def marked(h: int, w: int) -> np.ndarray:
    """A grey picture with a red block in its top-left corner and a blue one in its
    bottom-left: any rotation or flip moves them somewhere else."""
    img = np.full((h, w, 3), 128, np.uint8)
    bh, bw = max(1, h // 5), max(1, w // 5)
    img[:bh, :bw] = (255, 0, 0)
    img[-bh:, :bw] = (0, 0, 255)
    return img


def _close(expected: np.ndarray, tolerance: float) -> Check:
    def check(pixels: np.ndarray) -> None:
        assert pixels.shape == expected.shape, (pixels.shape, expected.shape)
        if tolerance == 0:  # exact; cheap for the 24-megapixel image
            assert np.array_equal(pixels, expected)
            return
        diff = np.abs(pixels.astype(np.int16) - expected.astype(np.int16)).mean()
        assert diff <= tolerance, f"mean difference {diff:.2f} > {tolerance}"

    return check


def _all(colour: tuple[int, int, int]) -> Check:
    def check(pixels: np.ndarray) -> None:
        assert (pixels == colour).all(), np.unique(pixels.reshape(-1, 3), axis=0)[:5]

    return check


def _animation(fmt: str, **kwargs) -> bytes:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (8, 6), c) for c in colours]
    return _save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=40,
                 loop=0, **kwargs)


def _exif_rotated_jpeg(stored: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(Image.fromarray(stored), "JPEG", exif=exif.tobytes(), quality=95)


def _truncated(fmt: str) -> bytes:
    data = _save(Image.fromarray(noise(120, 160, seed=3)), fmt)
    return data[: len(data) // 2]


def _bad_crc_png() -> bytes:
    data = bytearray(_save(Image.fromarray(gradient()), "PNG"))
    idat = data.index(b"IDAT")
    data[idat + 6] ^= 0xFF  # one byte of compressed data, so the chunk's CRC no longer fits
    return bytes(data)


def _sixteen_bit_gray() -> tuple[bytes, np.ndarray]:
    values = (np.arange(6 * 7, dtype=np.uint32).reshape(6, 7) * 1500).astype(np.uint16)
    return _save(Image.fromarray(values), "PNG"), values


def _sixteen_bit_rgb() -> tuple[bytes, np.ndarray]:
    rgb8 = gradient(12, 10)
    rgb16 = rgb8.astype(np.uint16) * 257  # 255 -> 65535
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb16, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes(), rgb8


def _float_tiff() -> tuple[bytes, np.ndarray]:
    values = np.linspace(0.0, 1.0, 5 * 8, dtype=np.float32).reshape(5, 8)
    return _save(Image.fromarray(values, mode="F"), "TIFF"), values


def _palette_with_transparency() -> bytes:
    pal = Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    return _save(pal, "PNG", transparency=0)


def _rgba() -> bytes:
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, 6:, 3] = 255  # the left half fully transparent
    return _save(Image.fromarray(rgba, "RGBA"), "PNG")


def _la() -> bytes:
    la = np.stack([np.full((5, 6), 40, np.uint8), np.zeros((5, 6), np.uint8)], axis=2)
    la[:, 3:, 1] = 255  # the right half opaque grey 40, the left transparent
    return _save(Image.fromarray(la, "LA"), "PNG")


def _zip() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("photo.png", _save(Image.fromarray(gradient()), "PNG"))
    return buf.getvalue()


# --- the corpus -------------------------------------------------------------------------------

NOT_AN_IMAGE = "not an image we can read"
DAMAGED = "damaged or cut short"
TOO_LARGE = "megapixels"


@cache
def corpus() -> tuple[HostileFile, ...]:
    """Every file, refused ones first. Built once per process."""
    files: list[HostileFile] = [
        HostileFile("garbage.png", np.random.default_rng(7).bytes(4096), "image/png",
                    NOT_AN_IMAGE, about="random bytes"),
        HostileFile("empty.png", b"", "image/png", "empty", about="zero bytes"),
        HostileFile("notes.png", b"Shopping list:\n- milk\n- bread\n" * 40, "image/png",
                    NOT_AN_IMAGE, about="a text file renamed .png"),
        HostileFile("cut.png", _truncated("PNG"), "image/png", DAMAGED,
                    about="the first half of a PNG"),
        HostileFile("cut.jpg", _truncated("JPEG"), "image/jpeg", DAMAGED,
                    about="the first half of a JPEG"),
        HostileFile("bad-crc.png", _bad_crc_png(), "image/png", DAMAGED,
                    about="a PNG with one corrupted byte (CRC mismatch)"),
        HostileFile("signature-only.png", b"\x89PNG\r\n\x1a\n", "image/png", NOT_AN_IMAGE,
                    about="nothing after the PNG signature"),
        HostileFile("paper.jpg", b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n",
                    "image/jpeg", "PDF", about="a PDF header"),
        HostileFile("photos.png", _zip(), "image/png", NOT_AN_IMAGE,
                    about="a zip archive holding a PNG"),
        HostileFile("logo.png", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/'
                    b'svg" width="9" height="9"><script>alert(1)</script><rect width="9" '
                    b'height="9"/></svg>', "image/png", "SVG", about="an SVG with a script"),
        HostileFile("page.gif", b"<!DOCTYPE html><html><body><script>alert(1)</script>"
                    b"<img src=x onerror=alert(2)></body></html>", "image/gif", NOT_AN_IMAGE,
                    about="an HTML page"),
        HostileFile("bomb-20000.png", bomb_png(20000, 20000), "image/png", TOO_LARGE,
                    about="a complete 20000x20000 PNG (400 megapixels) of under 100 kB"),
        HostileFile("bomb-10000.png", png_header_only(10000, 10000), "image/png", TOO_LARGE,
                    about="10000x10000: Pillow would only warn and decode it"),
        HostileFile("just-over.png", png_header_only(8000, 5001), "image/png", TOO_LARGE,
                    about="40,008,000 pixels, just over the 40 megapixel limit"),
        HostileFile("<img src=x onerror=alert(1)>.png", b"<b>not an image</b>", "image/png",
                    NOT_AN_IMAGE, about="a file name that is HTML"),
    ]

    gray16, gray16_values = _sixteen_bit_gray()
    rgb16, rgb16_expected = _sixteen_bit_rgb()
    float_tiff, float_values = _float_tiff()
    stored = marked(40, 60)  # landscape as stored; EXIF 6 says "rotate 90° clockwise"
    huge = marked(4000, 6000)  # 24 megapixels: legal, shrunk to the working size

    def gray_is(expected: np.ndarray, tolerance: int = 0) -> Check:
        def check(pixels: np.ndarray) -> None:
            assert pixels.shape == (*expected.shape, 3)
            assert (pixels[..., 0] == pixels[..., 1]).all() and (
                pixels[..., 1] == pixels[..., 2]).all()
            diff = np.abs(pixels[..., 0].astype(int) - expected.astype(int)).max()
            assert diff <= tolerance, diff

        return check

    def transparent_left_is_white(opaque: tuple[int, int, int], split: int) -> Check:
        def check(pixels: np.ndarray) -> None:
            assert (pixels[:, :split] == 255).all()
            assert (pixels[:, split:] == opaque).all()

        return check

    def palette_check(pixels: np.ndarray) -> None:
        assert pixels.shape == (30, 40, 3)
        assert (pixels == 255).all(axis=2).any(), "palette entry 0 (transparent) became white"

    files += [
        HostileFile("one-pixel.png", _save(Image.new("RGB", (1, 1), (10, 20, 30)), "PNG"),
                    "image/png", shape=(1, 1, 3), check=_all((10, 20, 30)), about="1x1"),
        HostileFile("wide-10000x3.png", _save(Image.fromarray(marked(3, 10000)), "PNG"),
                    "image/png", shape=(3, 10000, 3), check=_close(marked(3, 10000), 0),
                    about="10000 wide, 3 high"),
        HostileFile("tall-3x10000.png", _save(Image.fromarray(marked(10000, 3)), "PNG"),
                    "image/png", shape=(10000, 3, 3), check=_close(marked(10000, 3), 0),
                    about="3 wide, 10000 high"),
        HostileFile("animated.gif", _animation("GIF"), "image/gif", shape=(6, 8, 3),
                    check=_all((255, 0, 0)), about="3 frames: red, green, blue"),
        HostileFile("animated.png", _animation("PNG"), "image/png", shape=(6, 8, 3),
                    check=_all((255, 0, 0)), about="APNG, 3 frames"),
        HostileFile("animated.webp", _animation("WEBP", lossless=True), "image/webp",
                    shape=(6, 8, 3), check=_all((255, 0, 0)), about="animated WebP"),
        HostileFile("gray16.png", gray16, "image/png", shape=(6, 7, 3),
                    check=gray_is(np.round(gray16_values / 257.0)), about="16-bit grey (I;16)"),
        HostileFile("rgb48.png", rgb16, "image/png", shape=(12, 10, 3),
                    check=_close(rgb16_expected, 1), about="16 bits per channel RGB"),
        HostileFile("float32.tif", float_tiff, "image/tiff", shape=(5, 8, 3),
                    check=gray_is(np.round(float_values * 255.0)),
                    about="32-bit float TIFF in 0..1"),
        HostileFile("cmyk.jpg", _save(Image.fromarray(gradient()).convert("CMYK"), "JPEG",
                                      quality=95), "image/jpeg", shape=(30, 40, 3),
                    check=_close(gradient(), 8), about="CMYK JPEG"),
        HostileFile("palette-transparent.png", _palette_with_transparency(), "image/png",
                    shape=(30, 40, 3), check=palette_check, about="palette + tRNS"),
        HostileFile("rgba.png", _rgba(), "image/png", shape=(10, 12, 3),
                    check=transparent_left_is_white((200, 0, 0), 6), about="RGBA"),
        HostileFile("gray-alpha.png", _la(), "image/png", shape=(5, 6, 3),
                    check=transparent_left_is_white((40, 40, 40), 3), about="LA"),
        HostileFile("exif-rotated.jpg", _exif_rotated_jpeg(stored, 6), "image/jpeg",
                    shape=(60, 40, 3), check=_close(np.rot90(stored, -1), 6),
                    about="EXIF orientation 6: stored 60x40, shown 40x60"),
        HostileFile("huge-6000x4000.png", _save(Image.fromarray(huge), "PNG",
                                                compress_level=1),
                    "image/png", shape=(4000, 6000, 3), check=_close(huge, 0),
                    about="24 megapixels, legal, shrunk to 512 wide"),
    ]
    return tuple(files)


def refused() -> list[HostileFile]:
    return [f for f in corpus() if f.refused]


def loaded() -> list[HostileFile]:
    return [f for f in corpus() if not f.refused]


def by_name(name: str) -> HostileFile:
    return next(f for f in corpus() if f.name == name)


# --- hostile query strings ----------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
LONG = "9" * 5000  # over Python's 4300-digit limit for int(): ValueError, not a hang
#: values no query key of any page accepts
NEVER_VALID = [SCRIPT, "../../x", "\x00", LONG, "1e400", "nan", "abc"]
#: keys that shared helpers add to a page's own ``UrlParam("key", ...)`` declarations
HELPER_KEYS = {"step_params(": {"zoom", "zoom_size", "step", "speed"},
               "model_param(": {"model"}, "NetworkControls(": {"model", "layer"}}
ROOT = Path(__file__).resolve().parents[1]


def url_keys(info) -> set[str]:
    """The query keys a page (a ``ui.catalog.PageInfo``) declares: its UrlParams, those of
    the shared helpers it calls, and the sidebar's ``sample``. ``test_hostile.py`` checks
    against the keys the page really reads, so this list cannot go stale unnoticed."""
    source = (ROOT / info.path).read_text()
    keys = set(re.findall(r'(?:Param|_param)\(\s*"(\w+)"', source)) | {"sample"}
    for call, extra in HELPER_KEYS.items():
        if call in source:
            keys |= extra
    if "NetworkControls(" in source:  # its channel box: "channel", or the unit it names
        unit = re.search(r'unit="(\w+)"', source)
        keys.add(unit.group(1) if unit else "channel")
    return keys
