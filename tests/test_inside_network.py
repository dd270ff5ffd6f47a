"""The library pieces behind the Receptive fields and Architecture pages: the lesson network,
meta-device architectures, inputs turned back into pictures, and their figures."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
import pytest
import torch

import cnnviz
from cnnviz import (
    LESSON_MODEL,
    MODELS,
    architecture,
    effective_receptive_field,
    load_model,
    model_totals,
    preprocess,
    receptive_field_table,
    rf_step,
    to_picture,
    unit_receptive_box,
)
from cnnviz.models.preprocessing import preprocess_gray

CHEAP = ("digits", "lenet5", "shapes")
# Published parameter counts (torchvision's weight metadata, num_params).
PUBLISHED = {"alexnet": 61_100_840, "vgg16": 138_357_544, "resnet18": 11_689_512}


# --- the lesson network -------------------------------------------------------------------------


def test_lesson_network_sees_3_5_7_and_each_pool_doubles_the_jump():
    rows = receptive_field_table(LESSON_MODEL.build(), LESSON_MODEL.input_size)
    got = [(r["name"], r["rf"][0], r["jump"][0]) for r in rows]
    assert got == [("conv1", 3, 1), ("conv2", 5, 1), ("conv3", 7, 1), ("pool1", 8, 2),
                   ("conv4", 12, 2), ("pool2", 14, 4), ("conv5", 22, 4)]
    # by hand, with the recurrence: r_out = r_in + (k-1)·d·j_in, j_out = j_in·s
    r, j = 1, 1
    for row in rows:
        r, j = rf_step(r, j, row["kernel"][0], row["stride"][0], row["dilation"][0])
        assert (r, j) == (row["rf"][0], row["jump"][0])


def test_lesson_network_averages_so_its_effective_field_is_a_centred_bump():
    net = LESSON_MODEL.build()
    assert all(torch.all(m.weight == 1 / 9) for m in net if isinstance(m, torch.nn.Conv2d))
    x = preprocess_gray(np.zeros((40, 50, 3), np.uint8), LESSON_MODEL.input_size)
    assert x.shape == (1, 1, 32, 32)
    erf = effective_receptive_field(net, "conv3", x, (None, 16, 16))
    box = unit_receptive_box(net, "conv3", LESSON_MODEL.input_size, 16, 16)
    assert box == (13, 20, 13, 20)
    rows, cols = np.nonzero(erf)
    assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == box
    assert erf[16, 16] == 1.0 and erf[13, 13] < erf[14, 14] < erf[16, 16]


# --- architectures without weights ----------------------------------------------------------------


@pytest.mark.parametrize("name", CHEAP)
def test_meta_architecture_totals_equal_the_real_model(name):
    real = load_model(name)
    meta = architecture(name)
    assert all(p.is_meta for p in meta.parameters())
    assert model_totals(meta, MODELS[name].input_size) == model_totals(real,
                                                                       MODELS[name].input_size)
    assert model_totals(meta, MODELS[name].input_size)["params"] == sum(
        p.numel() for p in real.parameters())


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_meta_architecture_of_the_classics_has_the_published_parameter_count(name):
    totals = model_totals(architecture(name), MODELS[name].input_size)
    assert totals["params"] == PUBLISHED[name]
    assert totals["output_shape"] == (1000,)


# --- inputs as pictures --------------------------------------------------------------------


def test_to_picture_undoes_each_recipe():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    np.testing.assert_allclose(to_picture(preprocess("shapes", rgb), "shapes_rgb"), rgb, atol=1)
    photo = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)  # no resize: the centre crop
    np.testing.assert_allclose(to_picture(preprocess("resnet18", photo), "imagenet"),
                               photo[16:240, 16:240], atol=1)
    digit = to_picture(preprocess("digits", rgb), "mnist")
    assert digit.shape == (28, 28, 3) and digit.dtype == np.uint8
    assert (digit[..., 0] == digit[..., 2]).all()  # grey repeated over three channels
    gray = to_picture(preprocess_gray(rgb, (1, 32, 32)), "gray")
    assert gray.shape == (32, 32, 3)


# --- figures -------------------------------------------------------------------------------


def test_unit_picker_puts_a_clickable_marker_on_every_unit_and_outlines_the_unit():
    values = np.arange(12.0).reshape(3, 4)
    spec = cnnviz.unit_picker(values, unit=(1, 2)).to_dict()
    json.loads(pio.to_json(spec, validate=False))
    markers = spec["data"][-1]
    assert markers["mode"] == "markers" and markers["marker"]["opacity"] <= 0.01
    units = sorted(zip(markers["y"], markers["x"], strict=True))
    assert units == [(r, c) for r in range(3) for c in range(4)]
    assert markers["text"][markers["y"].index(1) + 2] == "6"  # value of unit (1, 2)
    outline = [t for t in spec["data"] if t.get("mode") == "lines"]
    assert outline[0]["x"] == [1.5, 2.5, 2.5, 1.5, 1.5]
    assert outline[0]["y"] == [0.5, 0.5, 1.5, 1.5, 0.5]


def test_unit_picker_thins_the_markers_of_a_big_map():
    spec = cnnviz.unit_picker(np.zeros((224, 224))).to_dict()
    markers = spec["data"][-1]
    assert len(markers["x"]) == 112 * 112 and set(markers["x"]) == set(range(0, 224, 2))
    assert cnnviz.payload_bytes(spec) < 600_000


def test_growth_and_size_figures_serialise_with_the_numbers():
    growth = cnnviz.receptive_field_growth(["a", "b"], [3, 8], [1, 2], input_side=32).to_dict()
    assert growth["data"][0]["y"] == [3, 8] and growth["data"][1]["y"] == [1, 2]
    sizes = cnnviz.model_sizes(["x", "y"], [10, 2000], [5, 6]).to_dict()
    assert sizes["data"][0]["text"] == ["10", "2.0k"]
    timeline = cnnviz.architecture_timeline([1998, 2012], ["LeNet", "AlexNet"], [60_000, 61e6],
                                           ["a", "b"]).to_dict()
    for spec in (growth, sizes, timeline):
        json.loads(pio.to_json(spec, validate=False))
