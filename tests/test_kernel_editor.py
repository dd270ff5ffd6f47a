"""The grid editor's pure parts: resizing, and applying one edit the grid sent."""

from __future__ import annotations

import numpy as np
import pytest

from ui.kernel_editor import apply_edit, resize


def test_resize_crops_and_pads_with_zeros():
    k = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(resize(k, 3, 2), [[0, 1], [3, 4], [0, 0]])
    stack = np.stack([k, k + 10], axis=2)
    assert resize(stack, 1, 4).shape == (1, 4, 2)


def test_apply_edit_sets_one_cell():
    k = np.zeros((2, 3), np.float32)
    out = apply_edit(k, {"slice": 0, "row": 1, "col": 2, "value": "2.5"})
    np.testing.assert_array_equal(out, [[0, 0, 0], [0, 0, 2.5]])
    out = apply_edit(out, {"slice": 0, "row": 0, "col": 0, "value": " 1/9 "})
    assert out[0, 0] == np.float32(1 / 9)
    assert k.sum() == 0  # the input is not changed


def test_apply_edit_changes_only_its_slice():
    k = np.zeros((2, 2, 3), np.float32)
    out = apply_edit(k, {"slice": 2, "row": 0, "col": 1, "value": "-4"})
    assert out[0, 1, 2] == -4 and np.count_nonzero(out) == 1


@pytest.mark.parametrize("edit", [
    None, "1", {}, {"slice": 0, "row": 0, "col": 0},  # malformed
    {"slice": 0, "row": 2, "col": 0, "value": "1"},  # outside the kernel
    {"slice": 0, "row": -1, "col": 0, "value": "1"},
    {"slice": 1, "row": 0, "col": 0, "value": "1"},  # a slice a 2-D kernel does not have
    {"slice": "x", "row": 0, "col": 0, "value": "1"},
    {"slice": 0, "row": 0, "col": 0, "value": "nope"},  # not numbers
    {"slice": 0, "row": 0, "col": 0, "value": "1/0"},
    {"slice": 0, "row": 0, "col": 0, "value": "nan"},
    {"slice": 0, "row": 0, "col": 0, "value": "inf"},
    {"slice": 0, "row": 0, "col": 0, "value": "1e9"},
    {"slice": 0, "row": 0, "col": 0, "value": ""},
])
def test_apply_edit_ignores_what_is_not_a_cell_and_a_number(edit):
    assert apply_edit(np.zeros((2, 2), np.float32), edit) is None
