"""The image picker in the sidebar, shared by every page."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import streamlit as st

from cnnviz import (
    DEFAULT_SAMPLE,
    SAMPLES,
    UPLOAD_EXTENSIONS,
    ImageError,
    ensure_rgb,
    load_image,
)
from ui import state

__all__ = [
    "CANVAS_SIZE",
    "SOURCES",
    "UPLOAD_LIMIT_MB",
    "escape_markdown",
    "image_picker",
]

#: Upload limit in MB. The browser refuses larger files; the server enforces
#: ``server.maxUploadSize`` (same value, in .streamlit/config.toml); we check again here.
UPLOAD_LIMIT_MB = 20
SOURCES = ("Sample", "Upload", "Draw", "Camera")
CANVAS_SIZE = 280  # 10x MNIST's 28 pixels
CANVAS_STROKE = 20


#: What Streamlit's markdown could read as syntax inside a sentence: emphasis, code, links and
#: images, HTML and autolinks (``<…>``, ``http://``, ``a@b.c``), ``$`` LaTeX, ``:red[…]`` and
#: ``:icon:``, ``~~`` strikethrough, ``&amp;`` entities. Dots, hyphens and ``#`` only matter
#: at the start of a line (handled below), so "my-photo.png" stays as it is.
_MARKDOWN_SPECIALS = frozenset("\\`*_[]()<>$:~|&@")


def escape_markdown(text: str) -> str:
    """``text`` (a file name: anything a user typed) as Streamlit markdown that shows it
    literally, inside a sentence or at the start of a caption. Streamlit already escapes
    HTML; this stops the rest, and line breaks become spaces."""
    text = " ".join(str(text).split())
    text = "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in text)
    text = re.sub(r"(?i)\b(www)\.", r"\1\\.", text)  # no "www.example.com" autolink
    text = re.sub(r"^([#+\-])", r"\\\1", text)  # no heading or list: "# x.png", "- x.png"
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", text)  # nor a numbered list: "1. x.png"


def _sample_label(name: str) -> str:
    sample = SAMPLES[name]
    return f"{sample.group}: {sample.label}"


def _seed_sample_from_url() -> None:
    """``?sample=NAME`` chooses the sample when the page opens; a bad name is reported."""
    if state.SAMPLE in st.session_state:
        return
    requested = st.query_params.get(state.SAMPLE)
    if requested is None:
        st.session_state[state.SAMPLE] = DEFAULT_SAMPLE
    elif requested in SAMPLES:
        st.session_state[state.SAMPLE] = requested
    else:
        st.session_state[state.SAMPLE] = DEFAULT_SAMPLE
        st.session_state[state.URL_NOTICE] = (
            "The link asked for a sample image that does not exist, so the default image is shown."
        )
        del st.query_params[state.SAMPLE]


def _sample_to_url() -> None:
    name = st.session_state[state.SAMPLE]
    if name == DEFAULT_SAMPLE:
        st.query_params.pop(state.SAMPLE, None)
    else:
        st.query_params[state.SAMPLE] = name


def _forget_upload_error() -> None:
    """A refused upload's message belongs to that attempt: it goes when the user removes the
    file or turns to another source (it used to stay under the Sample picker)."""
    st.session_state[state.IMAGE_ERROR] = None


def _on_upload() -> None:
    uploaded = st.session_state.get(state.UPLOAD)
    if uploaded is None:  # the file was removed: the image stays, its error goes
        _forget_upload_error()
        return
    data = uploaded.getvalue()
    if len(data) > UPLOAD_LIMIT_MB * 2**20:
        st.session_state[state.IMAGE_ERROR] = (
            f"“{escape_markdown(uploaded.name)}” is {len(data) / 2**20:.1f} MB; the limit is "
            f"{UPLOAD_LIMIT_MB} MB."
        )
        return
    try:
        pixels = load_image(data)
    except ImageError as err:
        st.session_state[state.IMAGE_ERROR] = (
            f"“{escape_markdown(uploaded.name)}” was not loaded. {err}")
        return
    state.set_image(pixels, uploaded.name, "upload", uploaded.name)


def _on_camera() -> None:
    shot = st.session_state.get(state.CAMERA)
    if shot is None:  # the shot was cleared: the image stays
        _forget_upload_error()
        return
    try:
        pixels = load_image(shot.getvalue())
    except ImageError as err:
        st.session_state[state.IMAGE_ERROR] = f"The webcam shot was not loaded. {err}"
        return
    state.set_image(pixels, "Webcam shot", "camera", "camera")


def _adopt_drawing(image_data: np.ndarray | None) -> None:
    """Use the canvas drawing as the current image when it has ink and has changed."""
    if image_data is None:
        return
    rgba = np.asarray(image_data)
    if rgba.ndim != 3 or rgba.shape[2] < 3:
        return
    rgb = rgba[:, :, :3].astype(np.float32)
    if rgba.shape[2] == 4:  # composite onto the black background
        rgb = rgb * (rgba[:, :, 3:4].astype(np.float32) / 255.0)
    rgb = ensure_rgb(rgb)
    if rgb.max() == 0:  # an empty canvas keeps the previous image
        return
    digest = hashlib.sha1(rgb.tobytes()).digest()
    if st.session_state.get(state.CANVAS_DIGEST) == digest:
        return
    st.session_state[state.CANVAS_DIGEST] = digest
    state.set_image(rgb, "Your drawing", "draw", "drawing")


def image_picker() -> state.CurrentImage:
    """Draw the sidebar picker and return the current image."""
    with st.sidebar:
        st.subheader("Image")
        source = st.segmented_control(
            "Image source", SOURCES, default="Sample", required=True, key=state.SOURCE,
            label_visibility="collapsed", on_change=_forget_upload_error,
        )
        if source == "Sample":
            _seed_sample_from_url()
            name = st.selectbox(
                "Sample image", list(SAMPLES), format_func=_sample_label, key=state.SAMPLE,
                on_change=_sample_to_url,
                help="Photographs from scikit-image, real MNIST digits, and the small "
                "matrices of the classic worked examples. No network needed.",
            )
            current = st.session_state.get(state.IMAGE)
            if current is None or current.source != "sample" or current.name != name:
                state.set_sample(name)
        elif source == "Upload":
            st.file_uploader(
                "Upload an image", type=list(UPLOAD_EXTENSIONS), key=state.UPLOAD,
                on_change=_on_upload, max_upload_size=UPLOAD_LIMIT_MB,
                help="PNG, JPEG, WebP, BMP, GIF (first frame) or TIFF, up to "
                f"{UPLOAD_LIMIT_MB} MB and 40 megapixels.",
            )
        elif source == "Draw":
            _draw_canvas()
        else:
            st.camera_input("Take a webcam shot", key=state.CAMERA, on_change=_on_camera,
                            help="The shot becomes the image of every page. It stays in "
                            "this browser session only.")

        url_notice = st.session_state.pop(state.URL_NOTICE, None)
        if url_notice:
            st.warning(url_notice, icon=":material/link_off:")
        error = st.session_state.get(state.IMAGE_ERROR)
        if error:
            st.error(error, icon=":material/error:")
        image = state.current_image()
        data = state.image_bytes(image)
        st.image(data, caption=_caption(image), width="stretch",
                 output_format=state.image_format(data),
                 alt=f"The image every page works on: {state.describe(image)}")
        notice = st.session_state.get(state.IMAGE_NOTICE)
        if notice:
            st.caption(notice)
    return image


def _draw_canvas() -> None:
    # Imported here: the component registers itself on import, which needs a running app.
    from streamlit_drawable_canvas import st_canvas

    st.caption("Draw a digit: white ink on black, like MNIST.")
    result = st_canvas(
        stroke_width=CANVAS_STROKE, stroke_color="#FFFFFF", background_color="#000000",
        height=CANVAS_SIZE, width=CANVAS_SIZE, drawing_mode="freedraw",
        return_image_data=True, key=state.CANVAS,
    )
    _adopt_drawing(result.image_data)


def _caption(image: state.CurrentImage) -> str:
    h, w = image.pixels.shape[:2]
    return f"{escape_markdown(image.label)} · {w}×{h}"
