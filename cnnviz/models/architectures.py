"""Network definitions. Each builder returns a fresh module with random weights.

Layers are named submodules (``conv1``, ``relu1``, ``pool1``, ...) in an ``nn.Sequential``, and
every ReLU is out-of-place, so hooks, feature maps and receptive fields can address any layer
by name.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

__all__ = [
    "digits_cnn",
    "lenet5",
    "receptive_field_lesson",
    "shapes_cnn",
    "torchvision_classic",
]


def digits_cnn() -> nn.Sequential:
    """The bundled digits CNN: two conv blocks and a two-layer classifier.

    Input (B, 1, 28, 28) standardised MNIST pixels; output (B, 10) logits.
    Shapes: conv1 -> (B, 16, 28, 28), pool1 -> (B, 16, 14, 14),
    conv2 -> (B, 32, 14, 14), pool2 -> (B, 32, 7, 7), flatten -> (B, 1568),
    fc1 -> (B, 128), fc2 -> (B, 10).
    The widths were chosen on a validation split of the training images (see cnnviz.training).
    """
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 16, kernel_size=3, padding=1)),
        ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(16, 32, kernel_size=3, padding=1)),
        ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(32 * 7 * 7, 128)),
        ("relu3", nn.ReLU()),
        ("dropout", nn.Dropout(0.3)),  # active in training only
        ("fc2", nn.Linear(128, 10)),
    ]))


def shapes_cnn() -> nn.Sequential:
    """The bundled shapes CNN: four conv blocks with batch norm, global max pooling, one linear
    layer.

    Input (B, 3, 64, 64) standardised RGB (see preprocessing.normalize_shapes); output (B, 4)
    logits for circle, square, triangle, star.
    Shapes: conv1 -> (B, 16, 64, 64), pool1 -> (B, 16, 32, 32), conv2 -> (B, 32, 32, 32),
    pool2 -> (B, 32, 16, 16), conv3 -> (B, 64, 16, 16), pool3 -> (B, 64, 8, 8),
    conv4 -> (B, 64, 8, 8), gmp -> (B, 64, 1, 1), flatten -> (B, 64), fc -> (B, 4).
    Each bn layer keeps its conv's shape.

    The last conv map stays 8x8 and its receptive field (38 px) covers the largest object
    (36 px). The classifier is linear in the per-channel maximum, so the gradient of a class
    score reaches only the strongest cell of each channel, and Grad-CAM on relu4 reduces to
    the class activation map sum_k w_ck A_k (Zhou et al., 2016) up to a factor of 1/64: it
    localises the object to an 8-pixel cell.

    Why max and not average pooling, and why batch norm: in short validation runs (2,000
    images, 8 epochs, one thread) the same network with global average pooling stayed near
    chance (35-48%), and without batch norm it stayed near chance with max pooling too; with
    both it reached 95%. A shape is decided by a few strong local cues (a corner, a star's
    tip), which the maximum passes on and the average dilutes with background.
    """
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(3, 16, kernel_size=3, padding=1, bias=False)),
        ("bn1", nn.BatchNorm2d(16)),  # a conv bias would be cancelled by batch norm
        ("relu1", nn.ReLU()),
        ("pool1", nn.MaxPool2d(2)),
        ("conv2", nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False)),
        ("bn2", nn.BatchNorm2d(32)),
        ("relu2", nn.ReLU()),
        ("pool2", nn.MaxPool2d(2)),
        ("conv3", nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False)),
        ("bn3", nn.BatchNorm2d(64)),
        ("relu3", nn.ReLU()),
        ("pool3", nn.MaxPool2d(2)),
        ("conv4", nn.Conv2d(64, 64, kernel_size=3, padding=1, bias=False)),
        ("bn4", nn.BatchNorm2d(64)),
        ("relu4", nn.ReLU()),
        ("gmp", nn.AdaptiveMaxPool2d(1)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(64, 4)),
    ]))


def lenet5() -> nn.Sequential:
    """LeNet-5 (LeCun et al., 1998) for 28x28 digits.

    The first convolution pads by 2, which stands in for the paper's 32x32 input; tanh
    activations and average-pool subsampling follow the paper (the paper's trainable
    subsampling coefficients and RBF output layer are left out).
    Shapes: conv1 -> (B, 6, 28, 28), pool1 -> (B, 6, 14, 14), conv2 -> (B, 16, 10, 10),
    pool2 -> (B, 16, 5, 5), flatten -> (B, 400), fc1 -> (B, 120), fc2 -> (B, 84), fc3 -> (B, 10).
    """
    return nn.Sequential(OrderedDict([
        ("conv1", nn.Conv2d(1, 6, kernel_size=5, padding=2)),
        ("tanh1", nn.Tanh()),
        ("pool1", nn.AvgPool2d(2)),
        ("conv2", nn.Conv2d(6, 16, kernel_size=5)),
        ("tanh2", nn.Tanh()),
        ("pool2", nn.AvgPool2d(2)),
        ("flatten", nn.Flatten()),
        ("fc1", nn.Linear(16 * 5 * 5, 120)),
        ("tanh3", nn.Tanh()),
        ("fc2", nn.Linear(120, 84)),
        ("tanh4", nn.Tanh()),
        ("fc3", nn.Linear(84, 10)),
    ]))


def torchvision_classic(name: str) -> nn.Module:
    """A torchvision architecture by name ("alexnet", "vgg16", "resnet18"), random weights.

    In-place ReLUs are replaced by out-of-place ones so hooks see the pre-activation values.
    torchvision is imported here, not at package import, because importing it costs seconds.
    """
    import torchvision.models

    model = torchvision.models.get_model(name, weights=None)
    for module in model.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return model


def receptive_field_lesson() -> nn.Sequential:
    """The receptive-field lesson as a network: three 3×3 convolutions, a 2×2 pool, a 3×3
    convolution, a 2×2 pool and a last 3×3 convolution, one channel throughout.

    Input (B, 1, 32, 32); every convolution pads by 1 and every weight is 1/9 (bias 0), so
    each convolution averages its 3×3 window, and the pools average too. There are no
    activations: the network is linear with equal weights, so its effective receptive field
    shows the geometry alone, the same for every image.
    Receptive fields (r) and jumps (j): conv1 3, conv2 5, conv3 7 (j 1), pool1 8 (j 2),
    conv4 12 (j 2), pool2 14 (j 4), conv5 22 (j 4).
    Shapes: conv1-conv3 -> (B, 1, 32, 32), pool1 -> (B, 1, 16, 16), conv4 -> (B, 1, 16, 16),
    pool2 -> (B, 1, 8, 8), conv5 -> (B, 1, 8, 8).
    """
    layers: list[tuple[str, nn.Module]] = []
    for name in ("conv1", "conv2", "conv3", "pool1", "conv4", "pool2", "conv5"):
        if name.startswith("pool"):
            layers.append((name, nn.AvgPool2d(2)))
            continue
        conv = nn.Conv2d(1, 1, kernel_size=3, padding=1)
        nn.init.constant_(conv.weight, 1 / 9)
        nn.init.zeros_(conv.bias)
        layers.append((name, conv))
    return nn.Sequential(OrderedDict(layers))
