"""Decoding user images safely, and the small image helpers every page shares.

Images in cnnviz are ``uint8`` arrays of shape ``(H, W, 3)``, RGB. Everything a
user can upload passes through :func:`load_image`, which either returns such an
array or raises :class:`ImageError` with a sentence a student understands.

The order of operations follows the safe recipe for Pillow: open (reads only
the header), check the size, decode, apply EXIF orientation, convert to RGB.
A decompression bomb is therefore refused before a single pixel is decoded.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps

__all__ = [
    "ACCEPTED_FORMATS",
    "COLORMAPS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "UPLOAD_EXTENSIONS",
    "ImageError",
    "colormap_stops",
    "encode_for_display",
    "encode_png",
    "ensure_rgb",
    "fit_within",
    "heat_tile",
    "load_image",
    "overlay",
    "to_gray",
]

#: Images with more pixels than this are refused from their header alone.
MAX_PIXELS = 40_000_000
#: Files larger than this are refused before Pillow sees them (bytes).
MAX_FILE_BYTES = 50 * 1024 * 1024
#: The formats the app accepts, as Pillow names them. Anything else (PDF, SVG,
#: EPS, text that happens to parse as a rare format) is refused.
ACCEPTED_FORMATS = ("PNG", "JPEG", "MPO", "WEBP", "BMP", "DIB", "GIF", "TIFF")
#: File extensions offered in the upload dialog.
UPLOAD_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "bmp", "gif", "tif", "tiff")


class ImageError(ValueError):
    """A user-supplied image cannot be used. ``str(err)`` is a sentence for the user."""


def load_image(data: bytes) -> np.ndarray:
    """Decode an uploaded file into an RGB image.

    Args:
        data: the raw bytes of a PNG, JPEG, WebP, BMP, GIF or TIFF file.

    Returns:
        ``uint8`` array of shape ``(H, W, 3)``, RGB. EXIF orientation is applied,
        transparency is composited onto white, 16-bit / palette / CMYK / grayscale
        images are mapped to RGB, and only the first frame of an animation is used.

    Raises:
        ImageError: for empty, random, truncated or unsupported data (text, SVG,
            PDF, …) and for images over :data:`MAX_PIXELS` pixels. No other
            exception type escapes.
    """
    try:
        return _load_image(data)
    except ImageError:
        raise
    except Image.DecompressionBombError as err:
        raise ImageError(_too_large_message()) from err
    except MemoryError as err:
        raise ImageError(_too_large_message()) from err
    except Exception as err:  # noqa: BLE001 - the contract: only ImageError escapes
        raise ImageError(
            "This file could not be read as an image: it may be damaged or cut short. "
            "Try saving it again as PNG or JPEG."
        ) from err


def _too_large_message(width: int | None = None, height: int | None = None) -> str:
    size = f" ({width} × {height} = {width * height / 1e6:.1f} megapixels)" if width else ""
    return (
        f"This image is too large{size}. The limit is {MAX_PIXELS / 1e6:.0f} megapixels: "
        "please shrink it before uploading."
    )


def _unidentified_message(data: bytes) -> str:
    """Say what the file seems to be, for the common mistakes."""
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        return "This is a PDF document, not an image. Export the page as PNG or JPEG."
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return (
            "This is an SVG drawing, which is made of shapes rather than pixels. "
            "Export it as PNG first."
        )
    return (
        "This file is not an image we can read. Upload a PNG, JPEG, WebP, BMP, GIF or TIFF file."
    )


def _load_image(data: bytes) -> np.ndarray:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageError("No image data was given: expected the bytes of an image file.")
    data = bytes(data)
    if len(data) == 0:
        raise ImageError("The file is empty: there is no image in it.")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(
            f"The file is {len(data) / 2**20:.0f} MB; the limit is "
            f"{MAX_FILE_BYTES / 2**20:.0f} MB. Please upload a smaller image."
        )
    with warnings.catch_warnings():
        # We check the size ourselves, below, against a stricter limit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Pillow's notes on damaged metadata ("Corrupt EXIF data", "Truncated File Read", …):
        # the file is either refused with a sentence or decoded, and either way a server log
        # line per upload would tell its operator nothing.
        warnings.simplefilter("ignore", UserWarning)
        try:
            Image.init()  # register every plugin, so that the format list below is known
            formats = [f for f in ACCEPTED_FORMATS if f in Image.OPEN]
            img = Image.open(io.BytesIO(data), formats=formats)
        except Image.UnidentifiedImageError as err:
            raise ImageError(_unidentified_message(data)) from err

        width, height = img.size
        if width < 1 or height < 1:
            raise ImageError("This image has no pixels (its width or height is 0).")
        if width * height > MAX_PIXELS:
            raise ImageError(_too_large_message(width, height))

        img.seek(0)  # the first frame of an animation
        img.load()  # decodes; a truncated file raises OSError here
        try:
            img = ImageOps.exif_transpose(img)
        except Exception:  # noqa: BLE001 - a broken EXIF block should not lose the image
            pass
    return _to_rgb(img)


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any Pillow mode -> uint8 (H, W, 3) RGB; transparency composited onto white."""
    mode = img.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.float64)
        # 16-bit samples: 65535 -> 255. 32-bit 'I' images from 16-bit PNGs use the same range.
        gray = np.clip(np.round(arr / 257.0), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        arr = np.nan_to_num(arr, nan=0.0, posinf=0.0, neginf=0.0)
        if arr.size and arr.max() <= 1.0 and arr.min() >= 0.0:
            arr = arr * 255.0
        gray = np.clip(np.round(arr), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)

    has_alpha = mode in ("RGBA", "LA", "La", "RGBa", "PA") or (
        mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
    elif mode != "RGB":
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.uint8)
    return np.ascontiguousarray(arr[:, :, :3])


def fit_within(image: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink ``image`` (H, W[, C]) so that its longer side is at most ``max_side``.

    Keeps the aspect ratio; uses area interpolation, which avoids aliasing when
    shrinking. Images already small enough are returned unchanged.
    """
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def to_gray(image: np.ndarray) -> np.ndarray:
    """``uint8 (H, W, 3)`` (or ``(H, W, 4)``, alpha dropped) -> luminance ``uint8 (H, W)``
    (ITU-R BT.601 weights); ``(H, W)`` and ``(H, W, 1)`` are grey already. ValueError for any
    other shape."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 3), got {image.shape}")
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3], dtype=np.uint8),
                        cv2.COLOR_RGB2GRAY)


def ensure_rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` or ``(H, W, 1|3|4)`` of any dtype in [0, 255] -> ``uint8 (H, W, 3)``.

    Grey is repeated over three channels, an alpha channel is dropped, other dtypes are
    rounded and clipped. ValueError for any other shape.
    """
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an image of shape (H, W) or (H, W, 3), got {np.shape(image)}")
    if arr.dtype != np.uint8:
        arr = np.clip(np.round(arr.astype(np.float64)), 0, 255).astype(np.uint8)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    return np.ascontiguousarray(arr[:, :, :3])


#: Pictures with more pixels than this are shown as JPEG (a tenth of the bytes of a PNG for a
#: photo); smaller ones, such as teaching matrices, as PNG so every pixel is exact.
JPEG_ABOVE_PIXELS = 128 * 128


def encode_for_display(image: np.ndarray) -> tuple[bytes, str]:
    """``uint8 (H, W, 3)`` -> (file bytes, MIME type) for a browser: JPEG (quality 90) for
    pictures over JPEG_ABOVE_PIXELS pixels, lossless PNG for smaller ones."""
    bgr = cv2.cvtColor(np.ascontiguousarray(ensure_rgb(image)), cv2.COLOR_RGB2BGR)
    if image.shape[0] * image.shape[1] > JPEG_ABOVE_PIXELS:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
        mime = "image/jpeg"
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        mime = "image/png"
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB array
        raise RuntimeError("image encoding failed")
    return buf.tobytes(), mime


def encode_png(image: np.ndarray) -> bytes:
    """``uint8 (H, W)`` or ``(H, W, 3)`` -> PNG file bytes (for downloads)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


#: The colour maps ``overlay`` accepts: OpenCV's, by lower-case name ("jet", "turbo", ...).
COLORMAPS: dict[str, int] = {
    name[len("COLORMAP_"):].lower(): getattr(cv2, name)
    for name in dir(cv2) if name.startswith("COLORMAP_")
}


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.5,
            colormap: str = "viridis") -> np.ndarray:
    """A heat map drawn over a picture, as Grad-CAM figures show it.

    image: uint8 (H, W, 3) RGB or (H, W) grey (repeated over three channels);
    heat: float (h, w) in [0, 1] (values outside are clipped, NaN counts as 0), resized
    bilinearly to (H, W); alpha: weight of the colours, 0 (picture only) to 1 (colours only);
    colormap: an OpenCV colour map by name, see ``COLORMAPS``.
    Returns uint8 (H, W, 3) RGB: (1 - alpha) * image + alpha * colormap(heat).
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colour map {colormap!r}; choose one of "
                         f"{', '.join(sorted(COLORMAPS))}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    heat = np.asarray(heat, dtype=np.float32)
    if heat.ndim != 2 or heat.size == 0:
        raise ValueError(f"the heat map must be 2-D (h, w), got shape {heat.shape}")
    rgb = ensure_rgb(image)  # (H, W, 3)
    height, width = rgb.shape[:2]
    heat = np.clip(np.nan_to_num(heat, nan=0.0), 0.0, 1.0)
    if heat.shape != (height, width):  # cv2 wants (width, height)
        heat = cv2.resize(heat, (width, height), interpolation=cv2.INTER_LINEAR)
    levels = np.round(heat * 255.0).astype(np.uint8)
    colours = cv2.cvtColor(cv2.applyColorMap(levels, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)
    blended = (1.0 - alpha) * rgb.astype(np.float32) + alpha * colours.astype(np.float32)
    return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def colormap_stops(colormap: str, n: int = 11) -> tuple[tuple[float, str], ...]:
    """An OpenCV colour map (see ``COLORMAPS``) as ``n`` explicit Plotly colour-scale stops
    ``(position 0..1, "rgb(r, g, b)")``, so a colour bar shows the colours ``overlay`` draws."""
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colour map {colormap!r}; choose one of "
                         f"{', '.join(sorted(COLORMAPS))}")
    levels = np.round(np.linspace(0, 255, n)).astype(np.uint8)[:, None]  # (n, 1)
    rgb = cv2.cvtColor(cv2.applyColorMap(levels, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)[:, 0]
    return tuple((float(i) / (n - 1), f"rgb({r}, {g}, {b})")
                 for i, (r, g, b) in enumerate(rgb.tolist()))


def heat_tile(heat: np.ndarray, colormap: str = "viridis", side: int = 96) -> np.ndarray:
    """A small map (h, w) in [0, 1] coloured with an OpenCV colour map and enlarged by nearest
    neighbour to about ``side`` pixels (shrunk by area averaging if it is larger), so every cell
    of a coarse map stays a visible square: uint8 (H', W', 3)."""
    heat = np.asarray(heat, dtype=np.float32)
    h, w = heat.shape
    rgb = overlay(np.zeros((h, w, 3), np.uint8), heat, alpha=1.0, colormap=colormap)
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # cv2 wants (width, height)
    interpolation = cv2.INTER_NEAREST if scale >= 1 else cv2.INTER_AREA
    return cv2.resize(rgb, size, interpolation=interpolation)
