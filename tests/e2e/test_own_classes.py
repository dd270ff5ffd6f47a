"""Your own classes in Chromium: two classes from the shapes set, Train, the accuracy, then
Grad-CAM on the new network; a webcam shot from Chromium's fake camera; and a second browser
session that never sees the first one's network."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench.appserver import CHROMIUM_FLAGS
from tests.e2e.conftest import CHROMIUM
from tests.e2e.helpers import assert_no_exception, choose_source, image_caption, open_app, wait_idle

pytestmark = pytest.mark.e2e

WAIT = 90_000  # ms: features of a few dozen images and a CNN from scratch on 2 busy cores
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def _main(page: Page):
    return page.get_by_test_id("stMain")


def _two_shape_classes_trained(page: Page, url: str, shot=None) -> str:
    """Open the page, start from the shapes (5 a class), keep circle and square, Train;
    returns the new network's name from the Grad-CAM link."""
    open_app(page, f"{url}/own_classes")
    main = _main(page)
    main.get_by_text("Start from a ready-made set").click()
    per_class = main.get_by_label("Images per class")
    per_class.fill("5")
    per_class.press("Enter")
    wait_idle(page)
    main.get_by_role("button", name="Use this set (replaces your classes)").click()
    wait_idle(page)
    expect(main.get_by_text("Your classes · 20 images")).to_be_visible(timeout=WAIT)
    for _ in range(2):  # remove triangle and star: the last class each time
        main.get_by_role("button", name="Remove class").last.click()
        wait_idle(page)
    expect(main.get_by_text("Your classes · 10 images")).to_be_visible(timeout=WAIT)
    main.get_by_role("button", name="Train", exact=True).click()
    expect(main.get_by_text(re.compile(r"Trained on 10 images in \d+\.\d s"))).to_be_visible(
        timeout=WAIT)
    expect(main.get_by_text(re.compile("held-out class would score 50%"))).to_be_visible(
        timeout=WAIT)
    # the CNN from scratch trains beside the page, and its numbers join the head's
    values = main.get_by_test_id("stMetricValue")
    expect(values).to_have_count(2, timeout=WAIT)
    expect(values.nth(1)).to_have_text(re.compile(r"^\d+%$"), timeout=WAIT)
    wait_idle(page, WAIT)
    assert_no_exception(page)
    metrics = values.all_inner_texts()
    assert all(re.fullmatch(r"\d+%", m) for m in metrics), metrics
    expect(main.get_by_test_id("stPlotlyChart")).to_have_count(2, timeout=WAIT)
    if shot is not None:
        shot("trained")
    main.get_by_role("button", name="Grad-CAM of each of your classes").click()
    wait_idle(page)
    expect(page.locator("h1").first).to_contain_text("Grad-CAM", timeout=WAIT)
    match = re.search(r"model=(own-[0-9a-f]{9,})", page.url)
    assert match, page.url
    return match.group(1)


def test_two_shape_classes_train_and_grad_cam_explains_them(page: Page, app_url, shot):
    name = _two_shape_classes_trained(page, app_url, shot)
    main = _main(page)
    expect(main.get_by_role("combobox", name="Model")).to_have_value(
        "Yours (trained here): circle, square · efficientnet_lite0", timeout=WAIT)
    expect(main.get_by_role("combobox", name="Explain the class")).to_have_value(
        re.compile(r"predicted: (circle|square) \(\d+\.\d%\)"), timeout=WAIT)
    expect(main.get_by_role("heading", name=re.compile("Grad-CAM of “(circle|square)”"))
           ).to_be_visible(timeout=WAIT)
    assert_no_exception(page)
    assert not main.get_by_test_id("stAlertContentError").count()
    shot("gradcam-own")
    # a second user, in a browser context of their own, does not have that network
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        stranger = other.new_page()
        open_app(stranger, f"{app_url}/gradcam?model={name}")
        expect(_main(stranger).get_by_text("The link had values this page cannot use")
               ).to_be_visible(timeout=WAIT)
        expect(stranger.get_by_text(re.compile(r"Yours \(trained here\)"))).to_have_count(0)
        assert_no_exception(stranger)
        open_app(stranger, f"{app_url}/own_classes")
        expect(_main(stranger).get_by_text("Your classes · 0 images")).to_be_visible(
            timeout=WAIT)
    finally:
        other.close()


@pytest.fixture
def camera_page(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                         args=[*CHROMIUM_FLAGS, *FAKE_CAMERA])
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  permissions=["camera"])
    try:
        yield context.new_page()
    finally:
        context.close()
        browser.close()


def test_a_webcam_shot_becomes_the_image_and_joins_a_class(camera_page: Page, app_url):
    page = camera_page
    open_app(page, app_url)
    choose_source(page, "Camera")
    take = page.get_by_test_id("stSidebar").get_by_role("button", name="Take Photo")
    expect(take).to_be_enabled(timeout=WAIT)
    take.click()
    wait_idle(page)
    expect(image_caption(page)).to_contain_text(re.compile(r"Webcam shot · \d+×\d+"),
                                                timeout=WAIT)
    assert_no_exception(page)
    # the same fake camera on the Your own classes page adds a shot to Class 1
    open_app(page, f"{app_url}/own_classes")
    main = _main(page)
    main.get_by_text("Webcam: add a shot to a class").click()
    take = main.get_by_role("button", name="Take Photo")
    expect(take).to_be_enabled(timeout=WAIT)
    take.click()
    wait_idle(page)
    expect(main.get_by_text("Your classes · 1 image")).to_be_visible(timeout=WAIT)
    expect(main.get_by_text("webcam shot").first).to_be_visible(timeout=WAIT)
    assert_no_exception(page)


def _choose(page: Page, box, option: str, attempts: int = 3) -> None:
    """Pick ``option`` in a select box by typing it, as a user does: the box filters its
    options as one types. On a long run's busy server the first click can land while the
    page is still drawing and the list never opens; like a user, close it and try again."""
    for attempt in range(attempts):
        wait_idle(page)
        box.click()
        box.fill(option)
        choice = page.get_by_role("option", name=option, exact=True)
        try:
            choice.click(timeout=15_000)
            break
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
    wait_idle(page)


def test_a_fine_tuned_resnet18_state_dict_uploads_and_loads(page: Page, app_url, tmp_path):
    """A 45 MB file (over the images' 20 MB) through the real upload path: the server and
    the uploader take it, load_weights reads it, and the network joins the model list."""
    import io

    import torch

    from cnnviz import get_spec

    state = get_spec("resnet18").build().state_dict()
    state["fc.weight"], state["fc.bias"] = torch.zeros(3, 512), torch.zeros(3)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    assert len(data) > 40 * 2**20
    open_app(page, f"{app_url}/own_classes")
    main = _main(page)
    main.get_by_text("Load a head or your own weights").click()
    main.get_by_role("radio", name="A state dict").click()
    wait_idle(page)
    architecture = main.get_by_role("combobox", name="Architecture")
    expect(architecture).to_be_visible(timeout=WAIT)
    _choose(page, architecture, "resnet18")
    expect(architecture).to_have_value("resnet18", timeout=WAIT)
    names = main.get_by_label(re.compile("Class names, separated by commas"))
    names.fill("ant, bee, wasp")
    names.press("Enter")
    wait_idle(page)
    main.get_by_test_id("stFileUploaderDropzoneInput").last.set_input_files(files=[
        {"name": "finetuned.pth", "mimeType": "application/octet-stream", "buffer": data}])
    wait_idle(page, WAIT)
    main.get_by_role("button", name="Load", exact=True).click()
    expect(main.get_by_text(re.compile(r"Loaded: “Yours \(weights file\): ant, bee, wasp · "
                                       r"resnet18”"))).to_be_visible(timeout=WAIT)
    assert_no_exception(page)
