"""The "What a channel detects" page in AppTest: the defaults, the URL, bad links, the
Synthesise button, the nine MNIST patches, untrained networks and a session-trained model."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from cnnviz import digit_inputs, load_model, mnist_sample, receptive_field
from tests.apptest import APP, open_page
from ui import state

PAGE = "pages/channels.py"
P = "channels."


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in [*at.markdown, *at.caption, *at.info, *at.warning])


def _patch_grid(at: AppTest) -> dict | None:
    return next((c for c in _charts(at)
                 if sum(t["type"] == "image" for t in c["data"]) > 1), None)


def _synthesise(at: AppTest) -> AppTest:
    at.button(key=P + "run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_digits_opens_on_conv2_with_the_nine_strongest_digits():
    at = open_page(PAGE, sample="digit_3")
    assert at.title[0].value == "What a channel detects"
    assert at.selectbox(key=P + "model").value == "digits"
    assert at.selectbox(key=P + "layer").value == "conv2"
    assert at.number_input(key=P + "channel").value == 0
    assert at.button_group(key=P + "objective").value == "centre"
    assert at.button_group(key=P + "reg").value == "jitter"
    assert at.select_slider(key=P + "steps").value == 128
    assert not at.error and not at.warning
    text = _text(at)
    assert "Press **Synthesise**" in text and "blurry and noisy" in text
    assert "8×8 pixels" in text  # conv2's receptive field on the 28×28 input
    grid = _patch_grid(at)
    assert grid is not None and sum(t["type"] == "image" for t in grid["data"]) == 9
    titles = [a["text"] for a in grid["layout"]["annotations"]]
    # the nine values are the nine largest peaks of conv2's channel 0 over the 5,000 digits,
    # recomputed here with torch on the whole set
    images, labels = mnist_sample()
    with torch.no_grad():
        maps = load_model("digits")[:4](digit_inputs(images))[:, 0]
    peak = maps.flatten(1).max(dim=1).values.numpy()
    best = np.argsort(-peak, kind="stable")[:9]
    assert [t.split(" · ")[1] for t in titles] == [f"{peak[i]:.3g}" for i in best]
    assert [t.split(" · digit ")[1] for t in titles] == [str(labels[i]) for i in best]


def test_url_keys_seed_every_control():
    at = open_page(PAGE, model="digits", layer="relu2", channel="5", objective="mean",
                   reg="fourier", steps="32")
    assert at.selectbox(key=P + "layer").value == "relu2"
    assert at.number_input(key=P + "channel").value == 5
    assert at.button_group(key=P + "objective").value == "mean"
    assert at.button_group(key=P + "reg").value == "fourier"
    assert at.select_slider(key=P + "steps").value == 32
    assert not at.warning and not at.error
    assert "relu2 passes on channel 5 of conv2" in _text(at)  # the kernel behind a ReLU
    assert "Press **Synthesise** to run 32 steps" in _text(at)


@pytest.mark.parametrize("query", [
    {"model": "<script>alert(1)</script>"}, {"layer": "fc1"}, {"steps": "7"},
    {"reg": "wild", "objective": "max"},
])
def test_hostile_query_values_fall_back_with_a_notice(query):
    at = open_page(PAGE, sample="digit_3", **query)  # a digit: the digits network fits it
    warnings = [w.value for w in at.warning]
    assert warnings and "defaults are shown" in warnings[0]
    assert not any("<script>" in w for w in warnings)
    assert not at.error
    assert at.selectbox(key=P + "layer").value == "conv2"


def test_synthesise_draws_the_picture_and_its_numbers_are_the_models():
    at = _synthesise(open_page(PAGE, sample="digit_3", channel="4", steps="64"))
    kept = at.session_state[state.SYNTHESES]
    (result, seconds), = kept.values()
    assert result.layer == "conv2" and result.channel == 4 and len(result.history) == 64
    # the final value is conv2's centre unit on the returned input, recomputed with torch
    with torch.no_grad():
        out = load_model("digits")[:4](torch.from_numpy(result.input))
    assert result.final == pytest.approx(float(out[0, 4, 7, 7]), rel=1e-4)
    assert result.final > result.start
    text = _text(at)
    assert f"from {result.start:.3g} on the grey start to {result.final:.3g} in 64 steps" in text
    assert "amber box is the centre unit's receptive field, 8×8 pixels" in text
    picture = next(c for c in _charts(at) if c["data"][0]["type"] == "image"
                   and c["layout"].get("title", {}).get("text") == "conv2 · channel 4")
    outline = next(t for t in picture["data"] if t["type"] == "scatter")
    r0, r1, c0, c1 = receptive_field(load_model("digits"), "conv2", (1, 28, 28)).box
    assert (r1 - r0, c1 - c0) == (8, 8)
    assert (min(outline["y"]), max(outline["y"])) == (r0 - 0.5, r1 - 0.5)
    assert (min(outline["x"]), max(outline["x"])) == (c0 - 0.5, c1 - 0.5)
    curve = next(c for c in _charts(at) if c["data"][0].get("name") == "objective")
    np.testing.assert_allclose(curve["data"][0]["y"], result.history, atol=1e-5)
    assert "Press **Synthesise**" not in text
    # a rerun shows the kept picture without running again
    at.run()
    assert "amber box" in _text(at) and at.session_state[state.SYNTHESES] is kept


def test_resnet18_says_untrained_synthesises_on_a_small_canvas_and_has_no_patches():
    at = open_page(PAGE, model="resnet18", steps="16")
    assert at.selectbox(key=P + "layer").value == "layer3.0.conv1"
    warnings = " ".join(w.value for w in at.warning)
    assert "random weights" in warnings and "noise" in warnings
    text = _text(at)
    assert "128×128 canvas" in text and "224×224" in text
    assert "shown for the digit models" in text and _patch_grid(at) is None
    _synthesise(at)
    (result, _), = at.session_state[state.SYNTHESES].values()
    assert result.picture.shape == (128, 128, 3)
    assert not at.error


def test_a_model_trained_in_this_session_can_be_explored():
    mine = copy.deepcopy(load_model("digits"))
    with torch.no_grad():
        mine.conv2.weight.mul_(-1.0)  # recognisably not the bundled network
    mine.cnnviz_name, mine.cnnviz_run_id, mine.cnnviz_pretrained = "digits", "run-7", True
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state[state.TRAINED_MODELS] = {"digits": (mine, {})}
    at.query_params["sample"] = "digit_3"
    at.run()
    at.switch_page(PAGE).run()
    at.toggle(key=P + "session").set_value(True).run()
    assert not at.exception and not at.error
    heatmaps = next(c for c in _charts(at)
                    if sum(t["type"] == "heatmap" for t in c["data"]) == 16)
    np.testing.assert_allclose(heatmaps["data"][0]["z"], mine.conv2.weight[0, 0].detach().numpy(),
                               atol=1e-4)
    _synthesise(at)
    settings = next(iter(at.session_state[state.SYNTHESES]))
    assert settings[0] == "digits@run-7"
