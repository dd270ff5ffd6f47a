"""Isolation between browser sessions, and where uploads go, in the real server.

- Two browser contexts (two users) upload different images: a drawn-looking digit and a
  photograph. Each sees only its own file name, picture size and top-3 prediction (worked
  out here with torch on the same bytes), on Home and on Models; a network one of them trains
  on the Training page never appears for the other.
- Nothing a user uploads is written to disk. Streamlit 1.67 keeps uploads in memory
  (``MemoryUploadedFileManager``: a dict per session, dropped when the session ends) and
  serves pictures from ``MemoryMediaFileStorage``; cnnviz decodes the bytes in memory. The
  one place bytes can touch the disk is Starlette's multipart parser, which spools a part
  over 1 MB into an anonymous ``tempfile.SpooledTemporaryFile`` (unnamed, and closed in the
  same request by ``upload.file.close()``). The test uploads a small and a 1.2 MB file that
  carry a random token and then looks for the token in every file the server process still
  has open and in every file changed since under the repository, the temporary directory and
  the home directory. A planted file proves that the search finds the token.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import stat
import struct
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from playwright.sync_api import Page, expect

from cnnviz import fit_within, get_spec, load_image, load_sample, predict
from tests.e2e.helpers import (
    assert_no_exception,
    choose_source,
    image_caption,
    open_app,
    sidebar,
    wait_idle,
)
from ui.state import WORKING_SIDE

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60_000  # ms; training one epoch and reruns on a busy 2-core machine


def _png(pixels: np.ndarray, **info: str) -> bytes:
    meta = PngImagePlugin.PngInfo()
    for key, value in info.items():
        meta.add_text(key, value)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", pnginfo=meta)
    return buf.getvalue()


def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _top3_texts(data: bytes, model: str = "digits", k: int = 3) -> list[str]:
    """What the page's prediction bars say for this file: 'label · 12.3%', most likely first,
    computed here the way the app does (decode, shrink to the working size, the model)."""
    pixels = fit_within(load_image(data), WORKING_SIDE)
    probs = predict(model, pixels)
    classes = get_spec(model).class_names
    order = np.argsort(-probs, kind="stable")[:k]
    return [f"{classes[i]} · {probs[i]:.1%}" for i in order]


def _upload(page: Page, name: str, data: bytes, mime: str) -> None:
    sidebar(page).get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])
    wait_idle(page)
    expect(image_caption(page)).to_contain_text(name, timeout=WAIT)


HEADINGS = {"Home": "cnnviz", "Models": "Models", "Training": "Training"}


def _go(page: Page, title: str) -> None:
    """Change page through the sidebar navigation: the same session, unlike a new URL."""
    nav = page.get_by_test_id("stSidebarNav")
    more = nav.get_by_test_id("stSidebarNavViewButton")
    if more.count() and more.inner_text().startswith("View") and "more" in more.inner_text():
        more.click()  # a long page list is folded after the first ten
    nav.get_by_text(title, exact=True).click()
    wait_idle(page)
    expect(page.locator("h1").first).to_contain_text(HEADINGS[title], timeout=WAIT)


def _bars(page: Page) -> list[str]:
    """The prediction bars of the page ('7 · 98.1%'), in order; not the training progress."""
    texts = page.get_by_test_id("stMain").get_by_test_id("stProgress").all_inner_texts()
    texts = [re.sub(r"\s+", " ", t).strip() for t in texts]
    return [t for t in texts if re.fullmatch(r"\S+ · \d+\.\d%", t)]


def test_two_sessions_never_see_each_others_image_prediction_or_model(browser, app_url,
                                                                       browser_context_args):
    digit = cv2.resize(load_sample("digit_3"), (112, 112), interpolation=cv2.INTER_NEAREST)
    files = {
        "a": ("a-digit-three.png", _png(digit), "image/png"),
        "b": ("b-rocket-photo.jpg", _jpeg(load_sample("rocket")), "image/jpeg"),
    }
    expected = {who: _top3_texts(data) for who, (_, data, _) in files.items()}
    assert expected["a"][0].startswith("3 · ") and expected["a"] != expected["b"]
    # Home and Models open on the network that fits an upload: EfficientNet-Lite0, top 5
    shown = {who: _top3_texts(data, "efficientnet_lite0", 5)
             for who, (_, data, _) in files.items()}
    assert shown["a"] != shown["b"]
    captions = {}
    for who, (name, data, _) in files.items():
        h, w = fit_within(load_image(data), WORKING_SIDE).shape[:2]
        captions[who] = f"{name} · {w}×{h}"
    assert captions["b"] == "b-rocket-photo.jpg · 512×342"  # shrunk from 640×427

    contexts = {who: browser.new_context(**browser_context_args) for who in files}
    try:
        pages = {who: ctx.new_page() for who, ctx in contexts.items()}
        a, b = pages["a"], pages["b"]
        # A trains a network (one quick epoch on 512 images), then uploads its digit
        open_app(a, f"{app_url}/training?epochs=1&images=512")
        a.get_by_role("button", name=re.compile(r"Train$")).click()
        expect(a.get_by_text(re.compile(r"Finished 1 epoch in \d+ s"))).to_be_visible(
            timeout=WAIT)
        choose_source(a, "Upload")
        _upload(a, *files["a"])
        expect(a.get_by_text("Your trained network")).to_be_visible(timeout=WAIT)
        # B uploads a photograph on Home
        open_app(b, app_url)
        choose_source(b, "Upload")
        _upload(b, *files["b"])

        for who, other in (("a", "b"), ("b", "a")):
            page = pages[who]
            for title in ("Home", "Models"):
                _go(page, title)
                expect(image_caption(page)).to_have_text(captions[who], timeout=WAIT)
                # exactly its own five bars (waiting while the page still draws)
                expect(page.get_by_test_id("stMain").get_by_test_id("stProgress")).to_have_text(
                    shown[who], timeout=WAIT)
                body = page.locator("body").inner_text()
                assert files[other][0] not in body, (who, title)
            assert_no_exception(page)

        # the trained network is A's alone: B's Training page shows only the bundled one
        _go(b, "Training")
        expect(b.get_by_text("The bundled digits network")).to_be_visible(timeout=WAIT)
        expect(b.get_by_text("Your trained network")).to_have_count(0)
        expect(b.get_by_text("Your network", exact=True)).to_have_count(0)
        expect(b.get_by_test_id("stMain").get_by_test_id("stProgress")).to_have_text(
            expected["b"], timeout=WAIT)
        _go(a, "Training")
        expect(a.get_by_text("Your trained network")).to_be_visible(timeout=WAIT)
        # the run's status bar, the trained network's three bars, then the bundled network's
        expect(a.get_by_test_id("stMain").get_by_test_id("stProgress")).to_have_count(
            7, timeout=WAIT)
        bars = _bars(a)
        assert len(bars) == 6 and bars[3:] == expected["a"], bars
        expect(image_caption(a)).to_have_text(captions["a"])
        assert_no_exception(a)
        assert_no_exception(b)
    finally:
        for ctx in contexts.values():
            ctx.close()


# --- uploads and the disk ---------------------------------------------------------------------

#: what the scan skips: installed packages, git objects, and the browser's own profile and
#: artifacts (the browser is the user's machine; the claim is about the server)
SKIP_DIRS = {".venv", ".git", "site-packages", "node_modules", "__pycache__", ".hypothesis"}
SCAN_LIMIT = 64 * 2**20  # bytes: larger files are not read (uploads are at most 20 MB)


def _server_pid(app_url: str) -> int:
    """The ``streamlit run`` process serving ``app_url`` (found by its port argument)."""
    port = str(urlparse(app_url).port)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(argv) and port.encode() in argv:
            return int(entry.name)
    raise AssertionError(f"no streamlit process on port {port}")


def _open_files(pid: int) -> dict[str, str]:
    """fd path -> what it points to, for the regular files the process has open."""
    found = {}
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            target = os.readlink(fd)
            if os.path.isfile(fd):
                found[str(fd)] = target
        except OSError:
            continue
    return found


HOME_DIRS = (".streamlit", ".cache", ".config", ".local", ".torch")


def _walk(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and "playwright" not in d]
        for name in filenames:
            yield Path(dirpath, name)


def _changed_files(roots: list[Path], since: float) -> list[Path]:
    """Regular files under ``roots``, and the home directory's own files, modified since."""
    candidates = [*(p for root in roots for p in _walk(root)), *Path.home().iterdir()]
    found = []
    for path in candidates:
        try:
            info = path.lstat()
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_mtime >= since and info.st_size <= SCAN_LIMIT:
            found.append(path)
    return found


def _holds(path: Path | str, token: bytes) -> bool:
    try:
        with open(path, "rb") as f:
            return token in f.read(SCAN_LIMIT)
    except OSError:  # gone meanwhile, or not ours to read
        return False


def _bmp_with_token(side: int, token: bytes) -> bytes:
    """A valid 24-bit BMP of side x side noise (over 1 MB, so Starlette spools it) whose
    raw pixel bytes contain ``token``."""
    noise = np.random.default_rng(5).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, format="BMP")
    data = bytearray(buf.getvalue())
    offset = struct.unpack_from("<I", data, 10)[0]  # bfOffBits: where the pixels start
    data[offset + 100: offset + 100 + len(token)] = token
    return bytes(data)


def _assert_nowhere_on_disk(pid: int, token: bytes, roots: list[Path], since: float,
                            fds_before: set[str]) -> None:
    """The server process holds no file with ``token`` in it, named or deleted, and no file
    changed under ``roots`` since ``since`` holds it."""
    open_now = _open_files(pid)
    assert not [t for fd, t in open_now.items() if _holds(fd, token)], open_now
    new_deleted = [t for t in open_now.values() if "(deleted)" in t and t not in fds_before]
    assert not new_deleted, new_deleted
    holders = [p for p in _changed_files(roots, since) if _holds(p, token)]
    assert not holders, holders


def test_uploads_are_never_written_to_disk(page: Page, app_url):
    pid = _server_pid(app_url)
    token = b"cnnviz-upload-" + secrets.token_hex(16).encode()
    small = _png(load_sample("coffee")[:64, :64], Comment=token.decode())
    large = _bmp_with_token(640, token)
    assert token in small and token in large and len(large) > 2**20
    assert load_image(large).shape == (640, 640, 3)
    # where a server process could write: its working directory (the repository), the
    # temporary directory, and the home directory's files and application folders (not the
    # toolchains under it: a walk of them costs seconds)
    home = Path.home()
    roots = [ROOT, Path(tempfile.gettempdir()), *[home / d for d in HOME_DIRS]]
    fds_before = set(_open_files(pid).values())
    since = time.time() - 1

    open_app(page, app_url)
    choose_source(page, "Upload")
    _upload(page, "token-small.png", small, "image/png")
    _upload(page, "token-large.bmp", large, "image/bmp")
    expect(image_caption(page)).to_have_text("token-large.bmp · 512×512")
    assert_no_exception(page)

    _assert_nowhere_on_disk(pid, token, roots, since, fds_before)

    # the search works: a planted copy is found
    fd, name = tempfile.mkstemp(prefix="hostile-planted-", suffix=".bmp")
    os.close(fd)
    planted = Path(name)
    try:
        planted.write_bytes(large)
        assert planted in [p for p in _changed_files([planted.parent], since)
                           if _holds(p, token)]
    finally:
        planted.unlink()


def test_your_own_classes_writes_nothing_to_disk(page: Page, app_url):
    """Images added to a class (a small PNG and a spooled 1.2 MB BMP, both with a token),
    their features, the training and the network it makes stay in memory: no file the
    server has open or changed since holds the token."""
    pid = _server_pid(app_url)
    token = b"cnnviz-own-" + secrets.token_hex(16).encode()
    small = _png(load_sample("coffee")[:64, :64], Comment=token.decode())
    large = _bmp_with_token(640, token)
    home = Path.home()
    roots = [ROOT, Path(tempfile.gettempdir()), *[home / d for d in HOME_DIRS]]
    fds_before = set(_open_files(pid).values())
    since = time.time() - 1

    open_app(page, f"{app_url}/own_classes")
    main = page.get_by_test_id("stMain")
    main.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(files=[
        {"name": "token-small.png", "mimeType": "image/png", "buffer": small},
        {"name": "token-large.bmp", "mimeType": "image/bmp", "buffer": large}])
    wait_idle(page)
    expect(main.get_by_text("Your classes · 2 images")).to_be_visible(timeout=WAIT)
    main.get_by_role("button", name="Add the sidebar image").nth(1).click()
    wait_idle(page)
    main.get_by_role("button", name="Add the sidebar image").nth(1).click()  # refused: twice
    wait_idle(page)
    expect(main.get_by_text("is in Class 2 already")).to_be_visible(timeout=WAIT)
    main.get_by_role("button", name="Train", exact=True).click()
    expect(main.get_by_text(re.compile(r"Trained on 3 images in"))).to_be_visible(timeout=WAIT)
    wait_idle(page)
    assert_no_exception(page)

    _assert_nowhere_on_disk(pid, token, roots, since, fds_before)
