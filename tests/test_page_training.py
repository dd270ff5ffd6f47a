"""The Training page, through app.py as the server runs it (AppTest).

AppTest does not poll fragments (``run_every``), so the tests wait for the training thread
with ``job.join`` and then rerun the page, as the fragment's poll would.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnnviz import TrainConfig, load_model, predict
from tests.apptest import open_page
from ui import state, training_job
from ui.cache import predictions

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
PAGE = "pages/training.py"
TIMEOUT = 60
P = "train."
QUICK = dict(epochs="1", images="512")  # one epoch on 512 images: about 2 s of training


def _training(**query) -> AppTest:
    """The app opened with `query`, then switched to the Training page."""
    return open_page(PAGE, **query)


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _query(at: AppTest, key: str):
    value = at.query_params.get(key)
    return value[0] if isinstance(value, list) else value


def _top3_rows(at: AppTest) -> list[str]:
    """Texts of the top-3 bars ("**7** · 99.1%"), in page order."""
    return [p.proto.text for p in at.get("progress") if p.proto.text.startswith("**")]


def _train(at: AppTest) -> training_job.TrainingJob:
    """Click Train, wait for the thread, and rerun the page as the live view's poll would."""
    at.button(key=P + "start").click().run()
    _no_exception(at)
    job = at.session_state[state.TRAINING_JOB]
    job.join(timeout=60)
    assert not job.running, "the run did not end within 60 s"
    at.run()
    _no_exception(at)
    return job


def _asset_times() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (ROOT / "assets").iterdir()}


def test_renders_with_defaults():
    at = _training()
    assert at.title[0].value == "Training"
    assert not at.error and not at.warning
    assert at.selectbox(key=P + "model").value == "digits"
    assert at.slider(key=P + "epochs").value == 10
    assert at.select_slider(key=P + "lr").value == TrainConfig().lr
    assert at.select_slider(key=P + "batch").value == TrainConfig().batch_size
    assert at.toggle(key=P + "augment").value is True
    assert not at.button(key=P + "start").disabled
    assert len(at.get("plotly_chart")) == 1  # the random first layer, before any training
    assert len(_top3_rows(at)) == 3  # the bundled network's answer
    assert state.TRAINED_MODELS not in at.session_state or not at.session_state[
        state.TRAINED_MODELS]
    for key in ("epochs", "lr", "batch", "augment", "model", "images"):
        assert key not in at.query_params  # defaults stay out of the URL


def test_url_values_seed_the_controls():
    at = _training(epochs="3", lr="0.01", batch="32", augment="0", images="256")
    assert not at.warning
    assert at.slider(key=P + "epochs").value == 3
    assert at.select_slider(key=P + "lr").value == 0.01
    assert at.select_slider(key=P + "batch").value == 32
    assert at.toggle(key=P + "augment").value is False
    assert at.session_state[P + "images"] == 256
    assert any("Training on 256 of the training images" in c.value for c in at.caption)
    assert _query(at, "epochs") == "3" and _query(at, "lr") == "0.01"
    assert _query(at, "images") == "256" and _query(at, "augment") == "0"
    at.slider(key=P + "epochs").set_value(10).run()  # back to the default: out of the URL
    assert "epochs" not in at.query_params


def test_hostile_values_give_a_notice_and_the_defaults():
    at = _training(epochs="99", lr="<script>alert(1)</script>", batch="7", model="../../etc",
                   augment="maybe", images="-5")
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and "defaults are shown" in warnings[0]
    for key in ("epochs", "lr", "batch", "model", "augment", "images"):
        assert f"`{key}`" in warnings[0]
    assert "<script>" not in warnings[0]
    assert at.slider(key=P + "epochs").value == 10
    assert at.select_slider(key=P + "lr").value == TrainConfig().lr
    assert at.select_slider(key=P + "batch").value == 64
    assert at.selectbox(key=P + "model").value == "digits"
    assert at.session_state[P + "images"] is None


def test_a_short_run_keeps_the_model_in_this_session_only():
    before = _asset_times()
    at = _training(sample="digit_7", **QUICK)
    job = _train(at)
    assert job.status == "finished" and len(job.history) == 1
    # The model is this session's, a new module, in eval mode, not the shared bundled one.
    model, card = at.session_state[state.TRAINED_MODELS]["digits"]
    assert model is job.model and model is not load_model("digits") and not model.training
    assert card["epochs"] == 1 and card["train_images"] == 512
    assert "evenly spaced" in card["split"]
    assert card["heldout_accuracy"] == pytest.approx(job.heldout_accuracy, abs=1e-4)
    assert "browser session" in card["trained_in"] and "command" not in card
    assert _asset_times() == before  # nothing written to assets/
    # The page: finished progress, curves, both filter grids, results, two top-3 lists.
    assert not at.error and not at.button(key=P + "start").disabled
    assert any("Finished 1 epoch in" in p.proto.text for p in at.get("progress"))
    assert len(at.get("plotly_chart")) == 3  # curves, filters before, filters after
    assert [m.label for m in at.metric] == ["Held-out accuracy", "Epochs", "Training time"]
    rows = _top3_rows(at)
    assert len(rows) == 6  # your network, then the bundled one
    assert rows[3].startswith("**7**")  # the bundled network reads the digit 7
    # A second browser session sees no trained model and only the bundled answer.
    other = _training(sample="digit_7")
    assert not other.session_state[state.TRAINED_MODELS]
    assert state.TRAINING_JOB not in other.session_state
    assert len(_top3_rows(other)) == 3


def test_stop_ends_the_run_and_the_controls_wait_for_it():
    at = _training(epochs="30", images="512")
    at.button(key=P + "start").click().run()
    job = at.session_state[state.TRAINING_JOB]
    assert at.button(key=P + "start").disabled  # one run per session
    assert at.slider(key=P + "epochs").disabled
    at.button(key=P + "stop").click().run()
    _no_exception(at)
    assert job.stop_requested
    job.join(timeout=60)
    assert job.status == "stopped" and len(job.history) < 30
    at.run()
    _no_exception(at)
    assert not at.button(key=P + "start").disabled
    assert any("of 30 epochs" in p.proto.text for p in at.get("progress"))
    if job.history:  # stopped after an epoch: the network as it was is kept
        assert state.TRAINED_MODELS in at.session_state
    else:
        assert any("no network to keep" in i.value for i in at.info)


def test_a_busy_server_refuses_with_a_sentence():
    taken = 0
    while training_job._slots.acquire(blocking=False):
        taken += 1
    try:
        at = _training(**QUICK)
        at.button(key=P + "start").click().run()
        _no_exception(at)
        assert state.TRAINING_JOB not in at.session_state
        assert "already training" in at.error[0].value
    finally:
        for _ in range(taken):
            training_job._slots.release()


def test_a_failing_run_shows_an_error(monkeypatch):
    def broken(config, on_epoch=None, stop=None, data=None):
        raise RuntimeError("the data went missing")

    monkeypatch.setitem(training_job.TRAINERS, "digits", broken)
    at = _training(**QUICK)
    job = _train(at)
    assert job.status == "failed"
    assert "the data went missing" in at.error[0].value
    assert not at.session_state[state.TRAINED_MODELS]
    assert not at.button(key=P + "start").disabled  # the page stays usable


def test_top3_matches_the_library():
    pixels = np.zeros((28, 28, 3), np.uint8)
    pixels[6:22, 12:16] = 255  # a "1"
    top = predictions.top_classes("digits", pixels)
    probs = predict("digits", pixels)
    assert [label for label, _ in top] == [str(i) for i in np.argsort(-probs)[:3]]
    assert [p for _, p in top] == pytest.approx(sorted(probs, reverse=True)[:3])


def test_home_shows_the_bundled_networks_top3():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["sample"] = "digit_3"
    at.run()
    _no_exception(at)
    assert any(s.value == "What the digits network says" for s in at.subheader)
    rows = _top3_rows(at)
    assert len(rows) == 3 and rows[0].startswith("**3**")


def test_home_shows_the_imagenet_networks_top5_for_a_photo():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["sample"] = "coffee"
    at.run()
    _no_exception(at)
    assert any(s.value == "What the efficientnet_lite0 network says" for s in at.subheader)
    rows = _top3_rows(at)
    assert len(rows) == 5 and rows[0].startswith("**espresso**")
    assert any("1,000 ImageNet classes only" in c.value for c in at.caption)


def test_a_small_digit_subset_holds_every_digit():
    # The bundled digits are sorted by class: the first 512 training images are 0s and 1s.
    data = training_job._digit_data(512)
    assert len(data.train_y) == 512
    counts = np.bincount(data.train_y.numpy(), minlength=10)
    assert counts.min() >= 50 and counts.max() <= 53
    assert len(data.test_y) == 1000  # the held-out images are all kept


def test_config_for_each_model():
    config = training_job.config_for("digits", 3, 0.01, 32, False, 256)
    assert (config.epochs, config.lr, config.batch_size, config.augment) == (3, 0.01, 32, False)
    assert config.max_train_images is None  # digits get their subset through the job
    if "shapes" in training_job.TRAINERS:
        shapes = training_job.config_for("shapes", 2, 0.003, 64, True, 256)
        assert shapes.model == "shapes" and shapes.train_images == 256
