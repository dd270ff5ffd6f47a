"""Network definitions. Each builder returns a fresh module with random weights.

Layers are named submodules (``conv1``, ``relu1``, ``pool1``, ...) in an ``nn.Sequential``, and
every ReLU is out-of-place, so hooks, feature maps and receptive fields can address any layer
by name.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn


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
