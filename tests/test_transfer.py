"""transfer_learn: a new last layer on EfficientNet-Lite0's frozen features (issue 15's
contract), checked on the held-out shapes images."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import cnnviz
from cnnviz.data.samples import load_sample
from cnnviz.data.shapes import shapes_heldout
from cnnviz.models import transfer
from cnnviz.network.hooks import hook_count

BASE = "efficientnet_lite0"
NAMES = ("circle", "square", "triangle", "star")


@pytest.fixture(scope="module")
def split():
    """10 training images per class and 200 others, from the held-out shapes (seeded)."""
    images, labels, _ = shapes_heldout()
    rng = np.random.default_rng(0)
    train = np.concatenate([rng.choice(np.flatnonzero(labels == c), 10, replace=False)
                            for c in range(4)])
    test = np.setdiff1d(np.arange(len(images)), train)[::4][:200]
    return ([images[i] for i in train], labels[train].tolist(),
            [images[i] for i in test], labels[test])


@pytest.fixture(scope="module")
def learnt(split):
    images, labels, _, _ = split
    return cnnviz.transfer_learn(images, labels, NAMES)


def test_the_new_model_maps_the_base_input_to_one_logit_per_class(learnt):
    for image in (load_sample("cat"), load_sample("shape_star"), load_sample("cat_coffee")):
        x = cnnviz.preprocess(BASE, image)
        with torch.no_grad():
            assert tuple(learnt(x).shape) == (1, len(NAMES))
    assert learnt.cnnviz_class_names == NAMES and learnt.cnnviz_pretrained is True
    assert learnt.cnnviz_base == BASE and not learnt.training


def test_it_learns_the_shapes_from_ten_images_a_class(split, learnt):
    _, _, test_images, test_labels = split
    x = torch.cat([cnnviz.preprocess(BASE, image) for image in test_images])
    with torch.no_grad():
        predicted = learnt(x).argmax(1).numpy()
    accuracy = float((predicted == test_labels).mean())
    assert accuracy >= 0.7, accuracy  # 76.5% on 400 held-out images (bench); chance is 25%


def test_layer_names_are_the_bases_and_grad_cam_works_without_hooks(learnt):
    base = cnnviz.load_model(BASE)
    assert [n for n, _ in learnt.named_modules()] == [n for n, _ in base.named_modules()]
    x = cnnviz.preprocess(BASE, load_sample("shape_star"))
    for k in range(len(NAMES)):
        heat = cnnviz.grad_cam(learnt, x, k, cnnviz.RECOMMENDED_LAYERS[BASE])
        assert heat.shape == (224, 224) and 0 <= heat.min() and heat.max() <= 1
    assert hook_count(learnt) == 0 and hook_count(base) == 0


def test_the_shared_base_is_never_changed(split):
    base = cnnviz.load_model(BASE)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    flags = [p.requires_grad for p in base.parameters()]
    images, labels, _, _ = split
    model = cnnviz.transfer_learn(images[:8], labels[:8], NAMES)
    assert cnnviz.load_model(BASE) is base and base.fc.out_features == 1000
    assert [p.requires_grad for p in base.parameters()] == flags
    after = base.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # the new model shares the frozen weights, and only its head is new
    assert model.stem.conv.weight is base.stem.conv.weight
    assert model.fc is not base.fc and model.fc.weight.shape == (len(NAMES), 1280)


def test_kept_features_give_the_same_head_and_images_of_any_size_work(split):
    images, labels, _, _ = split
    mixed = [*images[:6], load_sample("cat"), np.zeros((17, 301, 3), np.uint8)]
    mixed_labels = [*labels[:6], 0, 1]
    features = cnnviz.image_features(mixed)
    assert features.shape == (8, 1280) and features.dtype == np.float32
    a = cnnviz.transfer_learn(mixed, mixed_labels, NAMES)
    b = cnnviz.transfer_learn(mixed, mixed_labels, NAMES, features=features)
    assert torch.equal(a.fc.weight, b.fc.weight) and torch.equal(a.fc.bias, b.fc.bias)
    fractions = []
    cnnviz.image_features(mixed, progress=fractions.append)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize(("images", "labels", "names", "message"), [
    ([np.zeros((8, 8, 3), np.uint8)], [0], ("only",), "at least 2 classes"),
    ([], [], NAMES, "none were given"),
    ([np.zeros((8, 8, 3), np.uint8)] * 2, [0], NAMES, "2 images but 1 labels"),
    ([np.zeros((8, 8, 3), np.uint8)], [4], NAMES, "class indices 0 to 3"),
    ([np.zeros((8, 8, 3), np.uint8)], [0.5], NAMES, "class indices 0 to 3"),
    ([np.zeros((8, 8, 3), np.uint8)], [0], ("a", "a"), "names repeat"),
])
def test_bad_arguments_are_refused_in_a_sentence(images, labels, names, message):
    with pytest.raises(ValueError, match=message):
        cnnviz.transfer_learn(images, labels, names)


def test_only_imagenet_bases_are_offered():
    with pytest.raises(ValueError, match="trained on ImageNet"):
        cnnviz.transfer_learn([np.zeros((8, 8, 3), np.uint8)] * 2, [0, 1], NAMES[:2],
                              base="digits")
    assert transfer.head_layer(cnnviz.architecture("vgg16")) == "classifier.6"
    assert transfer.head_layer(cnnviz.architecture(BASE)) == "fc"
