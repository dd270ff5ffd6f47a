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


# --- judged honestly (compare_transfer and its parts) ------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_the_held_out_split_keeps_a_quarter_of_each_class_and_never_a_lone_image(seed):
    rng = np.random.default_rng(seed)
    n_classes = int(rng.integers(2, 7))
    counts = rng.integers(1, 51, n_classes)
    labels = rng.permutation(np.repeat(np.arange(n_classes), counts))
    train, test = cnnviz.held_out_split(labels, n_classes, seed=seed)
    assert sorted([*train, *test]) == list(range(len(labels)))  # a partition
    for c, n in enumerate(counts):
        held = int((labels[test] == c).sum())
        if n == 1:
            assert held == 0
        else:
            assert 1 <= held <= n - 1 and held == min(n - 1, max(1, round(n * 0.25)))
    again = cnnviz.held_out_split(labels, n_classes, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(again, (train, test), strict=True))


@pytest.mark.parametrize("seed", range(10))
def test_the_confusion_matrix_counts_each_pair(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    truth, said = rng.integers(0, n, 60), rng.integers(0, n, 60)
    matrix = cnnviz.confusion_matrix(truth, said, n)
    expected = [[int(((truth == i) & (said == j)).sum()) for j in range(n)] for i in range(n)]
    assert matrix.tolist() == expected and matrix.sum() == 60
    assert np.trace(matrix) == int((truth == said).sum())


def test_the_confusion_text_reads_the_matrix_out():
    matrix = cnnviz.confusion_matrix([0, 0, 0, 1, 1, 2, 2, 2], [0, 0, 1, 1, 1, 0, 0, 2], 3)
    assert cnnviz.confusion_text(matrix, ["cat", "dog", "cup"]) == (
        "5 of 8 right (cat 2 of 3, dog 2 of 2, cup 1 of 3); the commonest mistake: cup taken "
        "for cat, 2 times")
    perfect = cnnviz.confusion_matrix([0, 1, 1], [0, 1, 1], 3)  # no image of the third class
    assert cnnviz.confusion_text(perfect, ["a", "b", "c"]) == "3 of 3 right (a 1 of 1, b 2 of 2)"


def test_augmented_views_are_the_mirror_and_the_centre():
    image = np.random.default_rng(0).integers(0, 256, (50, 40, 3), dtype=np.uint8)
    mirrored, centre = cnnviz.augmented(image)
    assert np.array_equal(mirrored, image[:, ::-1])
    assert np.array_equal(centre, image[5:45, 4:36])
    assert len(cnnviz.augmented(image)) == len(cnnviz.AUGMENTATIONS)


def test_compare_transfer_judges_both_networks_on_the_same_held_out_images(split):
    images, labels, _, _ = split
    features = cnnviz.image_features(images)
    steps = []
    run = cnnviz.compare_transfer(images, labels, NAMES, features=features,
                                  progress=lambda f, what: steps.append(f))
    assert len(run.held_out) == 8 and len(run.train) == 32  # round(10 × 0.25) = 2 a class
    assert run.transfer.truth.tolist() == run.scratch.truth.tolist() \
        == [labels[i] for i in run.held_out]
    for judged in (run.transfer, run.scratch):
        assert judged.confusion.sum() == len(run.held_out)
        assert judged.accuracy == np.trace(judged.confusion) / len(run.held_out)
    # the held-out head is the one trained without the held-out rows
    head = transfer.train_head(features[run.train], [labels[i] for i in run.train], 4)
    with torch.no_grad():
        guess = head(torch.as_tensor(features[run.held_out])).argmax(1).numpy()
    assert guess.tolist() == run.transfer.predicted.tolist()
    # the model kept is trained on every image
    kept = transfer.train_head(features, labels, 4)
    assert torch.allclose(run.model.fc.weight, kept.weight)
    assert run.model.cnnviz_class_names == NAMES and steps == sorted(steps) and steps[-1] == 1.0


def test_the_cnn_from_scratch_trains_on_the_training_part_only(split, monkeypatch):
    images, labels, _, _ = split
    seen = []
    real = transfer.train_scratch
    monkeypatch.setattr(transfer, "train_scratch", lambda views, ys, n, **kw: seen.append(
        [v.tobytes() for v in views]) or real(views, ys, n, **kw))
    train, test = cnnviz.held_out_split(labels, 4)
    judged = cnnviz.judge_scratch(images, labels, train, test, 4, steps=5)
    assert seen[0] == [images[i].tobytes() for i in train]
    assert not {images[i].tobytes() for i in test} & set(seen[0])
    assert judged.truth.tolist() == [labels[i] for i in test]
    assert 0 <= judged.train_accuracy <= 1
    seen.clear()
    cnnviz.judge_scratch(images, labels, train, test, 4, augment=True, steps=5)
    assert len(seen[0]) == 3 * len(train)  # each training image and its two views


def test_augmented_views_train_but_are_never_judged(split):
    images, labels, _, _ = split
    images, labels = images[::2], labels[::2]  # 5 a class
    features = cnnviz.image_features(images)
    views = [cnnviz.image_features(cnnviz.augmented(image)) for image in images]
    run = cnnviz.compare_transfer(images, labels, NAMES, features=features,
                                  extra_features=views, scratch=False)
    assert run.scratch is None and len(run.transfer.truth) == len(run.held_out) == 4
    rows = np.concatenate([features[run.train], *[views[i] for i in run.train]])
    ys = [labels[i] for i in run.train] + [labels[i] for i in run.train for _ in range(2)]
    head = transfer.train_head(rows, ys, 4)
    with torch.no_grad():
        guess = head(torch.as_tensor(features[run.held_out])).argmax(1).numpy()
    assert guess.tolist() == run.transfer.predicted.tolist()


def test_with_one_image_a_class_nothing_can_be_judged():
    images = [load_sample("cat"), load_sample("shape_star")]
    run = cnnviz.compare_transfer(images, [0, 1], ("cat", "star"))
    assert run.transfer is None and run.scratch is None and len(run.held_out) == 0
    assert run.model.cnnviz_class_names == ("cat", "star")


def test_a_blank_image_gets_uniform_probabilities_over_the_new_classes(learnt):
    probs = cnnviz.predict(BASE, np.zeros((64, 64, 3), np.uint8), model=learnt)
    assert probs.tolist() == [0.25] * 4


def test_a_head_on_a_base_with_random_weights_says_so():
    base = cnnviz.load_model("resnet18")  # offline in the tests: random weights
    model = cnnviz.transfer_learn([load_sample("cat"), load_sample("coffee")], [0, 1],
                                  ("cat", "cup"), base="resnet18")
    assert model.cnnviz_pretrained is base.cnnviz_pretrained
    assert cnnviz.transfer_learn([load_sample("cat")] * 2, [0, 1], ("a", "b")
                                 ).cnnviz_pretrained is True  # EfficientNet's package weights
