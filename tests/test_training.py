"""The hold-out rule, the training loop (callback, stop flag, seeding) and the training CLI."""

from __future__ import annotations

import json
from urllib.error import URLError

import numpy as np
import pytest
import torch
import torchvision.datasets

from cnnviz import TrainConfig, cli, load_digit_data, train_digits
from cnnviz.data import mnist
from cnnviz.models.preprocessing import mnist_digit
from cnnviz.models.training import random_affine

pytestmark = pytest.mark.usefixtures("one_torch_thread")


QUICK = TrainConfig(epochs=2, max_train_images=256, batch_size=64)


@pytest.fixture(scope="module")
def quick_data():
    return load_digit_data(QUICK)


# ---------------------------------------------------------------- data and the hold-out rule


def test_no_training_index_is_held_out():
    train_idx, heldout_idx = mnist.split_indices(5000)
    assert not np.any(train_idx % 5 == 4)
    assert np.all(heldout_idx % 5 == 4)
    assert len(train_idx) == 4000 and len(heldout_idx) == 1000
    assert set(train_idx).isdisjoint(heldout_idx)
    _, labels = mnist.mnist_sample()
    assert np.all(np.bincount(labels[heldout_idx]) == 100)


def test_validation_split_stays_inside_the_training_images():
    train_idx, heldout_idx = mnist.split_indices(5000)
    fit, validation = mnist.validation_split(train_idx)
    assert np.all(validation % 5 == 3) and np.all(fit % 5 <= 2)
    assert set(fit) | set(validation) == set(train_idx)


def test_training_data_is_the_preprocessed_training_split():
    data = load_digit_data(TrainConfig())
    images, labels = mnist.mnist_sample()
    train_idx, heldout_idx = mnist.split_indices(len(images))
    assert data.train_x.shape == (4000, 1, 28, 28) and data.test_x.shape == (1000, 1, 28, 28)
    assert torch.equal(data.train_y, torch.as_tensor(labels[train_idx]))
    assert torch.equal(data.test_y, torch.as_tensor(labels[heldout_idx]))
    for i in (0, 1234, 3999):  # the same function as user images go through
        assert np.array_equal(data.train_x[i, 0].numpy(), mnist_digit(images[train_idx[i]]))


def test_random_affine_without_motion_is_the_identity():
    x = torch.rand(3, 1, 28, 28)
    same = random_affine(x, torch.Generator().manual_seed(0), degrees=0, shift=0, scale=(1, 1))
    assert torch.allclose(same, x, atol=1e-5)
    moved = random_affine(x, torch.Generator().manual_seed(0))
    assert moved.shape == x.shape and not torch.allclose(moved, x)


# ---------------------------------------------------------------- the training loop


def test_a_short_run_reports_every_epoch(quick_data):
    reports = []
    result = train_digits(QUICK, on_epoch=reports.append, data=quick_data)
    assert [r.epoch for r in reports] == [1, 2] and result.history == reports
    assert not result.stopped and not result.model.training
    assert reports[0].first_layer.shape == (16, 1, 3, 3)
    assert not np.array_equal(reports[0].first_layer, reports[1].first_layer)
    assert all(0 <= r.heldout_accuracy <= 1 and r.loss > 0 for r in reports)
    assert reports[1].loss < reports[0].loss


def test_the_stop_flag_ends_the_run(quick_data):
    calls = 0

    def stop() -> bool:
        nonlocal calls
        calls += 1
        return calls > 6  # 4 batches per epoch: stops during the second epoch

    reports = []
    result = train_digits(QUICK, on_epoch=reports.append, stop=stop, data=quick_data)
    assert result.stopped and len(reports) == 1 and len(result.history) == 1


def test_training_is_reproducible_for_a_seed_and_leaves_the_global_rng_alone(quick_data):
    config = TrainConfig(epochs=1, max_train_images=128)
    torch.manual_seed(123)
    a = train_digits(config, data=quick_data).model.state_dict()
    after_training = torch.rand(1)
    torch.manual_seed(123)
    assert torch.equal(torch.rand(1), after_training)
    b = train_digits(config, data=quick_data).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------- the command line


def test_cli_writes_weights_and_a_model_card(tmp_path, capsys):
    code = cli.main(["train", "digits", "--epochs", "1", "--max-train-images", "128", "--seed", "3",
                       "--no-augment", "--out", str(tmp_path)])
    assert code == 0
    card = json.loads((tmp_path / "digits.json").read_text())
    assert card["epochs"] == 1 and card["config"]["seed"] == 3 and not card["config"]["augment"]
    assert card["heldout_images"] == 1000 and "i % 5 == 4" in card["split"]
    state = torch.load(tmp_path / "digits.pt", weights_only=True)
    assert set(state) >= {"conv1.weight", "conv2.weight"}
    assert (tmp_path / "digits.pt").stat().st_size < 2_000_000
    assert "held-out accuracy" in capsys.readouterr().out


def test_cli_validation_run_saves_nothing(tmp_path, capsys):
    code = cli.main(["train", "digits", "--epochs", "1", "--max-train-images", "64", "--validation",
                       "--out", str(tmp_path)])
    assert code == 0 and not list(tmp_path.iterdir())
    assert "validation accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("error", [
    RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried ..."),
    URLError("[Errno -3] Temporary failure in name resolution"),
])
def test_full_mnist_offline_says_so_without_a_traceback(monkeypatch, tmp_path, capsys, error):
    def offline(*args, **kwargs):
        raise error

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    code = cli.main(["train", "digits", "--full-mnist", "--data-dir", str(tmp_path / "data"),
                       "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code != 0
    assert "Could not download the full MNIST data set" in err and "Traceback" not in err
    assert not (tmp_path / "digits.pt").exists()


def test_full_mnist_online_trains_on_mnist_train_and_tests_on_mnist_test(monkeypatch, tmp_path):
    images, labels = mnist.mnist_sample()

    class FakeMNIST:  # stands in for the download: 100 "train" and 50 "test" digits
        def __init__(self, root, train=True, download=False):
            assert download
            picked = slice(0, 5000, 50) if train else slice(25, 5000, 100)
            self.data = torch.from_numpy(images[picked].copy())
            self.targets = torch.from_numpy(labels[picked].copy())

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    code = cli.main(["train", "digits", "--full-mnist", "--epochs", "1", "--out", str(tmp_path)])
    assert code == 0
    card = json.loads((tmp_path / "digits.json").read_text())
    assert card["train_images"] == 100 and card["heldout_images"] == 50
    assert "torchvision.datasets.MNIST" in card["data"]


def test_a_quick_run_on_few_images_keeps_every_digit():
    from cnnviz import TrainConfig, load_digit_data

    data = load_digit_data(TrainConfig(max_train_images=100))
    counts = np.bincount(data.train_y.numpy(), minlength=10)
    assert counts.sum() == 100 and counts.min() >= 9  # not the first 100 (all zeros)
    assert "evenly spaced" in data.split


def test_one_loader_and_one_hold_out_rule_for_the_digits():
    """The digit samples of the sidebar are held-out images of the one MNIST loader."""
    from cnnviz import SAMPLES, load_sample

    images, labels = mnist.mnist_sample()
    assert images.shape == (5000, 28, 28) and not images.flags.writeable
    assert mnist.HOLDOUT_RULE == "i % 5 == 4" and mnist.VALIDATION_RULE == "i % 5 == 3"
    _, heldout = mnist.split_indices(len(images))
    assert mnist.is_heldout(heldout).all() and len(heldout) == 1000
    for d in range(10):
        sample = load_sample(f"digit_{d}")[:, :, 0]
        index = next(i for i in heldout if labels[i] == d)  # the first held-out d
        assert SAMPLES[f"digit_{d}"].group == "MNIST digit"
        np.testing.assert_array_equal(sample, images[index])
