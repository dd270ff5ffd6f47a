"""load_image: every odd-but-valid format decodes; every bad input gives ImageError, fast."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from cnnviz import ImageError, encode_png, ensure_rgb, fit_within, load_image, to_gray
from cnnviz.images import MAX_PIXELS


def _save(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _gradient(w: int = 40, h: int = 30) -> np.ndarray:
    x = np.linspace(0, 255, w, dtype=np.float64)[None, :].repeat(h, 0)
    y = np.linspace(0, 255, h, dtype=np.float64)[:, None].repeat(w, 1)
    return np.stack([x, y, 255 - x], axis=2).round().astype(np.uint8)


RGB = _gradient()


@pytest.mark.parametrize(
    "fmt,kwargs,exact",
    [
        ("PNG", {}, True),
        ("BMP", {}, True),
        ("TIFF", {}, True),
        ("WEBP", {"lossless": True}, True),
        ("JPEG", {"quality": 95}, False),
    ],
)
def test_rgb_formats_round_trip(fmt, kwargs, exact):
    out = load_image(_save(Image.fromarray(RGB), fmt, **kwargs))
    assert out.dtype == np.uint8 and out.shape == RGB.shape
    if exact:
        np.testing.assert_array_equal(out, RGB)
    else:
        assert np.abs(out.astype(int) - RGB.astype(int)).mean() < 3


def test_transparency_is_composited_onto_white():
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 200  # red, fully transparent on the left half
    rgba[:, 6:, 3] = 255
    out = load_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    np.testing.assert_array_equal(out[:, :6], 255)  # transparent -> white
    assert (out[:, 6:] == [200, 0, 0]).all()
    # half transparent: halfway between the colour and white
    rgba[..., 3] = 128
    out = load_image(_save(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert abs(int(out[0, 0, 0]) - 228) <= 1 and abs(int(out[0, 0, 1]) - 127) <= 1


def test_grayscale_with_alpha_and_palette_transparency():
    grey_alpha = np.stack([np.full((5, 5), 10, np.uint8), np.zeros((5, 5), np.uint8)], 2)
    la = Image.fromarray(grey_alpha, "LA")
    np.testing.assert_array_equal(load_image(_save(la, "PNG")), 255)
    pal = Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.info["transparency"] = 0
    out = load_image(_save(pal, "PNG", transparency=0))
    assert out.shape == RGB.shape
    assert (out == 255).all(axis=2).any()  # palette entry 0 became white


def test_palette_without_transparency():
    pal = Image.fromarray(RGB).convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    out = load_image(_save(pal, "PNG"))
    np.testing.assert_array_equal(out, np.asarray(pal.convert("RGB")))


def test_grayscale_and_bilevel():
    gray = (np.arange(12 * 9).reshape(9, 12) % 256).astype(np.uint8)
    out = load_image(_save(Image.fromarray(gray, "L"), "PNG"))
    np.testing.assert_array_equal(out, np.repeat(gray[:, :, None], 3, 2))
    bits = Image.fromarray(gray > 50).convert("1")
    out = load_image(_save(bits, "PNG"))
    assert set(np.unique(out)) <= {0, 255}


def test_sixteen_bit_png_maps_to_eight_bit():
    values = np.array([[0, 257, 65535, 32896]], dtype=np.uint16)
    img = Image.fromarray(values)  # mode I;16
    out = load_image(_save(img, "PNG"))
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 255, 128])
    assert out.shape == (1, 4, 3)


def test_sixteen_bit_tiff():
    values = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
    out = load_image(_save(Image.fromarray(values), "TIFF"))
    np.testing.assert_array_equal(out[..., 1], np.round(values / 257).astype(np.uint8))


def test_cmyk_jpeg_and_tiff():
    cmyk = Image.fromarray(RGB).convert("CMYK")
    for fmt in ("JPEG", "TIFF"):
        out = load_image(_save(cmyk, fmt))
        assert out.shape == RGB.shape and out.dtype == np.uint8
        assert np.abs(out.astype(int) - RGB.astype(int)).mean() < 8


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (8, 6), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    out = load_image(buf.getvalue())
    assert out.shape == (6, 8, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])


def test_animated_webp_gives_first_frame():
    frames = [Image.new("RGB", (8, 6), c) for c in [(0, 0, 255), (0, 255, 0)]]
    buf = io.BytesIO()
    frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    out = load_image(buf.getvalue())
    np.testing.assert_array_equal(out[3, 3], [0, 0, 255])


@pytest.mark.parametrize("orientation,expected_shape", [(1, (30, 40, 3)), (3, (30, 40, 3)),
                                                        (6, (40, 30, 3)), (8, (40, 30, 3))])
def test_exif_orientation_is_honoured(orientation, expected_shape):
    img = Image.fromarray(RGB)
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = load_image(_save(img, "JPEG", exif=exif.tobytes(), quality=95))
    assert out.shape == expected_shape
    # the top-left corner of the stored image is dark-red-ish (x=0,y=0 -> [0, 0, 255])
    expected = {1: RGB, 3: RGB[::-1, ::-1], 6: np.rot90(RGB, -1), 8: np.rot90(RGB, 1)}[orientation]
    assert np.abs(out.astype(int) - expected.astype(int)).mean() < 4


def test_tiny_and_thin_images():
    one = load_image(_save(Image.new("RGB", (1, 1), (1, 2, 3)), "PNG"))
    np.testing.assert_array_equal(one, [[[1, 2, 3]]])
    thin = load_image(_save(Image.new("L", (3, 10000), 7), "PNG"))
    assert thin.shape == (10000, 3, 3)


# --- refusals ---------------------------------------------------------------------------


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height, with one tiny compressed IDAT."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _truncated(fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (200, 200, 3), dtype=np.uint8)
    data = _save(Image.fromarray(noisy), fmt)
    return data[: len(data) // 2]


BAD_INPUTS = {
    "empty": b"",
    "random": np.random.default_rng(1).bytes(5000),
    "text": b"Hello, this is a text file.\nNot an image.\n" * 20,
    "netpbm text": b"P1\n2 2\n0 1\n1 0\n",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b'<rect width="10" height="10"/></svg>',
    "bare svg": b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>',
    "pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n",
    "truncated png": _truncated("PNG"),
    "truncated jpeg": _truncated("JPEG"),
    "png signature only": b"\x89PNG\r\n\x1a\n",
    "bomb 20000x20000": _png_header_only(20000, 20000),
    "bomb 10000x10000": _png_header_only(10000, 10000),
    "just over the limit": _png_header_only(8000, 5001),
    "huge thin": _png_header_only(1_000_000, 41),
    "zero width": _png_header_only(0, 10),
    "eps": b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n",
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_raises_image_error(name):
    with pytest.raises(ImageError) as info:
        load_image(BAD_INPUTS[name])
    message = str(info.value)
    assert message.endswith(".") and len(message) > 20  # a sentence, not a code
    assert "Traceback" not in message


def test_messages_say_what_went_wrong():
    def msg(data: bytes) -> str:
        with pytest.raises(ImageError) as info:
            load_image(data)
        return str(info.value)

    assert "PDF" in msg(BAD_INPUTS["pdf"])
    assert "SVG" in msg(BAD_INPUTS["svg"])
    assert "empty" in msg(BAD_INPUTS["empty"])
    assert "megapixels" in msg(BAD_INPUTS["bomb 10000x10000"])
    assert "damaged" in msg(BAD_INPUTS["truncated png"])


@pytest.mark.parametrize("name", ["bomb 20000x20000", "bomb 10000x10000", "just over the limit",
                                  "huge thin"])
def test_oversized_images_are_refused_from_the_header_without_decoding(name, monkeypatch):
    """A decompression bomb costs nothing: no pixel is decoded (bench/bench_images.py times it)."""
    from PIL import ImageFile

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    with pytest.raises(ImageError, match="megapixels"):
        load_image(BAD_INPUTS[name])


def test_pixel_limit_is_exact():
    assert MAX_PIXELS == 40_000_000
    with pytest.raises(ImageError):
        load_image(_png_header_only(40_000_001, 1))


def test_image_error_is_value_error_and_not_other_types():
    assert issubclass(ImageError, ValueError)
    for bad in (None, "a string", 12, bytearray(b"xx")):
        with pytest.raises(ImageError):
            load_image(bad)  # type: ignore[arg-type]


def test_helpers():
    big = np.zeros((1000, 500, 3), np.uint8)
    assert fit_within(big, 512).shape == (512, 256, 3)
    assert fit_within(RGB, 512) is RGB
    assert to_gray(RGB).shape == RGB.shape[:2]
    assert ensure_rgb(np.full((2, 2), 300.0)).max() == 255
    np.testing.assert_array_equal(load_image(encode_png(RGB)), RGB)
