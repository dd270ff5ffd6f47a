"""A shared link reproduces the view on every page (issue #7).

A lecturer prepares a link; a student opens it in a fresh browser. The page must show
the settings the link holds (the widgets carry them), keep them in its address (so the
student can pass it on), and say nothing about invalid values. Every page of the catalog
must have a case here, so a new page cannot forget its URL keys.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import assert_no_exception, open_app, sidebar
from ui import catalog

pytestmark = pytest.mark.e2e

# url_path -> (query, {widget key: what the widget shows})
# A widget is found by the class Streamlit gives a keyed element: "st-key-<key>", with the
# key's dots written as dashes.
CASES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "home": ({"sample": "coffee"}, {}),
    "learn": ({"step": "5"}, {}),
    "convolution": (
        {"kernel": "laplacian", "stride": "2", "padding": "same", "dilation": "2", "bias": "0.5"},
        {"conv.kernel": "Laplacian", "conv.stride_h": "2", "conv.stride_w": "2",
         "conv.pad_kind": "same", "conv.dil_h": "2", "conv.bias": "0.50"},
    ),
    "pooling": (
        {"kind": "avg", "size": "3", "stride": "1", "sample": "camera"},
        {"pool.size_h": "3", "pool.size_w": "3", "pool.stride_h": "1"},
    ),
    "models": ({"model": "lenet5"}, {"models.model": "lenet5"}),
    "overview": (
        {"model": "shapes", "scale": "global", "layer": "conv2", "channel": "3"},
        {"overview.layer": "conv2", "overview.channel": "3"},
    ),
    "feature_maps": (
        {"model": "shapes", "layer": "conv3", "channel": "5"},
        {"fmaps.layer": "conv3", "fmaps.channel": "5"},
    ),
    "filters": (
        {"model": "shapes", "layer": "conv3", "filter": "4"},
        {"filters.layer": "conv3", "filters.filter": "4"},
    ),
    "channels": ({"model": "shapes", "layer": "conv2", "channel": "7"}, {}),
    "receptive_fields": (
        {"model": "shapes", "layer": "conv2", "unit": "2,3"},
        {"rf.layer": "conv2", "rf.unit_y": "2", "rf.unit_x": "3"},
    ),
    "architecture": (
        {"model": "resnet18", "h": "128", "neurons": "500"},
        {"arch.model": "resnet18", "arch.h": "128", "arch.neurons": "500"},
    ),
    "gradcam": (
        {"model": "digits", "layer": "conv1", "alpha": "0.7", "colormap": "turbo",
         "method": "saliency", "sample": "camera"},  # digits is not the photo's network
        {"gradcam.layer": "conv1", "gradcam.colormap": "turbo"},
    ),
    "training": (
        {"epochs": "3", "batch": "32"},
        {"train.epochs": "3", "train.batch": "32"},
    ),
    "own_classes": ({"sample": "camera"}, {}),  # no keys of its own: a session's classes
    "layer": (
        {"channels": "8", "filters": "8", "groups": "8", "k": "5", "seed": "7"},
        {"layer.filters": "8", "layer.groups": "8", "layer.seed": "7"},
    ),
    "transposed": (
        {"stride": "3", "padding": "1", "out_pad": "2", "view": "conv", "side": "6"},
        {"tconv.stride_h": "3", "tconv.pad_h": "1", "tconv.out_pad_w": "2"},
    ),
    "backprop": (
        {"descent": "3", "pool": "max", "filters": "2", "target": "laplacian"},
        {"bprop.filters": "2", "bprop.pool": "max 2×2"},  # descent: the steps taken, no widget
    ),
    "quiz": ({"seed": "1234"}, {}),
}


def _check_widget(page: Page, key: str, shows: str) -> None:
    box = page.locator(f'[class~="st-key-{key.replace(".", "-")}"]')
    expect(box).to_have_count(1)
    field = box.locator("input:not([type=checkbox]):not([type=radio]):not([type=hidden])")
    expect(field.or_(box.get_by_text(shows)).first).to_be_visible()  # drawn, either way
    wanted = re.compile(re.escape(shows))
    if field.count() and field.first.get_attribute("type") == "range":  # a slider says it aloud
        expect(field.first).to_have_attribute("aria-valuetext", wanted)
    elif field.count():  # a select box shows its choice, a number box its number
        expect(field.first).to_have_value(wanted)
    else:  # a segmented control and the like show it as text
        expect(box).to_contain_text(shows)


def test_every_page_has_a_case():
    assert {p.url_path for p in catalog.all_pages()} <= set(CASES)


@pytest.mark.parametrize("url_path", [p.url_path for p in catalog.all_pages()])
def test_a_shared_link_reproduces_the_view(page: Page, app_url, url_path):
    query, widgets = CASES[url_path]
    path = "" if url_path == catalog.HOME.url_path else url_path  # Home lives at "/"
    open_app(page, f"{app_url}/{path}?{urlencode(query)}")
    assert urlparse(page.url).path.rstrip("/").endswith(url_path) or url_path == "home"
    expect(page.get_by_test_id("stAlertContentWarning")).to_have_count(0)
    assert_no_exception(page)
    # the address still holds every setting (invalid ones would have been dropped)
    kept = parse_qs(urlparse(page.url).query)
    for key, value in query.items():
        assert kept.get(key) == [value], (key, kept)
    for key, shows in widgets.items():
        _check_widget(page, key, shows)
    if "sample" in query:
        expect(sidebar(page).get_by_test_id("stImageCaption")).not_to_contain_text("Chelsea")
