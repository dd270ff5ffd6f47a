"""The Learn page (the guided tour) and its pre-set views, through app.py (AppTest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apptest import markdown_text, open_page
from ui import catalog, state, tour

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/learn.py"
P = "learn."
CAT = tour.ImageSize(300, 451, 3)  # the default sample, Cat (Chelsea)
ALL_VIEWS = [(number, view) for number in range(1, len(tour.STEPS) + 1)
             for view in tour.build_step(number, CAT).views]


def _query(at, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _link_notices(at) -> list[str]:
    return [w.value for w in [*at.warning, *at.sidebar.warning] if "link" in w.value.lower()]


def test_the_tour_is_walked_from_start_to_end_with_next():
    at = open_page(PAGE)
    assert at.title[0].value == "Learn" and not at.warning
    assert "step" not in at.query_params  # step 1 is the default
    for number in range(1, len(tour.STEPS) + 1):
        step = tour.build_step(number, at.session_state[state.IMAGE])
        assert at.header[0].value == f"{number}. {step.title}"
        assert step.text in markdown_text(at)
        assert [b.label for b in at.button][:len(step.views)] == [v.label for v in step.views]
        assert len(at.expander) == len(step.tries) >= 2  # each answer behind an expander
        assert at.selectbox(key=P + "step").value == number
        assert (_query(at, "step") == str(number)) if number > 1 else "step" not in at.query_params
        if number < len(tour.STEPS):
            at.button(key=P + "next").click().run()
            assert not at.exception, [e.value for e in at.exception]
    assert at.button(key=P + "previous").disabled is False
    assert [link.value for link in at.get("page_link")][-1].endswith("the Quiz")
    at.button(key=P + "previous").click().run()
    assert at.selectbox(key=P + "step").value == len(tour.STEPS) - 1


def test_step_from_the_url():
    at = open_page(PAGE, step="5")
    assert at.header[0].value == "5. Pooling" and not at.warning
    assert "adds 0 parameters" in markdown_text(at)
    # the worked answer uses the sidebar image (the 300×451 cat) and cnnviz's formula
    assert "**150×225** and **0** parameters" in markdown_text(at)


@pytest.mark.parametrize("bad", ["99", "0", "-3", "abc", "<script>alert(1)</script>"])
def test_a_bad_step_falls_back_to_the_first_with_a_notice(bad):
    at = open_page(PAGE, step=bad)
    assert at.header[0].value.startswith("1. ")
    notices = [w.value for w in at.warning]
    assert len(notices) == 1 and "`step`" in notices[0]
    assert "script" not in notices[0]  # the value is never echoed
    assert "step" not in at.query_params


def test_numbers_on_the_first_and_seventh_steps_are_cnnvizs():
    at = open_page(PAGE)
    shown = {m.label: m.value for m in at.metric}
    assert shown["Dense layer, 1,000 neurons, 224×224×3"] == "150,529,000"
    assert shown["Convolution, 64 filters of 3×3"] == "1,792"
    at = open_page(PAGE, step="7")
    table = at.dataframe[0].value
    assert list(table["network"]) == ["lenet5", "alexnet", "vgg16", "resnet18"]
    from cnnviz import architecture, get_spec, model_totals

    for name, params in zip(table["network"], table["parameters"], strict=True):
        assert params == model_totals(architecture(name), get_spec(name).input_size)["params"]
    assert "**73,856**" in "\n".join(e.value for e in at.markdown)  # two 3×3 convs, 64→64


def test_transfer_learning_counts_efficientnets_new_head_and_opens_your_own_classes():
    at = open_page(PAGE, step="9")
    text = markdown_text(at)
    assert "`5 × (1,280 + 1) = 6,405`" in text and "`1,000 × (1,280 + 1) = 1,281,000`" in text
    assert "of the 3,377,413 parameters" in text  # 4,652,008 − 1,281,000 + 6,405
    at.button(key="learn.view.9.0").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Your own classes"


#: Views that spell out a page's default value (so the link keeps working if the default
#: changes): the page drops such a key from its URL, so the widget itself is checked.
DEFAULT_VALUED = {
    ("pages/architecture.py", "c"): "arch.c",
    ("pages/convolution.py", "kernel"): "conv.kernel",
    ("pages/convolution.py", "gray"): "conv.gray",
    ("pages/receptive_fields.py", "model"): "rf.model",
    ("pages/receptive_fields.py", "layer"): "rf.layer",
    ("pages/gradcam.py", "model"): "gradcam.model",
    ("pages/filters.py", "model"): "filters.model",
    ("pages/feature_maps.py", "model"): "fmaps.model",
    ("pages/models.py", "model"): "models.model",
}


def _as_url_value(value) -> str:
    return str(int(value)) if isinstance(value, bool) else str(value)


@pytest.mark.parametrize(("number", "view"), ALL_VIEWS,
                         ids=[f"{n}-{v.url}" for n, v in ALL_VIEWS])
def test_every_view_link_is_accepted_by_its_page(number, view):
    """Opening the view's URL (as a shared link would) gives no notice, and every preset
    value reaches its widget: the page publishes it back unchanged, or, for a value equal to
    the page's default (which publish leaves out of the URL), the widget holds it."""
    at = open_page(view.page, **view.params)
    assert at.title[0].value == next(p.title for p in catalog.all_pages()
                                     if p.path == view.page)
    assert not _link_notices(at), _link_notices(at)
    assert not at.error, [e.value for e in at.error]
    for key, value in view.query:
        if key == "sample":
            assert at.session_state[state.IMAGE].name == value
        elif _query(at, key) is None:
            widget = DEFAULT_VALUED[(view.page, key)]
            assert _as_url_value(at.session_state[widget]) == value, (key, widget)
        else:
            assert _query(at, key) == value, (key, _query(at, key))


def test_the_view_buttons_reset_a_page_visited_before():
    at = open_page(PAGE, step="3")
    at.button(key=P + "view.3.0").click().run()  # stride 2, padding 1
    assert at.title[0].value == "Convolution"
    assert (at.session_state["conv.stride_h"], at.session_state["conv.stride_w"]) == (2, 2)
    assert at.session_state["conv.pad_kind"] == "custom"
    assert at.session_state["conv.pad_t"] == 1
    at.number_input(key="conv.dil_h").set_value(3).run()  # the student plays
    at.switch_page(PAGE).run()
    assert at.selectbox(key=P + "step").value == 3  # the tour kept its place
    at.button(key=P + "view.3.1").click().run()  # 'same' padding, nothing else
    assert at.title[0].value == "Convolution"
    assert at.session_state["conv.pad_kind"] == "same"
    assert at.session_state["conv.stride_h"] == 1 and at.session_state["conv.dil_h"] == 1
    assert not at.warning


def test_a_view_with_a_sample_picks_it_even_after_an_upload_source():
    at = open_page(PAGE, step="2")
    at.sidebar.segmented_control(key=state.SOURCE).set_value("Draw").run()
    at.button(key=P + "view.2.1").click().run()  # the classic 5×5 with the X kernel
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Convolution"
    assert at.session_state[state.SOURCE] == "Sample"
    assert at.session_state[state.IMAGE].name == "classic_5x5"
    assert at.session_state["conv.kernel"] == "x_shape"
    assert "**Output:** 3 × 3" in markdown_text(at)


def test_every_view_opens_a_lesson_page_whose_prefix_is_its_own():
    lesson = {p.path: p for p in catalog.LESSON}
    assert {view.page for _, view in ALL_VIEWS} <= set(lesson)
    for path in {view.page for _, view in ALL_VIEWS}:
        source = (ROOT / path).read_text()
        const = next(n for n in dir(catalog) if getattr(catalog, n) is lesson[path])
        assert f"PAGE = catalog.{const}" in source, path  # views.prepare clears that prefix


@pytest.mark.parametrize("size", [(1, 1, 3), (2, 3, 1), (4, 4, 1), (28, 28, 1), (512, 384, 3)])
def test_every_step_builds_on_any_image_size(size):
    """A 1×1 upload cannot be convolved with a 3×3 kernel: the answer says so, nothing
    raises."""
    img = tour.ImageSize(*size)
    for number in range(1, len(tour.STEPS) + 1):
        step = tour.build_step(number, img)
        assert step.text and step.views and all(t.answer for t in step.tries)
    answers = [t.answer for t in tour.build_step(5, img).tries]
    assert answers[0].startswith("Not on this image:") == (min(size[:2]) < 2)
