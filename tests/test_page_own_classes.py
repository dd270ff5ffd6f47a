"""The Your own classes page (AppTest): classes from a ready-made set, training, the honest
numbers, the new network on the other network pages, keeping the head, refusals."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import torch

from tests.apptest import open_page
from ui import state

PAGE = "pages/own_classes.py"
P = "own."


def outcome_names(at) -> tuple[str, ...]:
    return at.session_state[state.OWN_RUN].class_names


def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture(scope="module")
def trained():
    """The page after 'Use this set' (shapes, 6 a class) and Train."""
    at = open_page(PAGE)
    at.number_input(key=P + "per_class").set_value(6).run()
    at.button(key=P + "use_set").click().run()
    at.button(key=P + "train").click().run()
    _no_exception(at)
    at.session_state[state.OWN_RUN].scratch.result(timeout=120)  # training beside the page
    at.run()
    _no_exception(at)
    return at


def test_a_new_session_starts_with_two_empty_classes_and_cannot_train():
    at = open_page(PAGE)
    classes = at.session_state[state.OWN_CLASSES]
    assert classes.names == ["Class 1", "Class 2"] and classes.count == 0
    assert at.button(key=P + "train").disabled
    assert any("Add at least one image to Class 1, Class 2." in c.value for c in at.caption)


def test_classes_can_be_added_renamed_and_removed_within_the_limits():
    at = open_page(PAGE)
    for _ in range(5):
        if not at.button(key=P + "add_class").disabled:
            at.button(key=P + "add_class").click().run()
    classes = at.session_state[state.OWN_CLASSES]
    assert len(classes.names) == 6 and at.button(key=P + "add_class").disabled
    gen = classes.generation
    at.text_input(key=f"{P}name.{gen}.0").input("cats").run()
    assert at.session_state[state.OWN_CLASSES].names[0] == "cats"
    at.button(key=f"{P}drop.{gen}.1").click().run()
    assert at.session_state[state.OWN_CLASSES].names[:2] == ["cats", "Class 3"]
    _no_exception(at)


def test_the_sidebar_image_joins_a_class_once():
    at = open_page(PAGE)
    gen = at.session_state[state.OWN_CLASSES].generation
    at.button(key=f"{P}side.{gen}.0").click().run()
    at.button(key=f"{P}side.{gen}.0").click().run()
    classes = at.session_state[state.OWN_CLASSES]
    assert [e.origin for e in classes.images[0]] == ["Cat (Chelsea)"]
    assert any("is in Class 1 already" in w.value for w in at.warning)


def test_uploads_keep_the_good_files_and_refuse_the_others_in_a_sentence():
    from cnnviz import encode_png
    at = open_page(PAGE)
    gen = at.session_state[state.OWN_CLASSES].generation
    good = encode_png(np.full((40, 50, 3), 200, np.uint8))
    at.file_uploader(key=f"{P}upload.{gen}.1").set_value(
        [("good.png", good, "image/png"), ("bad.png", b"not an image", "image/png")]).run()
    _no_exception(at)
    classes = at.session_state[state.OWN_CLASSES]
    assert [e.origin for e in classes.images[1]] == ["good.png"]
    problems = [w.value for w in at.warning]
    assert len(problems) == 1 and problems[0].startswith("“bad.png” was not loaded.")


def test_training_shows_both_accuracies_and_confusion_matrices(trained):
    outcome = trained.session_state[state.OWN_RUN]
    assert outcome.class_names == ("circle", "square", "triangle", "star")
    assert outcome.counts == (6, 6, 6, 6)
    run = outcome.run
    assert len(run.held_out) == 8 and len(run.train) == 16  # a quarter of each class, rounded
    scratch = outcome.scratch_result()
    labels = [m.label for m in trained.metric]
    assert labels == ["Transfer learning", "CNN from scratch"]
    assert trained.metric[0].value == f"{run.transfer.accuracy:.0%}"
    assert trained.metric[1].value == f"{scratch.accuracy:.0%}"
    assert len(trained.get("plotly_chart")) == 2
    assert run.transfer.confusion.sum() == 8 and scratch.confusion.sum() == 8
    assert scratch.truth.tolist() == run.transfer.truth.tolist()  # the same held-out images
    captions = "\n".join(c.value for c in trained.caption)
    assert ("Held out and judged: 8 images (circle 2 of 6, square 2 of 6, triangle 2 of 6, "
            "star 2 of 6); the networks trained on the other 16.") in captions
    assert "most common held-out class would score 25%" in captions
    assert f"On its own training images it gets {scratch.train_accuracy:.0%} right" in captions


def test_the_new_network_joins_every_network_page(trained):
    name = trained.session_state[state.OWN_RUN].name
    at = trained
    at.button(key=P + "go.gradcam").click().run()
    _no_exception(at)
    assert at.title[0].value == "Grad-CAM"
    assert at.session_state["gradcam.model"] == name
    options = at.selectbox(key="gradcam.class").options
    assert len(options) == 5 and any("circle" in o for o in options)
    assert not at.error
    # the numbers are the new network's, not the base's: P(class) on the cat photo
    import cnnviz
    own_model = at.session_state[state.OWN_MODELS][name].model
    probs = cnnviz.predict("efficientnet_lite0", at.session_state[state.IMAGE].pixels,
                           model=own_model)
    k = int(probs.argmax())
    shown = {m.label: m.value for m in at.metric}
    assert shown[f"P({outcome_names(at)[k]})"] == f"{probs[k]:.1%}"
    for page, key in (("pages/feature_maps.py", "fmaps.model"),
                      ("pages/architecture.py", "arch.model"),
                      ("pages/overview.py", "overview.model"),
                      ("pages/filters.py", "filters.model"),
                      ("pages/models.py", "models.model"),
                      ("pages/channels.py", "channels.model"),
                      ("pages/receptive_fields.py", "rf.model")):
        at.switch_page(page).run()
        at.selectbox(key=key).set_value(name).run()
        _no_exception(at)
        assert at.session_state[key] == name, page
        assert not at.error, (page, [e.value for e in at.error])
    # the Architecture table has the new head: 1,280 × 4 + 4 parameters
    at.switch_page("pages/architecture.py").run()
    tables = at.dataframe
    assert any((t.value["layer"] == "fc").any() and
               int(t.value[t.value["layer"] == "fc"]["parameters"].iloc[0]) == 1280 * 4 + 4
               for t in tables if "layer" in t.value)


def test_the_head_downloads_and_loads_back(trained):
    import cnnviz
    outcome = trained.session_state[state.OWN_RUN]
    model = trained.session_state[state.OWN_MODELS][outcome.name].model
    data = cnnviz.save_head(model)
    at = open_page(PAGE)
    at.file_uploader(key=P + "weights").set_value([("head.pt", data, "application/octet-stream")])
    at.run()
    at.button(key=P + "load").click().run()
    _no_exception(at)
    own = list(at.session_state[state.OWN_MODELS].values())
    assert len(own) == 1 and own[0].origin == "head file"
    assert own[0].model.cnnviz_class_names == outcome.class_names
    x = cnnviz.preprocess("efficientnet_lite0", cnnviz.load_sample("shape_star"))
    with torch.no_grad():
        assert torch.allclose(own[0].model(x), model(x), atol=1e-5)
    assert any("is on every network page's model list" in s.value for s in at.success)


def test_a_hostile_weights_file_is_refused_in_a_sentence():
    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buffer = io.BytesIO()
    torch.save({"x": Payload()}, buffer)
    at = open_page(PAGE)
    at.file_uploader(key=P + "weights").set_value([("evil.pt", buffer.getvalue(),
                                                    "application/octet-stream")])
    at.run()
    at.button(key=P + "load").click().run()
    _no_exception(at)
    assert not at.session_state[state.OWN_MODELS]
    assert [e.value for e in at.error] == [
        "“evil.pt” was refused. This file holds Python objects or code besides tensors, so "
        "it was refused unread: a weights file holds only numbers."]


def test_another_session_does_not_know_this_sessions_network(trained):
    name = trained.session_state[state.OWN_RUN].name
    at = open_page("pages/gradcam.py", model=name)
    _no_exception(at)
    assert at.session_state["gradcam.model"] != name
    assert any("`model`" in w.value for w in at.warning), [w.value for w in at.warning]


def test_training_again_replaces_the_network_and_reuses_every_images_features(monkeypatch):
    from ui import own
    at = open_page(PAGE)
    at.number_input(key=P + "per_class").set_value(3).run()
    at.button(key=P + "use_set").click().run()
    counted = []
    real = own.image_features
    monkeypatch.setattr(own, "image_features",
                        lambda images, **kw: counted.append(len(images)) or real(images, **kw))
    at.toggle(key=P + "scratch").set_value(False).run()
    at.button(key=P + "train").click().run()
    first = at.session_state[state.OWN_RUN].name
    assert counted == [12]
    # one more image (the sidebar's cat) into circle, and train again: one image's features
    gen = at.session_state[state.OWN_CLASSES].generation
    at.button(key=f"{P}side.{gen}.0").click().run()
    at.button(key=P + "train").click().run()
    _no_exception(at)
    assert counted == [12, 1]
    second = at.session_state[state.OWN_RUN].name
    assert second != first and list(at.session_state[state.OWN_MODELS]) == [second]
    assert at.session_state[state.OWN_RUN].counts == (4, 3, 3, 3)
    # augmentation asks for the views once, then keeps them too
    at.toggle(key=P + "augment").set_value(True).run()
    at.button(key=P + "train").click().run()
    at.button(key=P + "train").click().run()
    assert counted == [12, 1, 13 * 2]


def test_removing_goes_by_the_image_and_the_class_it_showed():
    at = open_page(PAGE)
    at.number_input(key=P + "per_class").set_value(2).run()
    at.button(key=P + "use_set").click().run()
    classes = at.session_state[state.OWN_CLASSES]
    doomed = classes.images[1][0]
    classes.remove(doomed.digest)
    assert [len(i) for i in classes.images] == [2, 1, 2, 2]
    assert doomed.digest not in classes.features
    classes.remove_class("triangle")
    classes.remove_class("triangle")  # a second, stale click: nothing more goes
    assert classes.names == ["circle", "square", "star"]
    classes.remove_class("circle")
    classes.remove_class("square")  # two classes stay
    assert classes.names == ["square", "star"]


def test_a_class_name_that_markdown_would_read_is_refused():
    at = open_page(PAGE)
    gen = at.session_state[state.OWN_CLASSES].generation
    at.text_input(key=f"{P}name.{gen}.0").input("[click](https://x.example)").run()
    assert "Class names may hold letters, digits, spaces" in at.session_state[
        state.OWN_CLASSES].name_problem()
