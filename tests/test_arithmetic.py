"""The formulas of cnnviz.arithmetic against hand-worked numbers and against torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from cnnviz import (
    OUTPUT_SIZE_FORMULA,
    ParameterError,
    as_pair,
    conv_macs,
    conv_macs_text,
    conv_params,
    conv_params_text,
    dense_params,
    dense_params_text,
    explain_output_size,
    output_shape,
    output_size,
    pool_output_shape,
    pool_params,
    resolve_padding,
    same_padding,
)

# ---------------------------------------------------------------------------
# Hand-worked examples


def test_output_size_hand_examples():
    assert output_size(5, 3) == 3  # the classic 5x5 image, 3x3 kernel, no padding
    assert output_size(5, 3, padding=1) == 5
    assert output_size(64, 2, stride=2) == 32  # 2x2 pooling halves the size
    assert output_size(28, 3, stride=2, padding=1, dilation=2) == 13
    assert output_size(224, 7, stride=2, padding=3) == 112  # ResNet's first layer
    assert output_size(1, 1) == 1


def test_pooling_64_by_64_gives_32_by_32():
    assert pool_output_shape((64, 64), 2, 2) == (32, 32)
    assert pool_output_shape((64, 64), 2) == (32, 32)  # stride defaults to the size
    assert pool_params() == 0


def test_parameter_counts_by_hand():
    assert conv_params(3, 64, 3) == 1_792  # 64 x (3*3*3 + 1)
    assert conv_params(3, 64, (3, 3), bias=False) == 1_728
    assert conv_params(32, 64, 3, groups=4) == 64 * (8 * 9 + 1)
    assert dense_params(224 * 224 * 3, 1000) == 150_529_000
    assert dense_params(10, 2, bias=False) == 20
    assert conv_macs((32, 32), 3, 64, 3) == 32 * 32 * 64 * 27


def test_parameter_counts_match_torch_layers():
    conv = torch.nn.Conv2d(12, 8, (3, 5), groups=4)
    assert conv_params(12, 8, (3, 5), groups=4) == sum(p.numel() for p in conv.parameters())
    dense = torch.nn.Linear(100, 7, bias=False)
    assert dense_params(100, 7, bias=False) == sum(p.numel() for p in dense.parameters())


def test_formula_texts():
    assert conv_params_text(3, 64, 3) == "64 × (3·3·3 + 1) = 1,792"
    assert conv_params_text(3, 64, 3, bias=False) == "64 × 3·3·3 = 1,728"
    assert dense_params_text(224 * 224 * 3, 1000) == "1,000 × (150,528 + 1) = 150,529,000"
    assert conv_macs_text((32, 32), 3, 64, 3) == "32·32·64 × 3·3·3 = 1,769,472"
    assert OUTPUT_SIZE_FORMULA.startswith("⌊(n + 2p")


def test_explain_output_size_text():
    e = explain_output_size(28, 3, stride=2, padding_before=1, dilation=2)
    assert e.size == 13
    assert e.text == "⌊(28 + 2·1 − 2·(3−1) − 1) / 2⌋ + 1 = 13"
    e = explain_output_size(28, 4, 1, 1, 2)  # asymmetric, as 'same' pads an even kernel
    assert e.text == "⌊(28 + 1 + 2 − 1·(4−1) − 1) / 1⌋ + 1 = 28"
    with pytest.raises(ParameterError):
        explain_output_size(2, 5)


def test_same_padding_matches_torch_rule():
    assert same_padding(3) == (1, 1)
    assert same_padding(4) == (1, 2)  # the extra pixel goes after
    assert same_padding(3, dilation=2) == (2, 2)
    assert same_padding(1) == (0, 0)


def test_resolve_padding_forms():
    assert resolve_padding(2, 3) == (2, 2, 2, 2)
    assert resolve_padding((1, 2), 3) == (1, 1, 2, 2)
    assert resolve_padding((0, 1, 2, 3), 3) == (0, 1, 2, 3)
    assert resolve_padding("valid", 3) == (0, 0, 0, 0)
    assert resolve_padding("same", (4, 3), (1, 2), 1) == (1, 2, 2, 2)
    with pytest.raises(ParameterError, match="stride 1"):
        resolve_padding("same", 3, 1, (1, 2))
    with pytest.raises(ParameterError, match="'same' or 'valid'"):
        resolve_padding("full", 3)
    with pytest.raises(ParameterError, match="negative"):
        resolve_padding((0, -1, 0, 0), 3)


def test_four_tuple_padding_uses_top_plus_bottom():
    assert output_shape((10, 10), 3, 1, (0, 2, 1, 0)) == (10, 9)


# ---------------------------------------------------------------------------
# Errors a student can cause: typed, explained


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((5, 3, 0), "Stride must be at least 1: a stride of 0 would never move the kernel."),
        ((5, 3, 1, 0, 0), "Dilation"),
        ((5, 0), "kernel"),
        ((0, 3), "input"),
        ((5, 3, 1, -1), "negative"),
        (
            (5, 3, 1, 0, 3),
            "The kernel (with dilation it covers 7 pixels) is larger than the padded input "
            "(5 pixels), so it does not fit even once.",
        ),
        ((2, 3), "The kernel (3 pixels) is larger than the padded input (2 pixels)"),
    ],
)
def test_output_size_errors_are_sentences(args, fragment):
    with pytest.raises(ParameterError) as info:
        output_size(*args)
    message = str(info.value)
    assert fragment in message
    assert message.endswith(".") and message[0].isupper()


@pytest.mark.parametrize("bad", [True, 2.0, "3", None, 2.5])
def test_non_integers_are_refused(bad):
    with pytest.raises(ParameterError, match="whole number"):
        output_size(bad, 3)
    with pytest.raises(ParameterError):
        as_pair(bad, "stride")


def test_as_pair():
    assert as_pair(3, "stride") == (3, 3)
    assert as_pair((2, 1), "stride") == (2, 1)
    assert as_pair(np.int64(4), "stride") == (4, 4)
    with pytest.raises(ParameterError, match="pair"):
        as_pair((1, 2, 3), "stride")
    with pytest.raises(ParameterError):
        as_pair((1, True), "stride")


def test_groups_must_divide_channels():
    with pytest.raises(ParameterError, match="divide"):
        conv_params(3, 64, 3, groups=2)


def test_pool_padding_at_most_half_the_window():
    assert pool_output_shape((5, 5), 3, 1, 1) == (5, 5)
    with pytest.raises(ParameterError, match="at most half"):
        pool_output_shape((5, 5), 3, 1, 2)
    with pytest.raises(ParameterError):
        pool_output_shape((5, 5), 2, padding="same")


# ---------------------------------------------------------------------------
# Against torch: the shape torch produces, and ParameterError exactly when torch raises


def _random_padding(rng: np.random.Generator):
    r = rng.random()
    if r < 0.15:
        return "same"
    if r < 0.25:
        return "valid"
    if r < 0.6:
        return int(rng.integers(-1, 4)) if rng.random() < 0.1 else int(rng.integers(0, 4))
    return (int(rng.integers(0, 4)), int(rng.integers(0, 4)))


def _random_conv_setting(rng: np.random.Generator) -> dict:
    def small(lo_invalid: int) -> tuple[int, int]:
        lo = lo_invalid if rng.random() < 0.08 else 1
        return (int(rng.integers(lo, 4)), int(rng.integers(lo, 4)))

    return {
        "hw": (int(rng.integers(1, 41)), int(rng.integers(1, 41))),
        "khw": (int(rng.integers(1, 8)), int(rng.integers(1, 8))),
        "stride": small(0),
        "padding": _random_padding(rng),
        "dilation": small(0),
    }


def _torch_conv_shape(hw, khw, stride, padding, dilation):
    x = torch.zeros(1, 1, *hw)
    w = torch.zeros(1, 1, *khw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'same' with an even kernel warns about a copy
        return tuple(F.conv2d(x, w, stride=stride, padding=padding, dilation=dilation).shape[2:])


def test_output_shape_matches_torch_on_600_random_settings():
    rng = np.random.default_rng(20240601)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(600):
        s = _random_conv_setting(rng)
        try:
            expected = _torch_conv_shape(
                s["hw"], s["khw"], s["stride"], s["padding"], s["dilation"]
            )
        except RuntimeError:
            expected = None
        if expected is None:
            with pytest.raises(ParameterError):
                output_shape(s["hw"], s["khw"], s["stride"], s["padding"], s["dilation"])
            outcomes["refused"] += 1
        else:
            got = output_shape(s["hw"], s["khw"], s["stride"], s["padding"], s["dilation"])
            assert got == expected, s
            if isinstance(s["padding"], int):  # the 1-D contract function agrees too
                assert got[0] == output_size(
                    s["hw"][0], s["khw"][0], s["stride"][0], s["padding"], s["dilation"][0]
                )
            outcomes["ok"] += 1
    assert outcomes["ok"] > 300 and outcomes["refused"] > 50, outcomes


def test_pool_output_shape_matches_torch_on_500_random_settings():
    rng = np.random.default_rng(7)
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(500):
        hw = (int(rng.integers(1, 41)), int(rng.integers(1, 41)))
        size = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        lo = 0 if rng.random() < 0.05 else 1  # stride 0 now and then
        stride = None if rng.random() < 0.3 else (int(rng.integers(lo, 5)), int(rng.integers(1, 5)))
        # now and then one pixel more than torch allows (half the window)
        extra = 2 if rng.random() < 0.25 else 1
        padding = (int(rng.integers(0, size[0] // 2 + extra)),
                   int(rng.integers(0, size[1] // 2 + extra)))
        pool = F.max_pool2d if rng.random() < 0.5 else F.avg_pool2d
        try:
            expected = tuple(pool(torch.zeros(1, 1, *hw), size, stride, padding).shape[2:])
        except RuntimeError:
            expected = None
        if expected is None:
            with pytest.raises(ParameterError):
                pool_output_shape(hw, size, stride, padding)
            outcomes["refused"] += 1
        else:
            assert pool_output_shape(hw, size, stride, padding) == expected
            outcomes["ok"] += 1
    assert outcomes["ok"] > 200 and outcomes["refused"] > 50, outcomes


# ---------------------------------------------------------------------------
# Properties


@given(
    n=st.integers(1, 60),
    k=st.integers(1, 9),
    s=st.integers(1, 5),
    before=st.integers(0, 5),
    after=st.integers(0, 5),
    d=st.integers(1, 4),
)
def test_output_size_counts_window_positions(n, k, s, before, after, d):
    """The formula equals the number of placements that fit, counted one by one."""
    padded = n + before + after
    span = d * (k - 1) + 1
    placements = len(range(0, padded - span + 1, s))
    if placements == 0:
        with pytest.raises(ParameterError):
            explain_output_size(n, k, s, before, after, d)
        return
    e = explain_output_size(n, k, s, before, after, d)
    assert e.size == placements
    assert e.text.endswith(f"= {placements}")
    if before == after:
        assert output_size(n, k, s, before, d) == placements


def test_the_centre_unit_is_the_lower_right_of_the_middle_two():
    from cnnviz import centre_unit

    assert centre_unit(1, 1) == (0, 0)
    assert centre_unit(4, 5) == (2, 2)  # even: the lower/right one of the two middle units
    assert centre_unit(7, 8) == (3, 4)


@pytest.mark.parametrize(("n_in", "n_out", "positions"), [(1568, 10, 1), (64, 32, 49), (1, 1, 1)])
def test_dense_macs_match_a_linear_layers_row_of_the_layer_table(n_in, n_out, positions):
    from cnnviz import dense_macs, dense_macs_text, layer_table

    model = nn.Sequential(nn.Linear(n_in, n_out))
    shape = (1, positions, n_in) if positions > 1 else (1, 1, n_in)
    row = layer_table(model, shape)[0]
    assert row["macs"] == dense_macs(n_in, n_out, positions) == positions * n_in * n_out
    assert row["macs_formula"] == dense_macs_text(n_in, n_out, positions)
    assert dense_macs_text(1568, 10) == "1,568 × 10 = 15,680"
    assert dense_macs_text(64, 32, 49) == "49 × 64 × 32 = 100,352"
    with pytest.raises(ParameterError):
        dense_macs(0, 3)
