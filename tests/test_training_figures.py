"""The Training page's figures: plain dicts with the numbers they were given."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import cnnviz


def _report(epoch: int, loss: float, train: float, heldout: float) -> SimpleNamespace:
    return SimpleNamespace(epoch=epoch, loss=loss, train_accuracy=train, heldout_accuracy=heldout)


def test_training_curves_carry_the_history():
    history = [_report(1, 1.25, 0.5, 0.75), _report(2, 0.5, 0.875, 0.9)]
    fig = cnnviz.training_curves(history, epochs=10).spec
    loss, train, heldout = fig["data"]
    assert loss["x"] == [1, 2] and loss["y"] == [1.25, 0.5]
    assert train["y"] == [50.0, 87.5] and heldout["y"] == [75.0, 90.0]  # percent
    assert train["yaxis"] == heldout["yaxis"] == "y2"
    assert fig["layout"]["xaxis"]["range"] == [0.5, 10.5]  # the planned epochs, fixed


def test_training_curves_with_no_epoch_yet():
    fig = cnnviz.training_curves([], epochs=3).spec
    assert all(trace["x"] == [] for trace in fig["data"])
    assert fig["layout"]["xaxis2"]["range"] == [0.5, 3.5]


def test_filter_grid_grey_filters_are_heatmaps_on_their_own_scale():
    weights = np.zeros((10, 1, 3, 3), np.float32)
    weights[0, 0] = [[1, 0, -1], [2, 0, -2], [1, 0, -1]]  # Sobel x
    weights[1, 0, 1, 1] = 0.01
    fig = cnnviz.filter_grid(weights).spec
    assert len(fig["data"]) == 10 and {t["type"] for t in fig["data"]} == {"heatmap"}
    assert fig["data"][0]["z"] == weights[0, 0].tolist()
    assert (fig["data"][0]["zmin"], fig["data"][0]["zmax"]) == (-2, 2)
    assert fig["data"][1]["zmax"] == pytest.approx(0.01)
    assert fig["data"][2]["zmax"] == 1.0  # an all-zero filter still gets a scale
    # 8 columns, 2 rows: the 6 unused cells of the second row are hidden
    hidden = [k for k, v in fig["layout"].items() if k.startswith("xaxis") and not v.get(
        "visible", True)]
    assert len(hidden) == 6


def test_filter_grid_colour_filters_are_stretched_images():
    weights = np.random.default_rng(0).normal(size=(4, 3, 5, 5))
    fig = cnnviz.filter_grid(weights, title="conv1").spec
    assert {t["type"] for t in fig["data"]} == {"image"}
    z = np.array(fig["data"][0]["z"])
    assert z.shape == (5, 5, 3) and z.min() == 0 and z.max() == 255
    stretched = (weights[0] - weights[0].min()) / np.ptp(weights[0]) * 255
    np.testing.assert_array_equal(z, np.round(stretched).transpose(1, 2, 0))
    assert fig["layout"]["title"]["text"] == "conv1"


def test_filter_grid_refuses_a_wrong_shape():
    with pytest.raises(ValueError, match="F, C, kh, kw"):
        cnnviz.filter_grid(np.zeros((3, 3)))
