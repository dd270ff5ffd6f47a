"""Attribution maps against hand computation, captum and pytorch-grad-cam; hooks, threads, and
the trust checks (randomisation, deletion, pointing game)."""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from cnnviz import (
    ATTRIBUTIONS,
    COLORMAPS,
    MODELS,
    RECOMMENDED_LAYERS,
    LayerError,
    attribution,
    load_model,
    overlay,
    predict,
    preprocess,
    shapes_heldout,
    trust,
)
from cnnviz.data import mnist
from cnnviz.data.samples import load_sample
from cnnviz.network import hooks
from cnnviz.network.hooks import hook_count

torch.set_num_threads(1)
# captum announces every guided backprop's ReLU hooks (on the private twin, removed at once);
# the library silences it, but pytest restores the warning filters for each test
pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


def twin_hooks(model: nn.Module) -> int:
    """Hooks left on the private twins ``hooks.borrowed`` keeps for ``model`` (0 when it has
    none), every variant's."""
    twins = hooks._TWINS.get(model) or {}
    return sum(hook_count(t.net) for t in twins.values() if t.net is not None)


# --- a tiny model whose Grad-CAM can be worked out by hand ------------------------------------
#
# input x = arange(16) as a 4x4 image; conv: 2 channels, both 2x2 all-ones kernels, biases -40
# and 0, so A_0[i, j] = 16i + 4j - 30 and A_1[i, j] = 16i + 4j + 10 on the 3x3 output;
# global average pooling; a linear layer without bias, weights W (3 classes x 2 channels).
# d score_c / d A_k[i, j] = W[c, k] / 9 everywhere, so alpha_k = W[c, k] / 9 and
# cam_c = relu(sum_k W[c, k] A_k / 9).

W = [[1.0, 0.5], [-1.0, 0.25], [0.0, -1.0]]


def tiny_model(inplace_relu: bool = False) -> nn.Sequential:
    conv = nn.Conv2d(1, 2, kernel_size=2)
    fc = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.copy_(torch.tensor([-40.0, 0.0]))
        fc.weight.copy_(torch.tensor(W))
    layers = [("conv", conv)]
    if inplace_relu:
        layers.append(("relu", nn.ReLU(inplace=True)))
    layers += [("gap", nn.AdaptiveAvgPool2d(1)), ("flatten", nn.Flatten()), ("fc", fc)]
    return nn.Sequential(OrderedDict(layers)).eval()


TINY_X = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4)
ROW, COL = np.mgrid[0:3, 0:3].astype(np.float64)  # i, j of the 3x3 maps
HAND_CAMS = [  # cam_c at the layer's 3x3 resolution
    np.maximum((24 * ROW + 6 * COL - 25) / 9, 0),  # (A0 + 0.5 A1) / 9: the top row is cut to 0
    np.maximum((-12 * ROW - 3 * COL + 32.5) / 9, 0),  # (-A0 + 0.25 A1) / 9: all positive
    np.zeros((3, 3)),  # -A1 / 9 < 0 everywhere: no positive evidence
]
# Bilinear 3 -> 4 with align_corners=False: source = (dst + 0.5) * 3/4 - 0.5, clamped at the
# edges, so the four outputs take weights (1), (3/8, 5/8), (5/8, 3/8), (1) of their neighbours.
U = np.array([[1, 0, 0], [0.375, 0.625, 0], [0, 0.625, 0.375], [0, 0, 1]])


def test_layer_resolution_grad_cam_is_the_hand_computed_one():
    net = hooks.private_copy(tiny_model(), share_weights=True)
    for target, expected in enumerate(HAND_CAMS):
        (cam,) = attribution.grad_cam_maps(net, TINY_X.clone().requires_grad_(True), [target],
                                            ["conv"])
        np.testing.assert_allclose(cam[0, 0].numpy(), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("target", [0, 1])
def test_grad_cam_is_the_hand_map_upsampled_and_normalised(target):
    up = U @ HAND_CAMS[target] @ U.T  # (4, 4)
    expected = (up - up.min()) / (up.max() - up.min())
    heat = attribution.grad_cam(tiny_model(), TINY_X, target, "conv")
    assert heat.dtype == np.float32 and heat.shape == (4, 4)
    np.testing.assert_allclose(heat, expected, atol=1e-6)


def test_native_grad_cam_is_the_hand_map_at_the_layer_resolution():
    for target, expected in enumerate(HAND_CAMS):
        native = attribution.grad_cam_native(tiny_model(), TINY_X, target, "conv")
        assert native.dtype == np.float32 and native.shape == (3, 3)
        np.testing.assert_allclose(native, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("layer, side", [("relu4", 8), ("relu2", 32), ("conv1", 64)])
def test_native_grad_cam_upsampled_bilinearly_is_grad_cam(layer, side):
    model = load_model("shapes")
    x = preprocess("shapes", shapes_heldout()[0][3])
    native = attribution.grad_cam_native(model, x, 2, layer)
    assert native.shape == (side, side)  # the layer's own grid, not the input's
    up = attribution.upsample(torch.from_numpy(native)[None, None], (64, 64))[0, 0]
    np.testing.assert_allclose(attribution.normalise(up), attribution.grad_cam(model, x, 2, layer),
                               atol=1e-6)
    assert hook_count(model) == 0


@pytest.mark.parametrize("name", ["digits", "shapes", "resnet18"])
def test_every_layer_at_once_equals_one_layer_at_a_time(name):
    from cnnviz import architecture

    spec = MODELS[name]
    layers = attribution.cam_layers(architecture(name), spec.input_size)
    names = [layer for layer, _ in layers]
    assert RECOMMENDED_LAYERS[name] in names
    model = load_model(name)
    x = torch.randn(1, *spec.input_size, generator=torch.Generator().manual_seed(1))
    picked = names if name != "resnet18" else names[-6:]  # keep the test quick
    maps = attribution.grad_cam_layers(model, x, 3, picked)
    for layer, native in zip(picked, maps, strict=True):
        assert native.shape == dict(layers)[layer]
        np.testing.assert_allclose(native, attribution.grad_cam_native(model, x, 3, layer),
                                   rtol=1e-4, atol=1e-6)
    assert hook_count(model) == 0


@pytest.mark.parametrize("name", ["digits", "shapes", "resnet18", "efficientnet_lite0"])
@pytest.mark.parametrize("seed", [2, 3])
def test_one_class_pass_gives_every_layers_cam_and_saliency(name, seed):
    """The Grad-CAM page's one pass per class equals the three it replaces: the strip, each
    layer's Grad-CAM (native and upsampled) and captum's Saliency, for random inputs and
    classes; with the cam given, Guided Grad-CAM is unchanged."""
    from cnnviz import architecture

    spec = MODELS[name]
    rng = torch.Generator().manual_seed(seed)
    names = [layer for layer, _ in attribution.cam_layers(architecture(name), spec.input_size)]
    model = load_model(name)
    x = torch.randn(1, *spec.input_size, generator=rng)
    target = int(torch.randint(len(spec.class_names), (1,), generator=rng))
    found = attribution.class_pass(model, x, target, names)
    assert found.layers == tuple(names) and found.target == target
    for native, expected in zip(found.cams, attribution.grad_cam_layers(model, x, target, names),
                                strict=True):
        np.testing.assert_array_equal(native, expected)
    for layer in (names[0], names[len(names) // 2], names[-1], RECOMMENDED_LAYERS[name]):
        np.testing.assert_allclose(found.cam(layer),
                                   attribution.grad_cam_native(model, x, target, layer),
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(found.heat(layer, spec.input_size[1:]),
                                   attribution.grad_cam(model, x, target, layer), atol=1e-6)
    np.testing.assert_allclose(found.saliency, attribution.saliency(model, x, target), atol=1e-6)
    layer = RECOMMENDED_LAYERS[name]
    np.testing.assert_allclose(
        attribution.guided_grad_cam(model, x, target, layer, cam=found.cam(layer)),
        attribution.guided_grad_cam(model, x, target, layer), atol=1e-6)
    with pytest.raises(LayerError, match="not part of this pass"):
        found.cam("no.such.layer")
    with pytest.raises(ValueError, match="at least one layer"):
        attribution.class_pass(model, x, target, [])
    assert hook_count(model) == 0


def test_the_layer_choices_of_the_shapes_model():
    from cnnviz import architecture

    assert attribution.cam_layers(architecture("shapes"), (3, 64, 64)) == [
        ("conv1", (64, 64)), ("relu1", (64, 64)), ("conv2", (32, 32)), ("relu2", (32, 32)),
        ("conv3", (16, 16)), ("relu3", (16, 16)), ("conv4", (8, 8)), ("relu4", (8, 8))]


def test_a_map_without_positive_evidence_is_all_zeros_not_nan():
    heat = attribution.grad_cam(tiny_model(), TINY_X, 2, "conv")
    assert heat.dtype == np.float32 and heat.shape == (4, 4)
    assert np.array_equal(heat, np.zeros((4, 4), np.float32))
    assert np.array_equal(attribution.normalise(np.full((2, 3), np.nan)), np.zeros((2, 3)))


def test_in_place_relus_are_handled_without_changing_the_model():
    model = tiny_model(inplace_relu=True)
    # the in-place ReLU would overwrite the conv output that Grad-CAM reads
    heat = attribution.grad_cam(model, TINY_X, 1, "conv")
    expected = attribution.grad_cam(tiny_model(), TINY_X, 1, "conv")
    np.testing.assert_allclose(heat, expected, atol=1e-6)
    assert model.relu.inplace is True  # the caller's model is untouched


def test_a_layer_output_overwritten_in_place_is_refused():
    class AddsInPlace(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = tiny_model()

        def forward(self, x):
            a = self.inner.conv(x)
            a += 1.0  # like ``out += identity`` in a ResNet block
            return self.inner.fc(self.inner.flatten(self.inner.gap(a)))

    model = AddsInPlace().eval()
    with pytest.raises(ValueError, match="overwritten in place"):
        attribution.grad_cam(model, TINY_X, 0, "inner.conv")
    assert hook_count(model) == 0 and twin_hooks(model) == 0


def test_the_map_follows_weight_updates_of_the_model():
    model = tiny_model()
    before = attribution.grad_cam(model, TINY_X, 1, "conv")
    with torch.no_grad():  # as an optimizer step does: in place
        model.fc.weight.copy_(torch.tensor([[1.0, 0.5], [1.0, 0.5], [0.0, -1.0]]))
    after = attribution.grad_cam(model, TINY_X, 1, "conv")
    np.testing.assert_allclose(after, attribution.grad_cam(model, TINY_X, 0, "conv"), atol=1e-6)
    assert not np.allclose(before, after)


# --- agreement with captum and pytorch-grad-cam ------------------------------------------------


@pytest.fixture(scope="module")
def digit():
    images, labels = mnist.mnist_sample()
    return preprocess("digits", images[4]), int(labels[4])


@pytest.fixture(scope="module")
def shape_inputs():
    images, labels, _ = shapes_heldout()
    return [(preprocess("shapes", images[i]), int(labels[i])) for i in range(16)]


@pytest.fixture(scope="module")
def photo():
    """A random 224x224 input for ResNet-18 (whose weights are random offline)."""
    return torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0)), 7


CASES = [
    ("digits", "relu2"), ("digits", "conv1"),
    ("shapes", "relu4"), ("shapes", "conv4"), ("shapes", "relu3"),
    ("resnet18", "layer4"), ("resnet18", "layer3"), ("resnet18", "layer2"),
    ("efficientnet_lite0", "head"), ("efficientnet_lite0", "stage5.block11"),
]


def _case_input(name, digit, shape_inputs, photo):
    if name == "efficientnet_lite0":  # the cat photo, its "tiger cat" class
        return preprocess(name, load_sample("cat")), 282
    return {"digits": digit, "shapes": shape_inputs[1], "resnet18": photo}[name]


@pytest.mark.parametrize(("name", "layer"), CASES)
def test_grad_cam_matches_captum_layer_grad_cam(name, layer, digit, shape_inputs, photo):
    from captum.attr import LayerAttribution, LayerGradCam

    x, target = _case_input(name, digit, shape_inputs, photo)
    model = load_model(name)
    reference_model = copy.deepcopy(model)  # captum hooks it: keep the shared model clean
    cam = LayerGradCam(reference_model, reference_model.get_submodule(layer)).attribute(
        x, target=target, relu_attributions=True)
    expected = attribution.normalise(
        LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")[0, 0])
    ours = attribution.grad_cam(model, x, target, layer)
    assert ours.dtype == np.float32 and ours.shape == x.shape[2:]
    np.testing.assert_allclose(ours, expected, atol=1e-5)


@pytest.mark.parametrize(("name", "layer"), CASES)
def test_grad_cam_matches_pytorch_grad_cam(name, layer, digit, shape_inputs, photo):
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x, target = _case_input(name, digit, shape_inputs, photo)
    model = load_model(name)
    reference_model = copy.deepcopy(model)  # it writes .grad and hooks: not the shared model
    with GradCAM(model=reference_model,
                 target_layers=[reference_model.get_submodule(layer)]) as cam:
        expected = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]  # cv2 resize
    ours = attribution.grad_cam(model, x, target, layer)
    assert np.corrcoef(ours.ravel(), expected.ravel())[0, 1] >= 0.98


def test_saliency_is_the_largest_absolute_input_gradient(shape_inputs):
    x, target = shape_inputs[2]
    model = copy.deepcopy(load_model("shapes"))
    xg = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(xg)[0, target], xg)
    expected = attribution.normalise(grad.abs().amax(dim=1)[0])
    np.testing.assert_allclose(attribution.saliency(load_model("shapes"), x, target), expected,
                               atol=1e-6)


@pytest.mark.parametrize("name", ["digits", "shapes", "resnet18"])
def test_guided_backprop_and_guided_grad_cam_equal_captums(name, digit, shape_inputs, photo):
    from captum.attr import GuidedBackprop, GuidedGradCam

    x, target = _case_input(name, digit, shape_inputs, photo)
    model = load_model(name)
    reference = copy.deepcopy(model)  # captum hooks its ReLUs: not the shared model
    for m in reference.modules():
        if hasattr(m, "inplace"):
            m.inplace = False
    expected = GuidedBackprop(reference).attribute(x, target=target)[0].detach().numpy()
    ours = attribution.guided_backprop(model, x, target)
    assert ours.shape == expected.shape and ours.dtype == np.float32
    np.testing.assert_allclose(ours, expected, atol=1e-6 * max(1.0, np.abs(expected).max()))
    layer = RECOMMENDED_LAYERS[name]
    gg = GuidedGradCam(reference, reference.get_submodule(layer)).attribute(
        x, target=target, interpolate_mode="bilinear")
    expected_map = attribution.normalise(gg.detach().abs().amax(dim=1)[0])
    np.testing.assert_allclose(attribution.guided_grad_cam(model, x, target, layer),
                               expected_map, atol=1e-5)
    # the same with the guided gradients given (the page keeps them per class)
    alone = attribution.guided_grad_cam(model, x, target, layer)
    np.testing.assert_array_equal(
        attribution.guided_grad_cam(model, x, target, layer, guided=ours), alone)
    # or only their largest magnitude over the colour channels: bit for bit the same map
    np.testing.assert_array_equal(attribution.guided_grad_cam(
        model, x, target, layer, guided=np.abs(ours).max(axis=0)[None]), alone)
    assert hook_count(model) == 0 and twin_hooks(model) == 0


def test_guided_grad_cam_is_zero_wherever_grad_cam_is(shape_inputs):
    x, target = shape_inputs[3]
    model = load_model("shapes")
    cam = attribution.grad_cam(model, x, target, "relu4")
    guided = attribution.guided_grad_cam(model, x, target, "relu4")
    assert (cam == 0).any() and np.all(guided[cam == 0] == 0)
    assert guided.max() == 1.0


# --- the table, the contract of every method, hooks ------------------------------------------


def test_the_table_names_each_method_once_with_one_sentence():
    assert list(ATTRIBUTIONS) == ["grad_cam", "guided_grad_cam", "integrated_gradients",
                                  "saliency", "occlusion"]
    for name, method in ATTRIBUTIONS.items():
        assert method.name == name and method.title
        assert method.summary.endswith(".") and method.summary.count(". ") == 0
    assert ATTRIBUTIONS["grad_cam"].function is attribution.grad_cam
    with pytest.raises(ValueError, match="needs a layer"):
        ATTRIBUTIONS["grad_cam"](tiny_model(), TINY_X, 0)


@pytest.mark.parametrize("method", list(ATTRIBUTIONS))
def test_every_method_gives_a_normalised_map_and_leaves_no_hooks(method, digit):
    x, target = digit
    model = load_model("digits")
    heat = ATTRIBUTIONS[method](model, x, target, "relu2")
    assert heat.dtype == np.float32 and heat.shape == (28, 28)
    assert heat.min() == 0.0 and heat.max() == 1.0 and np.isfinite(heat).all()
    assert hook_count(model) == 0 and twin_hooks(model) == 0


@pytest.mark.parametrize("method", ["grad_cam", "guided_grad_cam"])
def test_a_bad_layer_name_lists_the_valid_ones(method, digit):
    x, target = digit
    model = load_model("digits")
    with pytest.raises(LayerError, match="no layer called 'relu9'.*Valid names: conv1, "
                                         "relu1, pool1, conv2, relu2"):
        ATTRIBUTIONS[method](model, x, target, "relu9")
    assert hook_count(model) == 0 and twin_hooks(model) == 0


@pytest.mark.parametrize("method", list(ATTRIBUTIONS))
def test_errors_during_the_computation_leave_no_hooks(method, digit):
    x, _ = digit
    model = load_model("digits")
    with pytest.raises(ValueError, match="out of range: this model has 10 classes"):
        ATTRIBUTIONS[method](model, x, 10, "relu2")  # found out after the forward pass
    assert hook_count(model) == 0 and twin_hooks(model) == 0


def test_layers_grad_cam_cannot_use_are_refused_clearly(digit, photo):
    x, target = digit
    model = load_model("digits")
    with pytest.raises(ValueError, match=r"shape \(1, 128\).*convolutional layer"):
        attribution.grad_cam(model, x, target, "fc1")
    resnet = load_model("resnet18")
    with pytest.raises(ValueError, match="2 tensor outputs in one forward pass"):
        attribution.grad_cam(resnet, photo[0], photo[1], "layer4.1.relu")  # used twice
    with pytest.raises(ValueError, match=r"shape \(1, C, H, W\), got \(3, 224, 224\)"):
        attribution.grad_cam(model, photo[0][0], target, "relu2")
    assert hook_count(model) == hook_count(resnet) == 0


def test_inputs_made_without_gradients_work(digit):
    images, _ = mnist.mnist_sample()
    x, target = digit
    model = load_model("digits")
    expected = attribution.grad_cam(model, x, target, "relu2")
    with torch.inference_mode():  # as a page that just ran predict might
        frozen = preprocess("digits", images[4])
        heat = attribution.grad_cam(model, frozen, target, "relu2")
        saliency = attribution.saliency(model, frozen, target)
    with torch.no_grad():
        np.testing.assert_array_equal(attribution.grad_cam(model, x, target, "relu2"), expected)
    np.testing.assert_array_equal(heat, expected)
    np.testing.assert_array_equal(saliency, attribution.saliency(model, x, target))
    with pytest.raises(ValueError, match=r"got \(2, 1, 28, 28\)"):
        attribution.grad_cam(model, torch.cat([x, x]), target, "relu2")


def test_hooks_others_put_on_the_shared_model_never_fire_here(digit):
    x, target = digit
    model = load_model("digits")
    calls = []
    handle = model.relu2.register_forward_hook(lambda *_: calls.append(1))
    try:  # another session's feature-map hook, say, while Grad-CAM runs
        attribution.grad_cam(model, x, target, "relu2")
        attribution.saliency(model, x, target)
        trust.randomisation_check(model, x, target, "relu2")
    finally:
        handle.remove()
    assert calls == []


# --- threads ---------------------------------------------------------------------------------


def _in_threads(work, n_threads: int) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(k):
        try:
            work(k)
        except BaseException as err:  # noqa: BLE001 - collected and reported
            errors.append(err)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_grad_cam_is_thread_safe_on_one_shared_model(digit):
    x, target = digit
    model = load_model("digits")
    expected = attribution.grad_cam(model, x, target, "relu2")
    mismatches = []

    def work(_k):
        for _ in range(100):
            heat = attribution.grad_cam(model, x, target, "relu2")
            if not np.array_equal(heat, expected):
                mismatches.append(heat)

    assert _in_threads(work, 4) == []
    assert mismatches == []
    assert hook_count(model) == 0 and twin_hooks(model) == 0


def test_hooking_methods_do_not_disturb_predictions_running_beside_them(digit):
    images, _ = mnist.mnist_sample()
    x, target = digit
    model = load_model("digits")
    expected = predict("digits", images[4])
    heat = attribution.guided_grad_cam(model, x, target, "relu2")
    wrong = []

    def work(k):
        for _ in range(15 if k < 2 else 150):
            if k < 2:  # guided backprop hooks every ReLU of the network it runs on
                if not np.array_equal(attribution.guided_grad_cam(model, x, target, "relu2"),
                                      heat):
                    wrong.append("map")
            elif not np.allclose(predict("digits", images[4]), expected):
                wrong.append("prediction")

    assert _in_threads(work, 4) == []
    assert wrong == []
    assert hook_count(model) == 0 and twin_hooks(model) == 0


# --- trust checks ------------------------------------------------------------------------------


def test_randomising_the_top_layer_changes_grad_cam(shape_inputs):
    model = load_model("shapes")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    results = [trust.randomisation_check(model, x, t, "relu4", top_layers=1)
               for x, t in shape_inputs[:6]]
    assert all(r.layers == ("fc",) for r in results)
    assert np.mean([r.spearman for r in results]) < 0.3
    assert np.mean([r.ssim for r in results]) < 0.3
    for r, (x, t) in zip(results, shape_inputs, strict=False):
        np.testing.assert_array_equal(r.original, attribution.grad_cam(model, x, t, "relu4"))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())  # untouched
    # the same map compared with itself is perfectly similar: the scale's other end
    same = results[0].original
    assert trust.rank_correlation(same, same) == pytest.approx(1.0)
    assert trust.structural_similarity(same, same) == pytest.approx(1.0)


def test_randomisation_counts_layers_from_the_output_end(digit):
    x, target = digit
    r = trust.randomisation_check(load_model("digits"), x, target, "relu2", top_layers=3)
    assert r.layers == ("fc2", "fc1", "conv2")
    with pytest.raises(ValueError, match="top_layers must be 1 to 4"):
        trust.randomisation_check(load_model("digits"), x, target, "relu2", top_layers=5)


def test_grad_cam_deletes_the_class_faster_than_a_random_map(shape_inputs):
    model = load_model("shapes")
    rng = np.random.default_rng(0)
    cam_auc, random_auc = [], []
    for x, t in shape_inputs:
        cam = attribution.grad_cam(model, x, t, "relu4")
        cam_auc.append(trust.deletion_curve(model, x, t, cam).auc)
        random_auc.append(trust.deletion_curve(model, x, t, rng.random((64, 64))).auc)
    assert np.mean(cam_auc) < np.mean(random_auc) - 0.1


def test_the_deletion_curve_runs_from_the_image_to_the_baseline(shape_inputs):
    images, _, _ = shapes_heldout()
    x, t = shape_inputs[0]
    model = load_model("shapes")
    curve = trust.deletion_curve(model, x, t, np.random.default_rng(1).random((8, 8)),
                                       steps=10, baseline="zero")
    np.testing.assert_allclose(curve.fractions, np.linspace(0, 1, 11))
    assert curve.probabilities[0] == pytest.approx(predict("shapes", images[0])[t], abs=1e-6)
    with torch.no_grad():
        blank = torch.softmax(model(torch.zeros_like(x)).double(), 1)[0, t].item()
    assert curve.probabilities[-1] == pytest.approx(blank, abs=1e-6)
    assert curve.auc == pytest.approx(np.trapezoid(curve.probabilities, curve.fractions))
    with pytest.raises(ValueError, match="'blur' or 'zero'"):
        trust.deletion_curve(model, x, t, np.zeros((8, 8)), baseline="noise")


def test_grad_cam_points_at_the_object_at_the_recommended_layer():
    layer = RECOMMENDED_LAYERS["shapes"]
    result = trust.pointing_game("shapes", layer)
    assert result.n == 1000 and result.score >= 0.90
    assert len(result.misses) == result.n - result.hits
    assert trust.pointing_game("shapes", layer) is result  # cached
    assert trust.pointing_game("shapes", "relu1", n=200).score < 0.5  # too early a layer
    assert trust.pointing_game().layer == layer  # the recommended layer by default


def test_the_pointing_game_plays_any_method_and_only_where_there_are_boxes():
    result = trust.pointing_game("shapes", "relu4", "saliency", n=24)
    assert result.layer is None and result.n == 24 and 0 <= result.hits <= 24
    with pytest.raises(ValueError, match="only the 'shapes' model"):
        trust.pointing_game("digits", "relu2")


def test_recommended_layers_exist_in_every_registry_model():
    assert set(RECOMMENDED_LAYERS) == set(MODELS)
    for name, layer in RECOMMENDED_LAYERS.items():
        with torch.device("meta"):  # the architecture only, without allocating weights
            model = MODELS[name].build()
        hooks.get_layer(model, layer)


def test_integrated_gradients_is_nearly_complete_with_enough_steps(shape_inputs):
    x, target = shape_inputs[5]
    model = load_model("shapes")
    with torch.no_grad():
        gain = (model(x)[0, target] - model(torch.zeros_like(x))[0, target]).item()
    heat, delta = attribution.integrated_gradients(model, x, target, steps=64, return_delta=True)
    assert heat.dtype == np.float32 and heat.shape == (64, 64) and heat.max() == 1.0
    assert abs(delta) < 0.02 * abs(gain)  # completeness: attributions sum to the score gain


def test_occlusion_reports_progress_up_to_one(digit):
    x, target = digit
    seen = []
    heat = attribution.occlusion(load_model("digits"), x, target, window=7, stride=7, batch=4,
                                 progress=seen.append)
    assert attribution.occlusion_windows((28, 28), 7, 7) == 16
    assert seen == [0.25, 0.5, 0.75, 1.0, 1.0]  # after each batch of 4 windows, then done
    assert heat.shape == (28, 28) and heat.max() == 1.0
    with pytest.raises(ValueError, match="stride must be 1 to the window"):
        attribution.occlusion(load_model("digits"), x, target, window=4, stride=5)


# --- overlay -----------------------------------------------------------------------------------


def test_overlay_blends_a_resized_colour_map_over_grey_or_colour_pictures():
    grey = np.tile(np.arange(0, 256, 4, dtype=np.uint8), (48, 1))  # (48, 64)
    heat = np.random.default_rng(0).random((6, 8)).astype(np.float32)
    out = overlay(grey, heat, alpha=0.0)
    assert out.dtype == np.uint8 and out.shape == (48, 64, 3)
    assert np.array_equal(out, np.repeat(grey[:, :, None], 3, axis=2))  # alpha 0: the picture
    full = overlay(grey, heat, alpha=1.0, colormap="turbo")  # alpha 1: the colours
    levels = np.round(cv2.resize(heat, (64, 48), interpolation=cv2.INTER_LINEAR) * 255)
    expected = cv2.applyColorMap(levels.astype(np.uint8), cv2.COLORMAP_TURBO)[:, :, ::-1]
    assert np.array_equal(full, expected)
    hot = overlay(np.zeros((4, 4, 3), np.uint8), np.ones((2, 2)), alpha=1.0)  # viridis: yellow
    assert hot[0, 0, 0] > 200 and hot[0, 0, 1] > 200 and hot[0, 0, 2] < 80
    jet = overlay(np.zeros((4, 4, 3), np.uint8), np.ones((2, 2)), alpha=1.0, colormap="jet")
    assert jet[0, 0, 0] > 100 and jet[0, 0, 2] == 0  # jet's top: red
    half = overlay(np.full((4, 4, 3), 200, np.uint8), np.ones((4, 4)), alpha=0.5)
    assert np.array_equal(half, np.round(0.5 * 200 + 0.5 * hot).astype(np.uint8))
    assert {"jet", "turbo", "viridis", "inferno"} <= set(COLORMAPS)
    with pytest.raises(ValueError, match="unknown colour map 'rainbowz'"):
        overlay(grey, heat, colormap="rainbowz")
