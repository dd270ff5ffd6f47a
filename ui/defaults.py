"""What each page opens on when the link does not say: its network, and the layer of a
network it shows first. One place, so a page's first view is a decision made here.
"""

from __future__ import annotations

from cnnviz import RECOMMENDED_LAYERS, LayerError, fitting_model
from ui import state
from ui.cache import models, networks

__all__ = [
    "ARCHITECTURE_MODEL",
    "INPUT_SCALES",
    "RECEPTIVE_FIELD_NETWORK",
    "TRAINING_MODEL",
    "cam_layer",
    "channel_layer",
    "feature_map_layer",
    "filter_layer",
    "first_conv",
    "input_side",
    "network_model",
    "overview_layer",
    "receptive_field_layer",
]

#: The Training page trains the digits CNN first (under 40 s).
TRAINING_MODEL = "digits"


def network_model() -> str:
    """The network that fits the current image (``cnnviz.fitting_model``): EfficientNet-Lite0
    for a photograph or an upload, the digits CNN for an MNIST digit or a drawing, the shapes
    CNN for a shapes image. The Models, Overview, Feature maps, Filters, What a channel
    detects and Grad-CAM pages open on it; the user can pick any other."""
    image = state.current_image()
    return fitting_model(image.source, image.name)

#: Architecture opens on the classic with the most instructive table.
ARCHITECTURE_MODEL = "vgg16"
#: Receptive fields open on the lesson network (3 → 5 → 7).
RECEPTIVE_FIELD_NETWORK = models.LESSON
#: Input sizes the Receptive fields page offers for a network that runs on any size
#: (``ModelSpec.any_size``), as multiples of its own side: its own first, then larger inputs.
INPUT_SCALES = (1.0, 1.5, 2.0)


def input_side(name: str, scale: float) -> int | None:
    """The input side of ``name`` at ``scale`` times its own, or None for its own size."""
    own = models.spec(name).input_size[1]
    return None if scale == 1 else round(own * scale)


def _middle(names: list[str]) -> str | None:
    return names[len(names) // 2] if names else None


def overview_layer(name: str) -> str:
    """The map the Overview opens large: the first layer (the input when there is none)."""
    layers = networks.overview_layers(name)
    return layers[0] if layers else "input"


def _convs(name: str) -> tuple[str, ...]:
    convs = networks.conv_layers(name)
    if not convs:
        raise LayerError("This model has no convolution.")
    return convs


def first_conv(name: str) -> str:
    """The first convolution: the one that looks at the pixels (EfficientNet's stem.conv)."""
    return _convs(name)[0]


def feature_map_layer(name: str) -> str:
    """The first convolution (or conv unit): its maps are the easiest to read."""
    first = [s.name for s in networks.layer_steps(name) if s.computes][:1]
    return first[0] if first else _convs(name)[0]


def filter_layer(name: str) -> str:
    """The second convolution (the first one that looks at maps, not pixels)."""
    convs = _convs(name)
    return convs[1] if len(convs) > 1 else convs[0]


def channel_layer(name: str) -> str:
    """The middle convolution: conv2 of the digits CNN, conv3 of the shapes CNN, block 9 of
    EfficientNet-Lite0 (its units: stem, 16 blocks, head)."""
    convs = [s.name for s in networks.layer_steps(name) if s.computes]
    return _middle(convs) or networks.spatial_layers(name)[0]


def receptive_field_layer(name: str) -> str:
    """The middle convolution: conv3 of the lesson (field 7), conv2 of the digits network."""
    rows = networks.rf_table(name)
    return _middle([r["name"] for r in rows if r["type"] == "Conv2d"]) or rows[0]["name"]


def cam_layer(name: str, choices: list[str]) -> str:
    """The recommended Grad-CAM layer (the last convolutional stage), else the last choice."""
    return RECOMMENDED_LAYERS.get(name, choices[-1])
