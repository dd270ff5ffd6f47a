"""ui.views: a page opened with settings, and the Feature maps → Convolution hand-off."""

from __future__ import annotations

import pytest

from cnnviz import LayerError, kernel_of, load_model, parse_kernel_slices
from ui import catalog, views


def test_kernel_view_carries_gray_and_the_sample():
    digits = kernel_of(load_model("digits"), "conv1", 0)
    view = views.kernel_view(digits, sample="digit_3")
    q = view.params
    assert view.page == catalog.CONVOLUTION.path
    assert q["kernel"] == "custom" and q["gray"] == "1" and q["sample"] == "digit_3"
    assert (parse_kernel_slices(q["weights"].replace(";", "\n")) == digits).all()
    rgb = views.kernel_view(kernel_of(load_model("shapes"), "conv1", 0)).params
    assert rgb["gray"] == "0" and "sample" not in rgb
    assert rgb["weights"].count("|") == 2
    # it resets only the controls it sets: the page keeps the student's stride and padding
    assert set(view.resets) == {"kernel", "weights", "gray"}
    assert view.url.startswith("/convolution?kernel=custom&weights=")


def test_a_deep_kernel_cannot_be_carried_and_says_why():
    deep = kernel_of(load_model("digits"), "conv2", 0)  # 16 input slices
    with pytest.raises(LayerError, match="16 input slices"):
        views.kernel_view(deep)
