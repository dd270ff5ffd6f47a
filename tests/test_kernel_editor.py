"""The grid editor's pure parts: resizing and applying a data editor's edits."""

from __future__ import annotations

import numpy as np

from ui.kernel_editor import apply_edits, resize


def test_resize_crops_and_pads_with_zeros():
    k = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(resize(k, 3, 2), [[0, 1], [3, 4], [0, 0]])
    stack = np.stack([k, k + 10], axis=2)
    assert resize(stack, 1, 4).shape == (1, 4, 2)


def test_apply_edits_sets_cells_and_ignores_junk():
    k = np.zeros((2, 2), np.float32)
    out = apply_edits(k, {0: {"1": 5}, "1": {"2": "2.5", "9": 3}, 5: {"1": 1}})
    np.testing.assert_array_equal(out, [[5, 0], [0, 2.5]])
    out = apply_edits(out, {0: {"1": None}, 1: {"2": "x"}, 1.0: {"1": float("nan")}})
    np.testing.assert_array_equal(out, [[0, 0], [0, 2.5]])
    assert k.sum() == 0  # the input is not changed
