"""The layer table and model totals (cnnviz.network.tables), against torch itself: parameter
counts, hooks seeing the same shapes, torchvision's published GFLOPS."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn

import cnnviz
from cnnviz import (
    LayerError,
    layer_table,
    load_model,
    model_totals,
)
from cnnviz.network import fields, hooks, layers, tables
from cnnviz.network.hooks import hook_count
from tests.toy_models import Boom, seq

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------------------
# The public names


def test_the_public_names_are_exported_from_cnnviz():
    homes = {hooks: ("conv_layers", "layer_names", "LayerError"),
             tables: ("layer_table", "model_totals"), layers: ("feature_maps",),
             fields: ("receptive_field", "effective_receptive_field", "unit_receptive_box",
                      "receptive_field_table", "ReceptiveField")}
    for module, names in homes.items():
        for name in names:
            assert getattr(cnnviz, name) is getattr(module, name)
            assert name in cnnviz.__all__ and name in module.__all__


# ---------------------------------------------------------------------------
# Layer table


@pytest.mark.parametrize("name", ["digits", "resnet18"])
def test_leaf_parameters_add_up_to_torchs_count(name):
    model = load_model(name)
    shape = (1, 28, 28) if name == "digits" else (3, 224, 224)
    rows = layer_table(model, shape)
    total = sum(p.numel() for p in model.parameters())
    assert sum(r["params"] for r in rows if r["is_leaf"]) == total
    assert sum(r["params"] for r in rows) == total
    assert model_totals(model, shape)["params"] == total


def test_the_1792_example():
    model = seq(("conv", nn.Conv2d(3, 64, 3)))
    (row,) = layer_table(model, (3, 32, 32))
    assert row["params"] == 1792 == sum(p.numel() for p in model.parameters())
    assert row["formula"] == "64 × (3·3·3 + 1) = 1,792"
    assert row["output_shape"] == (64, 30, 30)
    assert row["macs"] == 30 * 30 * 64 * 3 * 3 * 3
    assert row["type"] == "Conv2d" and row["is_leaf"] and row["depth"] == 1


def test_resnet18_table_macs_and_order():
    model = load_model("resnet18")
    rows = layer_table(model, (3, 224, 224))
    by_name = {r["name"]: r for r in rows}
    assert by_name["conv1"]["macs"] == 112 * 112 * 64 * 3 * 7 * 7 == 118_013_952
    assert by_name["conv1"]["formula"] == "64 × 7·7·3 = 9,408"  # no bias
    assert by_name["fc"]["macs"] == 512 * 1000
    assert by_name["fc"]["formula"] == "1,000 × (512 + 1) = 513,000"
    assert by_name["bn1"]["macs"] == 0 and by_name["maxpool"]["macs"] == 0
    # torchvision publishes 1.814 GFLOPS (multiply-adds of conv and linear layers)
    meta = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta
    assert round(sum(r["macs"] for r in rows) / 1e9, 3) == meta["_ops"]
    names = [r["name"] for r in rows]
    assert names.index("layer1") < names.index("layer1.0") < names.index("layer1.0.conv1")
    assert names.index("layer2.0.conv2") < names.index("layer2.0.downsample")
    assert by_name["layer1.0.relu"]["calls"] == 2  # a BasicBlock uses its ReLU twice
    assert not by_name["layer1"]["is_leaf"] and by_name["layer1"]["params"] == 0
    assert by_name["layer1"]["params_total"] == sum(
        p.numel() for p in model.layer1.parameters())
    assert by_name["layer1.0.conv1"]["depth"] == 3
    assert hook_count(model) == 0


def test_alexnet_macs_match_torchvision():
    rows = layer_table(load_model("alexnet"), (3, 224, 224))
    meta = torchvision.models.AlexNet_Weights.IMAGENET1K_V1.meta
    assert round(sum(r["macs"] for r in rows) / 1e9, 3) == meta["_ops"]


def test_output_shapes_are_what_a_hook_sees():
    model = load_model("resnet18")
    seen = {}

    def record(name):
        def hook(module, args, output):
            seen.setdefault(name, tuple(output.shape[1:]))  # the first call, as the table

        return hook

    handles = [m.register_forward_hook(record(name))
               for name, m in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 160, 160))
    finally:
        for h in handles:
            h.remove()
    rows = layer_table(model, (3, 160, 160))
    assert {r["name"]: r["output_shape"] for r in rows} == seen
    assert set(seen) == {name for name, _ in model.named_modules() if name}


def test_model_totals_counts_weight_layers():
    totals = model_totals(load_model("digits"), (1, 28, 28))
    assert (totals["conv_layers"], totals["dense_layers"], totals["layers"]) == (2, 2, 4)
    assert totals["output_shape"] == (10,)
    assert totals["macs"] == (28 * 28 * 16 * 9 + 14 * 14 * 32 * 16 * 9 + 1568 * 128 + 128 * 10)


def test_layer_table_removes_its_hooks_after_an_error():
    model = seq(("conv", nn.Conv2d(1, 2, 3)), ("boom", Boom()), ("fc", nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="boom inside forward"):
        layer_table(model, (1, 8, 8))
    assert hook_count(model) == 0
    digits = load_model("digits")
    with pytest.raises(LayerError, match="cannot run on an input of shape"):
        layer_table(digits, (3, 20, 20))  # wrong channels
    assert hook_count(digits) == 0
    with pytest.raises(LayerError, match="channels, height, width"):
        layer_table(digits, (28, 28))


