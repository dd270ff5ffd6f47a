"""The model registry, MNIST-style preprocessing and prediction with the shipped digits model."""

from __future__ import annotations

import json
import pickle

import cv2
import numpy as np
import pytest
import torch

import cnnviz
from cnnviz import MODELS, ModelError, ModelSpec, load_model, predict, preprocess
from cnnviz.data import mnist
from cnnviz.models import registry
from cnnviz.models.preprocessing import MNIST_MEAN, MNIST_STD, mnist_digit
from cnnviz.models.registry import TorchvisionWeights

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def heldout() -> tuple[np.ndarray, np.ndarray]:
    """The 1,000 held-out MNIST digits, uint8 (1000, 28, 28), and their labels."""
    images, labels = mnist.mnist_sample()
    _, test = mnist.split_indices(len(images))
    return images[test], labels[test]


def accuracy_of(images, labels) -> float:
    right = [predict("digits", im).argmax() == y for im, y in zip(images, labels, strict=True)]
    return float(np.mean(right))


# ---------------------------------------------------------------- shipped weights and card


@pytest.fixture(scope="module")
def heldout_accuracy(heldout) -> float:
    return accuracy_of(*heldout)


def test_shipped_digits_model_reaches_98_percent_on_heldout_images(heldout_accuracy):
    assert heldout_accuracy >= 0.98


def test_model_card_has_the_fields_and_the_measured_accuracy(heldout_accuracy):
    card = json.loads(MODELS["digits"].card.read_text())
    for key in ("data", "split", "heldout_accuracy", "epochs", "config", "date", "torch_version",
                "training_seconds", "parameter_count", "weights_bytes"):
        assert key in card, key
    assert "i % 5 == 4" in card["split"]
    assert card["config"]["seed"] == 0 and not card["config"]["validation"]
    assert card["heldout_accuracy"] == pytest.approx(heldout_accuracy, abs=0.002)
    model = load_model("digits")
    assert card["parameter_count"] == sum(p.numel() for p in model.parameters())
    assert MODELS["digits"].weights.path.stat().st_size < 2_000_000


def test_load_model_is_cached_in_eval_mode_and_flagged_pretrained():
    model = load_model("digits")
    assert model is load_model("digits")
    assert not model.training
    assert model.cnnviz_pretrained is True
    assert [name for name, _ in model.named_children()][:6] == [
        "conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    out = model(torch.zeros(2, *MODELS["digits"].input_size))
    assert out.shape == (2, 10)


# ---------------------------------------------------------------- preprocessing


def test_an_mnist_digit_passes_through_preprocessing_unchanged():
    images, _ = mnist.mnist_sample()
    sample = images[::10]  # 500 digits, 50 per class
    diff = np.array([np.abs(mnist_digit(im) * 255 - im).max() for im in sample])
    assert np.mean(diff <= 1.0) >= 0.99  # at most a grey level of contrast stretch


def test_preprocess_gives_a_standardised_float_tensor_of_the_input_size(heldout):
    image = heldout[0][0]
    x = preprocess("digits", image)
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32
    expected = (torch.from_numpy(image.astype(np.float32)) / 255 - MNIST_MEAN) / MNIST_STD
    assert torch.allclose(x[0, 0], expected, atol=1.01 / 255 / MNIST_STD)
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    assert torch.equal(preprocess("digits", rgb), x)
    rgba = np.dstack([rgb, np.full_like(image, 255)])
    assert torch.equal(preprocess("digits", rgba), x)


def paste_small_off_centre(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit at a random size (40-110 px) and place on a black 280x280 canvas."""
    size = int(rng.integers(40, 111))
    digit = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
    canvas = np.zeros((280, 280), np.uint8)
    top, left = rng.integers(0, 280 - size, size=2)
    canvas[top : top + size, left : left + size] = digit
    return canvas


def test_small_off_centre_digits_on_a_big_canvas_are_classified_like_mnist(heldout):
    rng = np.random.default_rng(0)
    images, labels = heldout
    canvases = [paste_small_off_centre(im, rng) for im in images]
    assert accuracy_of(canvases, labels) >= 0.95


def test_dark_ink_on_white_paper_in_rgb_is_classified_like_mnist(heldout):
    rng = np.random.default_rng(1)
    images, labels = heldout
    papers = [np.repeat(255 - paste_small_off_centre(im, rng)[:, :, None], 3, axis=2)
              for im in images]
    assert papers[0].shape == (280, 280, 3) and papers[0][0, 0, 0] == 255
    assert accuracy_of(papers, labels) >= 0.95


def test_inverted_digit_gives_the_same_tensor_as_the_original(heldout):
    image = heldout[0][3]
    assert torch.allclose(preprocess("digits", 255 - image), preprocess("digits", image),
                          atol=1e-6)


def test_noisy_grey_paper_is_cleaned_before_cropping(heldout):
    rng = np.random.default_rng(2)
    image = heldout[0][5]
    canvas = paste_small_off_centre(image, rng).astype(np.float32)
    paper = 200 - canvas * 0.6 + rng.normal(0, 6, canvas.shape)  # grey ink, noisy grey paper
    paper = np.clip(paper, 0, 255).astype(np.uint8)
    assert predict("digits", paper).argmax() == heldout[1][5]


@pytest.mark.parametrize("value", [0, 255, 128])
def test_a_blank_image_gives_uniform_probabilities(value):
    blank = np.full((280, 280, 3), value, np.uint8)
    x = preprocess("digits", blank)
    assert x.shape == (1, 1, 28, 28) and torch.all(x == x.flatten()[0])
    np.testing.assert_allclose(predict("digits", blank), np.full(10, 0.1))


def test_probabilities_are_a_distribution(heldout):
    p = predict("digits", heldout[0][7])
    assert p.shape == (10,) and np.all(p >= 0)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)


def test_unknown_image_shape_is_refused():
    with pytest.raises(ValueError, match="shape"):
        preprocess("digits", np.zeros((4, 4, 4, 4), np.uint8))


# ---------------------------------------------------------------- registry and weights


def test_every_spec_is_complete():
    assert "digits" in MODELS and "lenet5" in MODELS
    for name, spec in MODELS.items():
        assert isinstance(spec, ModelSpec) and spec.name == name
        assert len(spec.input_size) == 3 and spec.class_names and spec.description
        assert spec.weights_source
        with pytest.raises(AttributeError):
            spec.name = "other"  # frozen


@pytest.mark.parametrize("name", list(MODELS))
def test_any_size_says_which_networks_run_on_larger_inputs(name):
    """The flag tells the truth: the architecture (on the meta device, no weights) runs at
    320×320 exactly when it says so, and ``at_side`` refuses the others in a sentence."""
    spec = MODELS[name]
    c, h, w = spec.input_size
    net = cnnviz.architecture(name)
    try:
        out = net(torch.empty(1, c, 320, 320, device="meta"))
        runs = tuple(out.shape) == (1, len(spec.class_names))
    except RuntimeError:
        runs = False
    assert runs == spec.any_size, name
    if spec.any_size:
        larger = spec.at_side(448)
        assert larger.input_size == (c, 448, 448) and spec.input_size == (c, h, w)
        assert larger.preprocessing == spec.preprocessing and larger.name == name
        assert tuple(cnnviz.preprocess_for(larger, np.zeros((300, 500, 3), np.uint8)).shape) \
            == (1, c, 448, 448)
        for bad in (0, 16, 4096, 3.5, True):
            with pytest.raises(ModelError, match="whole number of pixels"):
                spec.at_side(bad)
    else:
        with pytest.raises(ModelError, match=f"takes {h}×{w} inputs only"):
            spec.at_side(448)


def test_unknown_model_name_is_explained():
    with pytest.raises(ModelError, match="Known models: digits"):
        load_model("nope")


@pytest.fixture
def tmp_assets(monkeypatch, tmp_path):
    """Point the registry at an empty assets folder and bypass the load_model cache."""
    monkeypatch.setattr(registry, "ASSETS_DIR", tmp_path)
    return tmp_path


def test_missing_required_weights_say_how_to_make_them(tmp_assets):
    with pytest.raises(ModelError, match="python -m cnnviz.train digits"):
        load_model.__wrapped__("digits")


def test_lenet5_without_weights_is_untrained_and_reproducible(tmp_assets):
    a, b = load_model.__wrapped__("lenet5"), load_model.__wrapped__("lenet5")
    assert a.cnnviz_pretrained is False and not a.training
    assert torch.equal(a.conv1.weight, b.conv1.weight)
    assert a(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


def test_lenet5_with_weights_loads_them(tmp_assets):
    state = {k: torch.full_like(v, 0.5) for k, v in MODELS["lenet5"].build().state_dict().items()}
    torch.save(state, tmp_assets / "lenet5.pt")
    model = load_model.__wrapped__("lenet5")
    assert model.cnnviz_pretrained is True
    assert torch.all(model.fc3.bias == 0.5)


def test_weights_are_loaded_with_weights_only(monkeypatch):
    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    load_model.__wrapped__("digits")
    assert calls and all(kw.get("weights_only") is True for kw in calls)


class NotATensor:
    pass


def test_a_pickled_object_in_a_weights_file_is_refused(tmp_assets):
    torch.save({"conv1.weight": NotATensor()}, tmp_assets / "lenet5.pt")
    with pytest.raises(pickle.UnpicklingError):
        load_model.__wrapped__("lenet5")


# ---------------------------------------------------------------- torchvision classics


def test_classic_specs_use_imagenet_classes_and_torchvision_weights():
    import torchvision.models

    categories = torchvision.models.get_weight("ResNet18_Weights.IMAGENET1K_V1").meta["categories"]
    for name in ("alexnet", "vgg16", "resnet18"):
        spec = MODELS[name]
        assert spec.class_names == tuple(categories)
        assert isinstance(spec.weights, TorchvisionWeights)
        assert torchvision.models.get_weight(spec.weights.enum_name).url.endswith(".pth")


def test_imagenet_preprocess_crops_to_the_input_size():
    x = preprocess("resnet18", np.zeros((300, 500, 3), np.uint8))
    assert x.shape == (1, 3, 224, 224) and x.dtype == torch.float32
    assert preprocess("resnet18", np.zeros((100, 120), np.uint8)).shape == (1, 3, 224, 224)


def test_classic_without_cached_weights_offline_is_flagged_untrained(monkeypatch, tmp_path):
    import torchvision.models._api

    def offline(*args, **kwargs):
        raise OSError("no network")  # what urllib raises offline (URLError is an OSError)

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("CNNVIZ_OFFLINE", raising=False)
    monkeypatch.setattr(torchvision.models._api.WeightsEnum, "get_state_dict", offline)
    model = load_model.__wrapped__("resnet18")
    assert model.cnnviz_pretrained is False and not model.training
    assert not any(getattr(m, "inplace", False) for m in model.modules())


def test_classic_with_cached_weights_loads_them(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("CNNVIZ_OFFLINE", "1")
    spec = MODELS["resnet18"]
    path = spec.weights.cached_path()
    assert path.parent == tmp_path / "hub" / "checkpoints"
    path.parent.mkdir(parents=True)
    state = spec.build().state_dict()
    state["fc.bias"] = torch.arange(1000, dtype=torch.float32)
    torch.save(state, path)
    model = load_model.__wrapped__("resnet18")
    assert model.cnnviz_pretrained is True
    assert torch.equal(model.fc.bias, state["fc.bias"])


def test_classic_download_goes_through_torchvision_with_weights_only(monkeypatch, tmp_path):
    import torchvision.models._api

    state = MODELS["resnet18"].build().state_dict()
    calls = []

    def download(url, **kwargs):
        calls.append((url, kwargs))
        return state

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("CNNVIZ_OFFLINE", raising=False)
    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", download)
    model = load_model.__wrapped__("resnet18")
    assert model.cnnviz_pretrained is True
    (url, kwargs), = calls
    assert url.endswith("resnet18-f37072fd.pth")
    assert kwargs["weights_only"] is True and kwargs["check_hash"] is True
