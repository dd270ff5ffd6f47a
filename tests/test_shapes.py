"""The shapes data set, the shipped shapes model and its card, its preprocessing and training."""

from __future__ import annotations

import copy
import dataclasses
import json

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from cnnviz import (
    MODELS,
    SAMPLES,
    ShapesConfig,
    cli,
    load_model,
    load_sample,
    load_shapes_data,
    predict,
    preprocess,
    train_shapes,
)
from cnnviz.data import shapes
from cnnviz.data.samples import SHAPE_SAMPLES_PER_CLASS, shape_sample_name
from cnnviz.models.preprocessing import SHAPES_MEAN, SHAPES_STD
from cnnviz.models.training import random_symmetry

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ---------------------------------------------------------------- the generator


def test_the_same_seed_gives_the_same_images_and_a_longer_set_extends_a_shorter_one():
    a = shapes.make_shapes(12, seed=5)
    b = shapes.make_shapes(12, seed=5)
    longer = shapes.make_shapes(20, seed=5)
    for x, y, z in zip(a, b, longer, strict=True):
        assert np.array_equal(x, y) and np.array_equal(x, z[:12])
    other = shapes.make_shapes(12, seed=6)
    assert not np.any([np.array_equal(p, q) for p, q in zip(a[0], other[0], strict=True)])


def test_types_shapes_and_exact_class_balance():
    images, labels, boxes = shapes.make_shapes(400, seed=7)
    assert images.shape == (400, 64, 64, 3) and images.dtype == np.uint8
    assert labels.dtype == np.int64 and boxes.shape == (400, 4) and boxes.dtype == np.int64
    assert np.array_equal(labels, np.arange(400) % 4)
    assert np.all(np.bincount(labels) == 100)
    _, heldout_labels, _ = shapes.shapes_heldout()
    assert np.all(np.bincount(heldout_labels) == shapes.HELDOUT_IMAGES // 4)


def test_the_object_lies_inside_its_box_which_is_tight_and_of_the_promised_size():
    seed = 11
    _, labels, boxes = shapes.make_shapes(400, seed)
    lo, hi = shapes.SIZE_RANGE
    fill = {name: [] for name in shapes.CLASS_NAMES}
    for i, (r0, r1, c0, c1) in enumerate(boxes):
        mask = shapes.shape_mask(seed, i)
        inside = np.zeros_like(mask)
        inside[r0:r1, c0:c1] = True
        assert mask.any() and not np.any(mask & ~inside)  # every object pixel is in the box
        # tight: each edge row and column of the box holds object pixels
        assert mask[r0].any() and mask[r1 - 1].any() and mask[:, c0].any() and mask[:, c1 - 1].any()
        assert lo <= max(r1 - r0, c1 - c0) <= hi
        fill[shapes.CLASS_NAMES[labels[i]]].append(mask.sum() / ((r1 - r0) * (c1 - c0)))
    # The shapes are what they say: the share of the box they fill (a circle pi/4 = 0.785, a
    # square 0.5 to 1 depending on its rotation, a triangle about 1/2, a 5-point star less).
    bands = {"circle": (0.65, 0.9), "square": (0.48, 1.0), "triangle": (0.42, 0.6),
             "star": (0.33, 0.5)}
    for name, (low, high) in bands.items():
        assert low <= min(fill[name]) and max(fill[name]) <= high, name


def test_the_object_is_drawn_on_top_in_one_colour_that_stands_out():
    seed = 12
    images, _, _ = shapes.make_shapes(100, seed)
    for i, image in enumerate(images):
        mask = shapes.shape_mask(seed, i)
        pixels = image[mask].astype(np.float64)  # (K, 3)
        assert pixels.std(axis=0).max() < 2 * shapes.NOISE_STD  # a flat colour plus noise
        ring = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & ~mask
        if ring.sum() > 20:  # the ring just outside the object is a different colour
            gap = np.linalg.norm(np.median(pixels, 0) - np.median(image[ring], 0))
            assert gap > 30, i


def test_backgrounds_are_cluttered_not_flat():
    seed = 13
    images, _, _ = shapes.make_shapes(50, seed)
    for i, image in enumerate(images):
        background = image[~shapes.shape_mask(seed, i)].astype(np.float64)
        assert background.std(axis=0).max() > 2 * shapes.NOISE_STD  # texture and distractors


def test_heldout_set_is_cached_read_only_and_shares_no_image_with_training():
    images, labels, boxes = shapes.shapes_heldout()
    assert shapes.shapes_heldout()[0] is images and len(images) == shapes.HELDOUT_IMAGES
    assert not images.flags.writeable and not boxes.flags.writeable
    assert np.array_equal(images[:8], shapes.make_shapes(8, shapes.HELDOUT_SEED)[0])
    assert len({shapes.TRAIN_SEED, shapes.VALIDATION_SEED, shapes.HELDOUT_SEED}) == 3
    train_images, _, _ = shapes.make_shapes(1000, shapes.TRAIN_SEED)
    assert not {im.tobytes() for im in train_images} & {im.tobytes() for im in images}


# ---------------------------------------------------------------- the shipped model and card


@pytest.fixture(scope="module")
def heldout_accuracy() -> float:
    images, labels, _ = shapes.shapes_heldout()
    right = [predict("shapes", im).argmax() == y for im, y in zip(images, labels, strict=True)]
    return float(np.mean(right))


def test_shipped_shapes_model_reaches_95_percent_on_the_heldout_seed(heldout_accuracy):
    assert heldout_accuracy >= 0.95


def test_model_card_has_the_fields_and_the_measured_accuracy(heldout_accuracy):
    spec = MODELS["shapes"]
    card = json.loads(spec.card.read_text())
    for key in ("data", "split", "train_images", "heldout_images", "heldout_accuracy", "epochs",
                "config", "date", "torch_version", "training_seconds", "parameter_count",
                "weights_bytes", "train_seed", "heldout_seed"):
        assert key in card, key
    assert card["train_seed"] == shapes.TRAIN_SEED and card["heldout_seed"] == shapes.HELDOUT_SEED
    assert f"seed={shapes.HELDOUT_SEED}" in card["split"]
    assert card["heldout_images"] == shapes.HELDOUT_IMAGES
    assert card["config"] == {**card["config"], "seed": 0, "validation": False}
    assert card["train_images"] == card["config"]["train_images"]
    assert card["heldout_accuracy"] == pytest.approx(heldout_accuracy, abs=0.002)
    assert card["training_seconds"] <= 180 and card["torch_threads"] == 1
    assert card["parameter_count"] == sum(p.numel() for p in load_model("shapes").parameters())
    assert spec.weights.path.stat().st_size == card["weights_bytes"] < 2_000_000


def test_the_model_has_named_layers_and_an_8x8_last_conv_map():
    model = load_model("shapes")
    assert model.cnnviz_pretrained is True and not model.training
    assert MODELS["shapes"].class_names == shapes.CLASS_NAMES
    names = [name for name, _ in model.named_children()]
    for block in range(1, 5):
        assert {f"conv{block}", f"relu{block}"} <= set(names)
    assert {"pool1", "pool2", "pool3", "fc"} <= set(names)
    assert not any(getattr(m, "inplace", False) for m in model.modules())
    seen = {}
    handle = model.conv4.register_forward_hook(lambda m, i, out: seen.update(out=out))
    try:
        logits = model(preprocess("shapes", load_sample("shape_star")))
    finally:
        handle.remove()
    assert seen["out"].shape == (1, 64, 8, 8) and logits.shape == (1, 4)


def test_conv4_sees_38_pixels_as_the_docstring_says():
    """Receptive field from the input gradient of one conv4 unit, in a linear copy of the
    network (ReLUs removed, max pools replaced by average pools) so that the gradient reaches
    every pixel in the field."""
    model = copy.deepcopy(load_model("shapes"))
    for name, module in model.named_children():
        if isinstance(module, nn.ReLU):
            setattr(model, name, nn.Identity())
        elif isinstance(module, nn.MaxPool2d):
            setattr(model, name, nn.AvgPool2d(2))
    x = torch.zeros(1, 3, 64, 64, requires_grad=True)
    features = model[: [n for n, _ in model.named_children()].index("conv4") + 1](x)
    features[0, :, 4, 4].sum().backward()
    rows = np.flatnonzero(x.grad[0].abs().sum(dim=(0, 2)).numpy())
    assert rows[-1] - rows[0] + 1 == 38
    assert "38 px" in (MODELS["shapes"].build.__doc__ or "")


# ---------------------------------------------------------------- preprocessing


def test_a_64x64_image_is_only_standardised():
    image = load_sample("shape_circle")
    x = preprocess("shapes", image)
    assert x.shape == (1, 3, 64, 64) and x.dtype == torch.float32
    expected = (torch.from_numpy(image.copy()).permute(2, 0, 1).float() / 255 - SHAPES_MEAN)
    assert torch.allclose(x[0], expected / SHAPES_STD)


def test_measured_pixel_statistics_match_the_constants():
    images, _, _ = shapes.make_shapes(2000, shapes.TRAIN_SEED)
    pixels = images.reshape(-1, 3) / 255.0
    assert np.allclose(pixels.mean(0), SHAPES_MEAN, atol=0.025)
    assert np.allclose(pixels.std(0), SHAPES_STD, atol=0.02)


def test_a_larger_image_is_resized_to_64x64():
    image = load_sample("shape_square")
    big = np.kron(image, np.ones((4, 4, 1), np.uint8))  # (256, 256, 3): each pixel 4x4
    assert torch.allclose(preprocess("shapes", big), preprocess("shapes", image), atol=1e-6)
    wide = cv2.resize(image, (200, 120), interpolation=cv2.INTER_LINEAR)  # not square
    assert preprocess("shapes", wide).shape == (1, 3, 64, 64)
    assert predict("shapes", wide).argmax() == shapes.CLASS_NAMES.index("square")


def test_grey_and_rgba_images_work():
    image = load_sample("shape_triangle")
    grey = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)  # (64, 64)
    x = preprocess("shapes", grey)
    assert x.shape == (1, 3, 64, 64) and torch.equal(x[0, 0], x[0, 1])
    assert preprocess("shapes", cv2.resize(grey, (300, 300))).shape == (1, 3, 64, 64)
    assert torch.equal(preprocess("shapes", grey[:, :, None]), x)
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    assert torch.equal(preprocess("shapes", rgba), preprocess("shapes", image))
    with pytest.raises(ValueError, match="shape"):
        preprocess("shapes", np.zeros((4, 4, 2), np.uint8))


def test_upscaled_heldout_images_are_still_recognised():
    images, labels, _ = shapes.shapes_heldout()
    big = [cv2.resize(im, (192, 192), interpolation=cv2.INTER_LINEAR) for im in images[:200]]
    right = [predict("shapes", im).argmax() == y for im, y in zip(big, labels[:200], strict=True)]
    assert np.mean(right) >= 0.95


def test_shape_samples_are_heldout_images_the_model_gets_right():
    names = [name for name, s in SAMPLES.items() if s.group == "Shapes"]
    per_class = SHAPE_SAMPLES_PER_CLASS
    assert per_class >= 2
    assert names == [shape_sample_name(c, nth) for nth in range(per_class)
                     for c in shapes.CLASS_NAMES]
    assert names[:4] == [f"shape_{c}" for c in shapes.CLASS_NAMES]  # links keep working
    assert names[4] == "shape_circle_2"
    order = list(SAMPLES)
    assert order.index("digit_9") < order.index(names[0]) < order.index(names[-1]) < order.index(
        "classic_5x5")
    heldout, _, _ = shapes.shapes_heldout()
    seen = []
    for nth in range(per_class):
        for label, name in enumerate(shapes.CLASS_NAMES):
            image = load_sample(shape_sample_name(name, nth))
            assert image.shape == (64, 64, 3)
            assert any(np.array_equal(image, h) for h in heldout[label::4])
            assert predict("shapes", image).argmax() == label
            assert not any(np.array_equal(image, s) for s in seen)  # all different
            seen.append(image)


# ---------------------------------------------------------------- training


TINY = ShapesConfig(epochs=1, train_images=256)


@pytest.fixture(scope="module")
def full_tiny_data():
    return load_shapes_data(TINY)


@pytest.fixture(scope="module")
def tiny_data(full_tiny_data):
    """The 256 training images with the first 200 held-out images (evaluation costs time)."""
    return dataclasses.replace(full_tiny_data, test_x=full_tiny_data.test_x[:200],
                               test_y=full_tiny_data.test_y[:200])


def test_training_data_is_the_train_seed_set_and_the_heldout_set(full_tiny_data):
    tiny_data = full_tiny_data
    images, labels, _ = shapes.make_shapes(256, shapes.TRAIN_SEED)
    assert tiny_data.train_x.shape == (256, 3, 64, 64) and tiny_data.train_x.dtype == torch.uint8
    assert torch.equal(tiny_data.train_x, torch.from_numpy(images).permute(0, 3, 1, 2))
    assert torch.equal(tiny_data.train_y, torch.from_numpy(labels))
    held_images, held_labels, _ = shapes.shapes_heldout()
    assert torch.equal(tiny_data.test_x[:3], torch.tensor(held_images[:3]).permute(0, 3, 1, 2))
    assert torch.equal(tiny_data.test_y, torch.tensor(held_labels))
    validation = load_shapes_data(ShapesConfig(train_images=4, validation=True))
    assert validation.details["validation_seed"] == shapes.VALIDATION_SEED
    assert not torch.equal(validation.test_x[:8], tiny_data.test_x[:8])


def test_a_tiny_run_reports_its_epoch_and_is_reproducible(tiny_data):
    reports = []
    result = train_shapes(TINY, on_epoch=reports.append, data=tiny_data)
    assert [r.epoch for r in reports] == [1] and result.history == reports
    assert not result.stopped and not result.model.training
    assert reports[0].first_layer.shape == (16, 3, 3, 3)  # colour filters
    assert 0 <= result.heldout_accuracy <= 1 and reports[0].loss > 0
    again = train_shapes(TINY, data=tiny_data).model.state_dict()
    assert all(torch.equal(v, again[k]) for k, v in result.model.state_dict().items())


def test_the_stop_flag_ends_the_run(tiny_data):
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 3  # 16 batches per epoch: stops in the first

    reports = []
    result = train_shapes(ShapesConfig(epochs=2, train_images=256), on_epoch=reports.append,
                          stop=stop, data=tiny_data)
    assert result.stopped and reports == [] and result.history == []


def test_train_shapes_refuses_a_digit_model():
    with pytest.raises(ValueError, match="shapes models"):
        train_shapes(ShapesConfig(model="digits"))


def test_random_symmetry_only_moves_pixels_and_uses_all_eight_symmetries():
    x = torch.arange(16, dtype=torch.uint8).reshape(1, 1, 4, 4).repeat(400, 1, 1, 1)
    moved = random_symmetry(x, torch.Generator().manual_seed(0))
    assert moved.dtype == torch.uint8
    assert torch.equal(moved.flatten(1).sort(1).values, x.flatten(1).sort(1).values)
    assert len({m.numpy().tobytes() for m in moved}) == 8


def test_cli_trains_shapes_and_writes_weights_and_a_card(tmp_path, capsys):
    code = cli.main(["train", "shapes", "--epochs", "1", "--max-train-images", "64", "--seed", "2",
                       "--batch-size", "32", "--no-augment", "--out", str(tmp_path)])
    assert code == 0
    card = json.loads((tmp_path / "shapes.json").read_text())
    assert card["config"] == {**card["config"], "seed": 2, "augment": False, "train_images": 64,
                              "batch_size": 32, "epochs": 1}
    assert card["heldout_seed"] == shapes.HELDOUT_SEED and card["heldout_images"] == 1000
    assert "stretch to 64x64" in card["preprocessing"]
    state = torch.load(tmp_path / "shapes.pt", weights_only=True)
    assert set(state) >= {"conv1.weight", "conv4.weight", "fc.weight"}
    assert "held-out accuracy" in capsys.readouterr().out


def test_cli_shapes_refuses_full_mnist(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "shapes", "--full-mnist"])
    assert "--full-mnist" in capsys.readouterr().err
