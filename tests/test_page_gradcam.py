"""The Grad-CAM page in AppTest: targets, layers at their own resolution, URL state, checks."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from cnnviz import MODELS, RECOMMENDED_LAYERS, attribution, load_model, predict
from ui import state

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/gradcam.py"
pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


def _open(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE).run()
    _no_exception(at)
    return at


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [m.value for m in at.subheader]
                     + [c.value for c in at.caption])


def _warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def test_shapes_by_default_explains_the_predicted_class_at_the_recommended_layer():
    at = _open(sample="shape_star")
    assert at.title[0].value == "Grad-CAM"
    assert at.selectbox(key="gradcam.model").value == "shapes"
    assert at.select_slider(key="gradcam.layer").value == RECOMMENDED_LAYERS["shapes"]
    assert at.selectbox(key="gradcam.class").value == -1  # "predicted"
    image = at.session_state[state.IMAGE].pixels
    probs = predict("shapes", image)
    predicted = MODELS["shapes"].class_names[int(np.argmax(probs))]
    assert predicted == "star"
    assert f"Grad-CAM of “{predicted}” at relu4" in _text(at)
    assert at.metric[0].label == f"P({predicted})"
    assert at.metric[0].value == f"{probs.max():.1%}"
    assert not at.error and not _warnings(at)
    assert "untrained" not in _warnings(at)


@pytest.mark.parametrize("layer", ["conv1", "relu2", "conv3", "relu4"])
def test_the_native_map_has_the_layers_spatial_size(layer):
    at = _open(sample="shape_star", layer=layer)
    from ui.cache import attribution as maps
    from ui.cache import networks

    image = at.session_state[state.IMAGE]
    x = networks.model_input("shapes", image)
    native, heat = maps.grad_cam("shapes", image.digest, layer, 3, x)
    size = dict(attribution.cam_layers(load_model("shapes"), (3, 64, 64)))[layer]
    assert native.shape == size and heat.shape == (64, 64)
    assert f"At the layer's own resolution: {size[0]}×{size[1]}" in str(
        at.get("plotly_chart")[1].proto.spec)
    assert at.select_slider(key="gradcam.layer").value == layer


def test_maps_made_from_what_is_kept_per_class_equal_the_librarys():
    """Saliency and Guided Grad-CAM come from the class's kept pass and guided magnitude,
    not from a pass of their own: the maps are the library's, and say when they are kept."""
    from ui.cache import attribution as maps
    from ui.cache import networks

    at = _open(sample="shape_star")
    image = at.session_state[state.IMAGE]
    x = networks.model_input("shapes", image)
    model, tensor = load_model("shapes"), torch.tensor(x)
    for target in (0, 2):
        maps.class_pass.clear()
        maps.guided_magnitude.clear()
        # the first layer computes the class's pieces; the second finds them kept
        for layer, kept_before in (("conv2", False), ("relu4", True)):
            args = ("shapes", image.digest, "guided_grad_cam", target, layer, (), x)
            assert maps.map_is_kept(*args) is kept_before
            heat, delta = maps.method_map(*args)
            assert delta is None and maps.map_is_kept(*args)
            np.testing.assert_array_equal(
                heat, attribution.guided_grad_cam(model, tensor, target, layer))
        heat, _ = maps.method_map("shapes", image.digest, "saliency", target, "", (), x)
        np.testing.assert_allclose(heat, attribution.saliency(model, tensor, target), atol=1e-6)


def test_url_seeds_model_layer_class_and_methods():
    at = _open(sample="digit_3", model="digits", layer="conv2", **{"class": "7"},
               method="saliency,integrated_gradients", steps="8")
    assert at.selectbox(key="gradcam.model").value == "digits"
    assert at.select_slider(key="gradcam.layer").value == "conv2"
    assert at.selectbox(key="gradcam.class").value == 7
    assert at.multiselect(key="gradcam.methods").value == ["saliency", "integrated_gradients"]
    assert at.number_input(key="gradcam.steps").value == 8
    assert "Grad-CAM of “7” at conv2" in _text(at)
    assert "Convergence delta" in _text(at)
    assert not at.error and not _warnings(at)
    assert at.query_params["layer"] == "conv2"


def test_class_by_name_and_changing_the_layer_rewrites_the_url():
    at = _open(sample="shape_star", **{"class": "circle"})
    assert at.selectbox(key="gradcam.class").value == 0
    at.select_slider(key="gradcam.layer").set_value("conv2").run()
    _no_exception(at)
    assert at.query_params["layer"] == "conv2"
    assert at.query_params["class"] == "circle"


@pytest.mark.parametrize("query", [
    {"model": "<script>alert(1)</script>"},
    {"layer": "fc"},
    {"class": "dragon", "alpha": "2", "colormap": "rainbow!!", "method": "grad_cam,evil"},
    {"window": "-4", "stride": "9999", "steps": "0"},
])
def test_hostile_links_fall_back_with_a_notice(query):
    at = _open(sample="shape_star", **query)  # a shape: the shapes network fits it
    assert "defaults are shown" in _warnings(at)
    assert "<script>" not in _warnings(at)
    assert at.selectbox(key="gradcam.model").value == "shapes"
    assert at.select_slider(key="gradcam.layer").value == "relu4"


def test_digits_renders():
    at = _open(sample="digit_7", model="digits")
    assert at.select_slider(key="gradcam.layer").value == "relu2"
    assert "Grad-CAM of “7” at relu2" in _text(at)
    assert not at.error


def test_untrained_resnet_gets_the_badge_and_the_warning():
    at = _open(model="resnet18", method="saliency")
    assert at.select_slider(key="gradcam.layer").value == "layer4"
    assert "random weights" in _warnings(at)
    assert not at.error


def test_switching_model_resets_the_layer_and_class():
    at = _open(sample="shape_star", layer="conv2", **{"class": "square"})
    at.selectbox(key="gradcam.model").set_value("digits").run()
    _no_exception(at)
    assert at.select_slider(key="gradcam.layer").value == "relu2"
    assert at.selectbox(key="gradcam.class").value == -1  # predicted
    assert "layer" not in at.query_params and "class" not in at.query_params
    assert not _warnings(at)


def test_trust_checks_on_demand():
    at = _open(sample="shape_star")
    assert not [m for m in at.metric if m.label.startswith("Peaks")]
    at.button(key="gradcam.point_button").click().run()
    at.button(key="gradcam.rand_button").click().run()
    at.button(key="gradcam.del_button").click().run()
    _no_exception(at)
    metrics = {m.label: m.value for m in at.metric}
    score = float(metrics["Peaks inside the object's box"].rstrip("%")) / 100
    assert score >= 0.9
    assert -1 <= float(metrics["Rank correlation (Spearman)"]) <= 1
    grad_auc = float(metrics["Area under the curve, Grad-CAM"])
    random_auc = float(metrics["Area, a random map"])
    assert 0 <= grad_auc < random_auc  # the trained shapes model deletes faster
    assert not at.error


def test_occlusion_runs_with_its_window_and_stride():
    at = _open(sample="shape_star", method="occlusion", window="16", stride="8")
    assert at.number_input(key="gradcam.window").value == 16
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Occluded images"] == "49"
    assert not at.error


def test_the_layer_strip_shows_each_layers_own_map_as_png():
    """Each tile of the strip is the layer's native Grad-CAM on its own scale (peak 1),
    coloured and enlarged by ``heat_tile``, PNG-encoded once per class and colour map; the
    page captions the tiles with each layer's grid and marks the chosen layer."""
    import cv2
    import torch

    from cnnviz import cam_layers, encode_png, grad_cam_layers, heat_tile, preprocess
    from cnnviz.data.samples import load_sample
    from ui.cache import attribution as kept

    name, target = "shapes", 2
    pixels = load_sample("shape_triangle")
    x = preprocess(name, pixels).numpy()
    x.setflags(write=False)
    layers = tuple(layer for layer, _ in cam_layers(load_model(name), MODELS[name].input_size))
    tiles = kept.strip_tiles(name, "strip-test", target, layers, "viridis", x)
    assert kept.strip_tiles(name, "strip-test", target, layers, "viridis", x) is tiles
    maps = grad_cam_layers(load_model(name), torch.tensor(x), target, list(layers))
    assert len(tiles) == len(layers) == len(maps)
    for (png, hw), heat in zip(tiles, maps, strict=True):
        assert hw == heat.shape
        top = float(heat.max())
        expected = heat_tile(heat / top if top > 0 else heat, "viridis")
        assert png == encode_png(expected)
        decoded = cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                               cv2.COLOR_BGR2RGB)
        np.testing.assert_array_equal(decoded, expected)

    at = _open(model=name, sample="shape_triangle")
    grid = next(el.proto.body for el in at.get("html") if "<figcaption" in el.proto.body)
    captions = [html.unescape(c) for c in re.findall(r"<figcaption[^>]*>(.*?)</figcaption>",
                                                     grid)]
    chosen = RECOMMENDED_LAYERS[name]
    assert captions == [f"{layer} · {h}×{w}{' ◀' if layer == chosen else ''}"
                        for layer, (_, (h, w)) in zip(layers, tiles, strict=True)]
    # each tile is sent as it was encoded, with a text alternative that names its layer
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', grid)
    assert [base64.b64decode(src) for src in sources] == [png for png, _ in tiles]
    alts = [html.unescape(a) for a in re.findall(r'alt="([^"]*)"', grid)]
    assert all(f"at layer {layer}, " in alt for layer, alt in zip(layers, alts, strict=True))
