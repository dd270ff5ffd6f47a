"""The backward pass against autograd, over hundreds of random settings (groups, depthwise,
rectangular kernels, strides, padding, dilation); the window-by-window gradients add up to
it; pooling routes gradients as torch does; gradient descent is SGD's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import cnnviz
from cnnviz import ParameterError

SEEDS = range(250)


def _t(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].clone() \
        .requires_grad_(grad)


def _hwc(t: torch.Tensor) -> np.ndarray:
    return t.detach()[0].permute(1, 2, 0).numpy()


def _random_conv(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    groups = int(rng.choice([1, 1, 2, 3]))
    c_in, f_out = groups * int(rng.integers(1, 4)), groups * int(rng.integers(1, 4))
    if rng.random() < 0.2:
        groups = c_in = f_out = int(rng.integers(2, 5))  # depthwise
    kh, kw = (int(v) for v in rng.integers(1, 5, 2))
    settings = dict(stride=tuple(int(v) for v in rng.integers(1, 4, 2)),
                    padding=tuple(int(v) for v in rng.integers(0, 3, 2)),
                    dilation=tuple(int(v) for v in rng.integers(1, 3, 2)), groups=groups)
    h = max(int(rng.integers(1, 12)), settings["dilation"][0] * (kh - 1) + 1)
    w = max(int(rng.integers(1, 12)), settings["dilation"][1] * (kw - 1) + 1)
    return (rng.normal(size=(h, w, c_in)), rng.normal(size=(f_out, c_in // groups, kh, kw)),
            settings)


def _autograd(image, weight, grad_output, settings):
    x = _t(image, True)
    w = torch.from_numpy(weight).clone().requires_grad_(True)
    b = torch.zeros(weight.shape[0], dtype=torch.float64, requires_grad=True)
    F.conv2d(x, w, b, **settings).backward(_t(grad_output))
    return _hwc(x.grad), w.grad.numpy(), b.grad.numpy()


@pytest.mark.parametrize("seed", SEEDS)
def test_conv_backward_equals_autograd_and_the_windows_add_up_to_it(seed):
    rng = np.random.default_rng(seed)
    image, weight, settings = _random_conv(rng)
    out = cnnviz.conv2d_layer(image, weight, **settings)
    grad_output = rng.normal(size=out.shape)
    gx, gw, gb = cnnviz.conv_backward(image, weight, grad_output, **settings)
    ex, ew, eb = _autograd(image, weight, grad_output, settings)
    assert gx.shape == image.shape and gw.shape == weight.shape and gb.shape == (len(weight),)
    np.testing.assert_allclose(gx, ex, atol=1e-10)
    np.testing.assert_allclose(gw, ew, atol=1e-10)
    np.testing.assert_allclose(gb, eb, atol=1e-10)
    np.testing.assert_allclose(gb, grad_output.sum(axis=(0, 1)), atol=1e-10)  # dL/db = Σ dL/dout

    f = int(rng.integers(0, len(weight)))
    steps, partial = cnnviz.weight_grad_steps(image, weight, grad_output, filter=f, **settings)
    assert len(partial) == out.shape[0] * out.shape[1]
    np.testing.assert_allclose(partial[-1].transpose(2, 0, 1), gw[f], atol=1e-10)
    np.testing.assert_allclose(steps.grads, grad_output[steps.out_rows, steps.out_cols, f])
    back = cnnviz.input_grad_steps(image, weight, grad_output, **settings)
    np.testing.assert_allclose(back.crop(back.canvas()), gx, atol=1e-10)


def test_the_input_gradient_is_a_transposed_convolution_of_the_output_gradient():
    """What the page says: dL/dimage = conv_transpose2d(dL/dout, W), with the forward
    layer's stride, padding, dilation and groups (and the output padding that gives back
    the image's size)."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        image, weight, settings = _random_conv(rng)
        out = cnnviz.conv2d_layer(image, weight, **settings)
        grad_output = rng.normal(size=out.shape)
        gx = cnnviz.conv_backward(image, weight, grad_output, **settings)[0]
        size = [cnnviz.transpose_output_size(out.shape[a], weight.shape[2 + a],
                                             settings["stride"][a], settings["padding"][a], 0,
                                             settings["dilation"][a]) for a in (0, 1)]
        extra = tuple(image.shape[a] - size[a] for a in (0, 1))  # the rows a stride dropped
        if all(e < max(s, d) for e, s, d in zip(extra, settings["stride"],
                                                  settings["dilation"], strict=True)):
            np.testing.assert_allclose(
                cnnviz.conv_transpose2d(grad_output, weight, output_padding=extra,
                                        **settings), gx, atol=1e-10)
        else:  # rows beyond every window: no gradient reaches them
            assert np.all(gx[size[0]:] == 0) and np.all(gx[:, size[1]:] == 0)


def test_a_weight_gradient_window_is_the_output_gradient_times_its_patch():
    image = np.arange(16, dtype=float).reshape(4, 4, 1)
    weight = np.ones((1, 1, 2, 2))
    grad_output = np.zeros((3, 3, 1))
    grad_output[1, 2, 0] = 0.5
    steps, partial = cnnviz.weight_grad_steps(image, weight, grad_output)
    k = 1 * 3 + 2  # window (1, 2), row-major
    np.testing.assert_array_equal(steps.contributions[k, :, :, 0], 0.5 * image[1:3, 2:4, 0])
    np.testing.assert_array_equal(partial[k - 1], 0)  # nothing before it
    np.testing.assert_array_equal(partial[-1][:, :, 0], 0.5 * image[1:3, 2:4, 0])


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_backward_equals_autograd(seed, kind):
    rng = np.random.default_rng(seed)
    size = tuple(int(v) for v in rng.integers(1, 4, 2))
    stride = None if rng.random() < 0.3 else tuple(int(v) for v in rng.integers(1, 4, 2))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in size)
    image = rng.normal(size=(int(rng.integers(size[0], 10)), int(rng.integers(size[1], 10)),
                             int(rng.integers(1, 4))))
    if rng.random() < 0.3:  # ties: torch routes to the first maximum
        image = np.round(image)
    out = cnnviz.pool2d(image, kind=kind, size=size, stride=stride, padding=padding)
    grad_output = rng.normal(size=out.shape)
    got = cnnviz.pool_backward(image, grad_output, kind=kind, size=size, stride=stride,
                               padding=padding)
    x = _t(image, True)
    pooled = (F.max_pool2d(x, size, stride or size, padding) if kind == "max" else
              F.avg_pool2d(x, size, stride or size, padding, count_include_pad=True))
    pooled.backward(_t(grad_output))
    np.testing.assert_allclose(got, _hwc(x.grad), atol=1e-12)
    if kind == "avg":  # spread evenly: nothing is lost but what fell on padding
        assert got.sum() <= abs(grad_output).sum() + 1e-9


def test_max_pooling_routes_to_the_first_of_tied_winners():
    image = np.ones((2, 2, 1))
    got = cnnviz.pool_backward(image, np.array([[[3.0]]]), kind="max", size=2)
    assert got[:, :, 0].tolist() == [[3.0, 0.0], [0.0, 0.0]]
    spread = cnnviz.pool_backward(image, np.array([[[4.0]]]), kind="avg", size=2)
    assert spread[:, :, 0].tolist() == [[1.0, 1.0], [1.0, 1.0]]


@pytest.mark.parametrize("seed", range(80))
def test_backprop_through_relu_and_pooling_equals_autograd(seed):
    rng = np.random.default_rng(seed)
    image, weight, settings = _random_conv(rng)
    bias = rng.normal(size=len(weight))
    relu = bool(rng.random() < 0.6)
    z = cnnviz.conv2d_layer(image, weight, bias, **settings)
    pool = None
    if rng.random() < 0.6 and min(z.shape[:2]) >= 2:
        pool = dict(kind=str(rng.choice(["max", "avg"])), size=2, stride=None, padding=0)
    shape = z.shape if pool is None else (z.shape[0] // 2, z.shape[1] // 2, z.shape[2])
    target = rng.normal(size=shape)
    run = cnnviz.backprop(image, weight, bias, target, relu=relu, pool=pool, **settings)

    x = _t(image, True)
    w = torch.from_numpy(weight).clone().requires_grad_(True)
    b = torch.from_numpy(bias).clone().requires_grad_(True)
    y = F.conv2d(x, w, b, **settings)
    if relu:
        y = F.relu(y)
    if pool is not None:
        y = (F.max_pool2d(y, 2) if pool["kind"] == "max" else F.avg_pool2d(y, 2))
    loss = 0.5 * ((y - _t(target)) ** 2).sum()
    loss.backward()
    assert run.loss == pytest.approx(float(loss.detach()), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(run.out, _hwc(y), atol=1e-12)
    np.testing.assert_allclose(run.grad_out, run.out - target)
    np.testing.assert_allclose(run.grad_weight, w.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(run.grad_bias, b.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(run.grad_input, _hwc(x.grad), atol=1e-9)
    if relu:
        assert np.all(run.grad_conv[run.conv <= 0] == 0)


def test_gradient_descent_is_torchs_sgd_and_the_loss_falls():
    rng = np.random.default_rng(5)
    image = rng.normal(size=(6, 6, 1))
    weight, bias = rng.normal(size=(2, 1, 3, 3)), rng.normal(size=2)
    target = cnnviz.conv2d_layer(image, rng.normal(size=(2, 1, 3, 3)), padding=1)
    history = cnnviz.descend(image, weight, bias, target, lr=0.01, steps=8, padding=1)
    w = torch.from_numpy(weight).clone().requires_grad_(True)
    b = torch.from_numpy(bias).clone().requires_grad_(True)
    sgd = torch.optim.SGD([w, b], lr=0.01)
    for loss_here, w_here, b_here in history:
        sgd.zero_grad()
        loss = 0.5 * ((F.conv2d(_t(image), w, b, padding=1) - _t(target)) ** 2).sum()
        loss.backward()
        sgd.step()
        assert loss_here == pytest.approx(float(loss.detach()), rel=1e-12)
        np.testing.assert_allclose(w_here, w.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(b_here, b.detach().numpy(), atol=1e-12)
    losses = [h[0] for h in history]
    assert all(a > b for a, b in zip(losses, losses[1:], strict=False))


@pytest.mark.parametrize(("lr", "words"), [(0, "positive"), (-1, "positive"),
                                           (float("nan"), "positive"), (1e6, "too large")])
def test_a_learning_rate_that_cannot_work_is_refused(lr, words):
    rng = np.random.default_rng(0)
    image, weight = rng.normal(size=(5, 5, 1)) * 10, rng.normal(size=(1, 1, 3, 3))
    with pytest.raises(ParameterError, match=words):
        cnnviz.descend(image, weight, None, np.zeros((3, 3, 1)), lr=lr, steps=50)


@pytest.mark.parametrize("bad", [
    dict(grad_output=np.ones((2, 2, 1))),  # the output is 3×3×1
    dict(grad_output=np.full((3, 3, 1), np.inf)),
    dict(padding="same"),
    dict(groups=2),
])
def test_impossible_backward_settings_are_refused(bad):
    settings = dict(grad_output=np.ones((3, 3, 1))) | bad
    with pytest.raises(ParameterError):
        cnnviz.conv_backward(np.ones((5, 5, 1)), np.ones((1, 1, 3, 3)),
                             settings.pop("grad_output"), **settings)
