"""The Models page: every registry model, with its badge, card and predictions."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import markdown_text, open_page


def _open(**query) -> AppTest:
    return open_page("pages/models.py", **query)


_text = markdown_text


def test_digits_is_trained_with_its_card_and_top3():
    at = _open(sample="digit_3")
    assert at.selectbox(key="models.model").value == "digits"  # the network that fits a digit
    assert "Held-out accuracy:** 98.3%" in _text(at)
    assert ":green-badge[:material/check_circle: trained weights]" in _text(at)
    assert [m.value for m in at.metric][:1] == ["206,922"]
    bars = at.get("progress")
    assert len(bars) == 3 and "**3**" in bars[0].proto.text  # the digit 3 comes first


@pytest.mark.parametrize("name", ["resnet18", "lenet5"])
def test_untrained_models_say_so_and_do_not_predict(name):
    at = _open(model=name)
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    assert badges == [":orange-badge[:material/warning: untrained: random weights]"]
    assert not at.get("progress")  # no top-3 from random weights
    if name == "resnet18":
        assert [m.value for m in at.metric][:1] == ["11,689,512"]
        assert "could not be downloaded" in " ".join(i.value for i in at.info)


def test_shapes_model_on_a_shape_sample():
    at = _open(model="shapes", sample="shape_star")
    assert "99.8%" in _text(at)
    assert "**star**" in at.get("progress")[0].proto.text


def test_hostile_model_name():
    at = _open(model="../../etc/passwd")
    assert any("defaults are shown" in w.value for w in at.warning)
    # the fallback is the network that fits the sidebar image: the cat photo's
    assert at.selectbox(key="models.model").value == "efficientnet_lite0"
