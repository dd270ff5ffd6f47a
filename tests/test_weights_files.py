"""Weights files a user brings (cnnviz.models.files): a head saved and loaded back, whole
state dicts of the supported architectures, and every hostile file refused unread."""

from __future__ import annotations

import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import cnnviz
from cnnviz.data.samples import load_sample
from cnnviz.models import files
from cnnviz.network.hooks import hook_count

BASE = "efficientnet_lite0"
NAMES = ("cat", "cup", "star")


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _legacy(obj) -> bytes:
    """The pre-1.6 format (a bare pickle stream, no zip archive)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=False)
    return buffer.getvalue()


def _deflated(data: bytes) -> bytes:
    """The same archive with every entry deflated: how a zip bomb packs gigabytes small."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, source.read(entry))
    return out.getvalue()


@pytest.fixture(scope="module")
def learnt():
    images = [load_sample("cat"), load_sample("coffee"), load_sample("shape_star"),
              load_sample("cat_coffee"), load_sample("shape_circle"), load_sample("camera")]
    return cnnviz.transfer_learn(images, [0, 1, 2, 0, 2, 1], NAMES)


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/cnnviz_pwned",))


def test_a_head_round_trips_through_its_file(learnt):
    data = cnnviz.save_head(learnt)
    assert len(data) < 64_000  # 3 × 1,280 weights and 3 biases, in float32
    back = cnnviz.load_head(data)
    assert back.cnnviz_class_names == NAMES and back.cnnviz_base == BASE
    assert torch.equal(back.fc.weight, learnt.fc.weight) and torch.equal(back.fc.bias,
                                                                          learnt.fc.bias)
    x = cnnviz.preprocess(BASE, load_sample("cat_coffee"))
    with torch.no_grad():
        assert torch.equal(back(x), learnt(x))
    assert back.stem.conv.weight is cnnviz.load_model(BASE).stem.conv.weight  # shared base
    heat = cnnviz.grad_cam(back, x, 1, cnnviz.RECOMMENDED_LAYERS[BASE])
    assert heat.shape == (224, 224) and hook_count(back) == 0


def test_a_head_in_the_old_format_loads_too(learnt):
    head = torch.load(io.BytesIO(cnnviz.save_head(learnt)), weights_only=True)
    back = cnnviz.load_head(_legacy(head))
    assert torch.equal(back.fc.weight, learnt.fc.weight)


def test_a_head_file_is_plain_tensors_and_words():
    data = cnnviz.save_head(cnnviz.transfer_learn([load_sample("cat")] * 2, [0, 1], ("a", "b")))
    found = torch.load(io.BytesIO(data), weights_only=True)
    assert found["format"] == files.HEAD_FORMAT and found["class_names"] == ["a", "b"]
    assert set(found["state_dict"]) == {"weight", "bias"}


def test_only_a_transfer_model_has_a_head_to_save():
    with pytest.raises(cnnviz.WeightsError, match="transfer learning"):
        cnnviz.save_head(cnnviz.load_model("digits"))


@pytest.mark.parametrize(("data", "message"), [
    (lambda h: _saved({"x": _Payload()}), "Python objects or code"),
    (lambda h: pickle.dumps(_Payload(), protocol=2), "Python objects or code"),
    (lambda h: pickle.dumps(_Payload(), protocol=4), "not a PyTorch weights file"),
    (lambda h: _legacy({"x": _Payload()}), "Python objects or code"),
    (lambda h: np.random.default_rng(3).bytes(4096), "not a PyTorch weights file"),
    (lambda h: _deflated(_saved(h)), "compressed"),
    (lambda h: _saved({**h, "state_dict": {"weight": torch.zeros(3, 1280, device="meta"),
                                            "bias": torch.zeros(3)}}), "not a plain tensor"),
    (lambda h: _saved({**h, "state_dict": {"weight": torch.zeros(3, 1280).to_sparse(),
                                            "bias": torch.zeros(3)}}), "not a plain tensor"),
    (lambda h: _saved({**h, "state_dict": {
        "weight": torch.quantize_per_tensor(torch.zeros(3, 1280), 0.1, 0, torch.qint8),
        "bias": torch.zeros(3)}}), "not a plain tensor"),
    (lambda h: _saved({**h, "state_dict": {"weight": torch.full((3, 1280), float("nan")),
                                            "bias": torch.zeros(3)}}), "NaN"),
    (lambda h: _saved({**h, "state_dict": {"weight": torch.zeros(3, 1280, dtype=torch.int64),
                                            "bias": torch.zeros(3)}}), "floating point"),
    (lambda h: _saved({**h, "class_names": ["[a](https://x.example)", "b", "c"]}),
     "letters, digits, spaces"),
    (lambda h: _saved({**h, "class_names": ["![](https://x.example/t.png)", "b", "c"]}),
     "letters, digits, spaces"),
    (lambda h: b"", "empty"),
    (lambda h: _saved({"weight": torch.zeros(3, 1280)}), "not a head saved by cnnviz"),
    (lambda h: _saved({**h, "base": "digits"}), "does not have"),
    (lambda h: _saved({**h, "state_dict": {"weight": torch.zeros(3, 1000),
                                            "bias": torch.zeros(3)}}), "3×1280 weight"),
    (lambda h: _saved({**h, "state_dict": {"weight": torch.zeros(3, 1280)}}), "exactly"),
    (lambda h: _saved({**h, "class_names": ["a", "a", "b"]}), "names repeat"),
    (lambda h: _saved({**h, "class_names": ["a", 3, "b"]}), "list of words"),
    (lambda h: _saved({**h, "class_names": ["a", "b"]}), "2×1280 weight"),
])
def test_a_bad_head_file_is_refused_in_a_sentence(learnt, data, message):
    head = torch.load(io.BytesIO(cnnviz.save_head(learnt)), weights_only=True)
    if os.path.exists("/tmp/cnnviz_pwned"):
        os.remove("/tmp/cnnviz_pwned")
    with pytest.raises(cnnviz.WeightsError, match=message):
        cnnviz.load_head(data(head))
    assert not os.path.exists("/tmp/cnnviz_pwned")  # the payload never ran


def test_a_file_over_the_limit_is_refused_before_it_is_read(monkeypatch):
    monkeypatch.setattr(files, "MAX_WEIGHTS_MB", 1)
    with pytest.raises(cnnviz.WeightsError, match="the limit for a weights file is 1 MB"):
        cnnviz.load_head(b"\0" * (2 * 2**20))


def _random_state(name: str, seed: int = 1) -> dict:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cnnviz.get_spec(name).build().state_dict()


@pytest.mark.parametrize("name", ["digits", "shapes", "lenet5", "resnet18", "alexnet",
                                  "efficientnet_lite0"])
def test_a_state_dict_of_each_architecture_loads_and_computes_as_its_source(name):
    state = _random_state(name)
    if name == "alexnet":  # 233 MB in float32, over the limit: half precision is 117 MB
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    data = _saved(state)
    assert len(data) < files.MAX_WEIGHTS_MB * 2**20
    model = cnnviz.load_weights(data, name)
    assert model.cnnviz_class_names == cnnviz.get_spec(name).class_names
    assert model.cnnviz_pretrained and model.cnnviz_base == name and not model.training
    assert all(p.dtype == torch.float32 for p in model.parameters())
    source = cnnviz.get_spec(name).build().eval()
    source.load_state_dict({k: v.float() if v.is_floating_point() else v
                            for k, v in state.items()})
    x = torch.randn(1, *cnnviz.get_spec(name).input_size)
    with torch.no_grad():
        assert torch.allclose(model(x), source(x), atol=1e-5)


def test_vgg16_in_float32_is_over_the_limit_and_says_so():
    assert 2 * 138_357_544 > files.MAX_WEIGHTS_MB * 2**20  # even in half precision
    with pytest.raises(cnnviz.WeightsError, match="the limit for a weights file is 200 MB"):
        cnnviz.load_weights(b"\0" * (files.MAX_WEIGHTS_MB * 2**20 + 1), "vgg16")


def test_a_fine_tuned_network_with_its_own_classes_loads():
    state = _random_state("resnet18")
    state["fc.weight"], state["fc.bias"] = torch.randn(3, 512), torch.randn(3)
    wrapped = {"model_state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 3}
    model = cnnviz.load_weights(_saved(wrapped), "resnet18", ["ant", "bee", "wasp"])
    assert model.fc.out_features == 3 and model.cnnviz_class_names == ("ant", "bee", "wasp")
    assert torch.equal(model.fc.weight, state["fc.weight"])
    with pytest.raises(cnnviz.WeightsError, match="3 class scores: name the classes"):
        cnnviz.load_weights(_saved(state), "resnet18")
    with pytest.raises(cnnviz.WeightsError, match="3 class scores but 2 class names"):
        cnnviz.load_weights(_saved(state), "resnet18", ["ant", "bee"])


def test_the_efficientnet_packages_own_names_load_too():
    path = cnnviz.models.efficientnet.package_weights_path()
    data = path.read_bytes()
    model = cnnviz.load_weights(data, "efficientnet_lite0")
    x = cnnviz.preprocess(BASE, load_sample("cat"))
    with torch.no_grad():
        assert torch.allclose(model(x), cnnviz.load_model(BASE)(x), atol=1e-5)


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.update({"layer1.0.conv1.weight": torch.zeros(3, 3, 3, 3)}),
     r"layer1.0.conv1.weight has the shape \(3, 3, 3, 3\), but resnet18 needs \(64, 64, 3, 3\)"),
    (lambda s: s.pop("bn1.running_mean"), "it lacks bn1.running_mean"),
    (lambda s: s.update({"extra.weight": torch.zeros(1)}), "it has extra.weight"),
    (lambda s: s.update({"fc.bias": torch.zeros(7)}), "different numbers of classes"),
    (lambda s: s.update({"fc.weight": torch.zeros(1000, 100)}), "fc.weight has the shape"),
    (lambda s: s.update({"conv1.weight": torch.full((64, 3, 7, 7), float("nan"))}), "NaN"),
])
def test_a_state_dict_that_does_not_fit_is_refused_before_loading(change, message):
    state = _random_state("resnet18")
    change(state)
    with pytest.raises(cnnviz.WeightsError, match=message):
        cnnviz.load_weights(_saved(state), "resnet18")


@pytest.mark.parametrize("data", [
    _saved([torch.zeros(3)]), _saved({"a": 1}), _saved({}), b"PK\x03\x04 not a zip",
    _saved({"conv1.weight": torch.zeros(2, 2, dtype=torch.complex64)}),
])
def test_a_file_that_holds_no_state_dict_is_refused(data):
    with pytest.raises(cnnviz.WeightsError):
        cnnviz.load_weights(data, "digits")


def test_other_architectures_are_refused():
    with pytest.raises(cnnviz.WeightsError, match="not 'lesson'"):
        cnnviz.load_weights(_saved(_random_state("digits")), "lesson")
    with pytest.raises(cnnviz.WeightsError, match="These are not vgg16 weights"):
        cnnviz.load_weights(_saved(_random_state("digits")), "vgg16")


def test_a_loaded_network_predicts_on_a_photo_with_its_classes():
    state = _random_state("digits")
    model = cnnviz.load_weights(_saved(state), "digits", [str(d) for d in range(10)])
    probs = cnnviz.predict("digits", load_sample("digit_7") if "digit_7" in cnnviz.SAMPLES
                           else np.zeros((28, 28, 3), np.uint8), model=model)
    assert probs.shape == (10,) and abs(probs.sum() - 1) < 1e-9
