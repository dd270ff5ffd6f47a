"""The How a layer learns page in AppTest: the loss falls step by step, the window-by-window
weight gradient adds up to autograd's, the URL keeps the steps, refusals in a sentence."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from streamlit.testing.v1 import AppTest

from cnnviz import PRESETS
from tests.apptest import open_page
from ui import state
from ui.cache import layers

PAGE = "pages/backprop.py"


def _open(**query) -> AppTest:
    return open_page(PAGE, **query)


def _loss(at: AppTest) -> float:
    metric = next(m for m in at.metric if m.label == "Loss L")
    return float(metric.value.replace("−", "-"))


def test_the_page_shows_the_loss_and_the_maps():
    at = _open()
    assert at.title[0].value == "How a layer learns"
    assert not at.error
    alts = [c.proto.alt for c in at.get("plotly_chart")]
    assert any(a.startswith("Output, filter 0") for a in alts)
    assert any(a.startswith("The weight gradient, window by window: dL/dW += dL/dout[0, 0]")
               for a in alts)
    assert _loss(at) > 0


def test_gradient_descent_steps_lower_the_loss_and_go_into_the_url():
    at = _open(lr="0.05")
    before = _loss(at)
    next(b for b in at.button if b.label == "Take one step").click().run()
    one = _loss(at)
    assert at.query_params["descent"] in (["1"], "1")
    next(b for b in at.button if b.label == "Take 10 steps").click().run()
    eleven = _loss(at)
    assert at.query_params["descent"] in (["11"], "11")
    assert before > one > eleven
    # the same numbers as torch's SGD on the same layer, input and target
    image = at.session_state[state.IMAGE]
    values = layers.small_values(image.pixels, image.digest, 6, True)
    x = torch.from_numpy(values.array.copy()).permute(2, 0, 1)[None]
    settings = layers.LayerSettings(kernel=np.random.default_rng(0).normal(size=(3, 3))
                                    .round(2).tolist())
    w = torch.from_numpy(settings.weights().copy()).requires_grad_(True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    teacher = torch.from_numpy(layers.LayerSettings(
        kernel=PRESETS["sobel_x"].kernel, seed=1).weights().copy())
    target = F.conv2d(x, teacher)
    sgd = torch.optim.SGD([w, b], lr=0.05)
    for _ in range(11):
        sgd.zero_grad()
        loss = 0.5 * ((F.conv2d(x, w, b) - target) ** 2).sum()
        loss.backward()
        sgd.step()
    final = float(0.5 * ((F.conv2d(x, w, b) - target) ** 2).sum().detach())
    assert eleven == pytest.approx(final, rel=1e-3)
    next(b for b in at.button if b.label == "Start again").click().run()
    assert _loss(at) == pytest.approx(before) and "descent" not in at.query_params


def test_the_weight_gradient_windows_add_up_to_autograds():
    at = _open(side="8", padding="1", filters="2", pool="max", descent="3", filter="1")
    assert not at.error
    chart = next(c for c in at.get("plotly_chart") if c.proto.alt.startswith("The weight"))
    spec = json.loads(chart.proto.spec)
    last = spec["frames"][-1]["data"][-1]["z"]  # the running sum of dL/dW, after every window
    codes = [c.value for c in at.code]
    autograd = np.array([[float(v) for v in row.split(",")] for row in codes[0].split("\n")])
    np.testing.assert_allclose(np.array(last, dtype=float), autograd, rtol=1e-3, atol=1e-3)
    info = " ".join(i.value for i in at.info)
    routed = re.search(r"Here (\d+) of (\d+) cells", info)
    assert "Max pooling's backward" in info and routed
    # 2×2 windows, one winner each: a quarter of the cells (the cat shrunk to 5×8, padded)
    assert int(routed[1]) == (5 // 2) * (8 // 2) and int(routed[2]) == 5 * 8


@pytest.mark.parametrize(("query", "words"), [
    ({"gray": "0", "groups": "2"}, "Groups (2) must divide"),
    ({"lr": "10", "descent": "500", "side": "16"}, "too large for this layer"),
])
def test_settings_that_cannot_work_get_one_sentence(query, words):
    at = _open(**query)
    errors = " ".join(e.value for e in at.error)
    assert words in errors and not at.exception
    for key, value in query.items():  # the settings stay
        assert at.query_params.get(key, [value]) in ([value], value)


def test_a_learning_rate_that_overshoots_shows_the_loss_rising():
    at = _open(lr="2", descent="5", side="16")
    assert not at.error
    assert "overshoot" in " ".join(w.value for w in at.warning)
