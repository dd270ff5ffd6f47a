"""The model registry: what each model is, where its weights come from, and how to load it.

Adding a model means adding one ``ModelSpec`` to ``MODELS``: a builder for the architecture,
a preprocessing recipe name (see ``preprocessing.PREPROCESSORS``) and a weights source.

Weights sources:

- ``BundledWeights("x.pt")``: a state dict in ``assets/``, written by ``python -m cnnviz train``.
  ``required=True`` makes a missing file an error; otherwise the model runs with random weights.
- ``TorchvisionWeights("ResNet18_Weights.IMAGENET1K_V1")``: torchvision's pretrained weights,
  read from the torch hub cache (``$TORCH_HOME/hub/checkpoints``) or downloaded there. Offline
  and uncached, the model runs with random weights. Set ``CNNVIZ_OFFLINE=1`` to skip the
  download attempt.
- ``None``: always random weights.

Every loaded model carries ``model.cnnviz_pretrained``: True when real weights were loaded,
False when its weights are random, so pages can say so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import torch
from torch import nn

from cnnviz.data import shapes
from cnnviz.models import architectures

__all__ = [
    "ASSETS_DIR",
    "DEFAULT_MODEL",
    "LESSON_MODEL",
    "MODELS",
    "BundledWeights",
    "ModelError",
    "ModelSpec",
    "TorchvisionWeights",
    "architecture",
    "get_spec",
    "load_model",
    "training_command",
]

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"


def training_command(name: str) -> str:
    """The command line that trains the bundled model ``name`` and writes its weights."""
    return f"python -m cnnviz train {name}"


class ModelError(RuntimeError):
    """A model cannot be loaded; the message says what to do."""


@dataclass(frozen=True)
class BundledWeights:
    """A state dict shipped in ``assets/`` (trained by ``training_command(NAME)``)."""

    filename: str
    required: bool = True  # a missing file is an error rather than random weights

    @property
    def path(self) -> Path:
        return ASSETS_DIR / self.filename

    def describe(self) -> str:
        return f"bundled: assets/{self.filename}"

    def load_into(self, model: nn.Module, name: str) -> bool:
        """Load the weights into ``model``; False (weights left random) if the file is missing."""
        if not self.path.exists():
            if self.required:
                raise ModelError(
                    f"The weights of '{name}' are missing ({self.path}). "
                    f"Run `{training_command(name)}` to make them."
                )
            return False
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return True


@dataclass(frozen=True)
class TorchvisionWeights:
    """torchvision pretrained weights by enum name, e.g. "ResNet18_Weights.IMAGENET1K_V1"."""

    enum_name: str

    def describe(self) -> str:
        return f"torchvision: {self.enum_name} (torch hub cache, else download)"

    def cached_path(self) -> Path:
        """Where torch hub keeps (or would keep) the file: $TORCH_HOME/hub/checkpoints/..."""
        import torchvision.models

        url = torchvision.models.get_weight(self.enum_name).url
        return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)

    def load_into(self, model: nn.Module, name: str) -> bool:
        """Load cached (or freshly downloaded) weights; False if neither is possible."""
        path = self.cached_path()
        if path.exists():
            state = torch.load(path, map_location="cpu", weights_only=True)
        elif os.environ.get("CNNVIZ_OFFLINE"):
            return False
        else:
            import torchvision.models

            try:  # downloads into the cache, checks the hash; fails quickly without a network
                state = torchvision.models.get_weight(self.enum_name).get_state_dict(
                    progress=False, check_hash=True, weights_only=True, map_location="cpu")
            except (OSError, RuntimeError, ValueError):  # URLError is an OSError
                return False
        model.load_state_dict(state)
        return True


WeightsSource = BundledWeights | TorchvisionWeights | None


@dataclass(frozen=True)
class ModelSpec:
    """Everything the app needs to know about one model."""

    name: str
    description: str  # one line for a picker
    input_size: tuple[int, int, int]  # (C, H, W) of one preprocessed image
    class_names: tuple[str, ...]
    preprocessing: str  # key of preprocessing.PREPROCESSORS
    build: Callable[[], nn.Module]  # architecture with random weights
    weights: WeightsSource
    # Model card JSON (training data, accuracy, date); the file exists once the model is trained.
    card: Path | None = None

    @property
    def weights_source(self) -> str:
        """Where the weights come from, in words."""
        return "none: random weights" if self.weights is None else self.weights.describe()


def _imagenet_classes() -> tuple[str, ...]:
    """The 1,000 ImageNet class names, from a text file copied from torchvision."""
    text = (ASSETS_DIR / "imagenet_classes.txt").read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if line)


def _classic(name: str, enum_name: str, title: str) -> ModelSpec:
    """A torchvision classic trained on ImageNet (1,000 classes, 224x224 RGB)."""
    return ModelSpec(
        name=name,
        description=f"{title}, 1,000 ImageNet classes; pretrained when torchvision's weights "
        "are cached or can be downloaded, random otherwise",
        input_size=(3, 224, 224),
        class_names=_imagenet_classes(),
        preprocessing="imagenet",
        build=partial(architectures.torchvision_classic, name),
        weights=TorchvisionWeights(enum_name),
    )


DIGITS = tuple(str(d) for d in range(10))

MODELS: dict[str, ModelSpec] = {
    "digits": ModelSpec(
        name="digits",
        description="Small CNN for handwritten digits (2 conv blocks), trained on 4,000 MNIST "
        "images",
        input_size=(1, 28, 28),
        class_names=DIGITS,
        preprocessing="mnist",
        build=architectures.digits_cnn,
        weights=BundledWeights("digits.pt"),
        card=ASSETS_DIR / "digits.json",
    ),
    "lenet5": ModelSpec(
        name="lenet5",
        description="LeNet-5 (1998) for digits; untrained unless assets/lenet5.pt exists",
        input_size=(1, 28, 28),
        class_names=DIGITS,
        preprocessing="mnist",
        build=architectures.lenet5,
        weights=BundledWeights("lenet5.pt", required=False),
        card=ASSETS_DIR / "lenet5.json",
    ),
    "shapes": ModelSpec(
        name="shapes",
        description="Small RGB CNN (4 conv blocks, global max pooling) for coloured "
        "circles, squares, triangles and stars on cluttered backgrounds, trained on 8,000 "
        "generated 64x64 images",
        input_size=(3, 64, 64),
        class_names=shapes.CLASS_NAMES,
        preprocessing="shapes_rgb",
        build=architectures.shapes_cnn,
        weights=BundledWeights("shapes.pt"),
        card=ASSETS_DIR / "shapes.json",
    ),
    "alexnet": _classic("alexnet", "AlexNet_Weights.IMAGENET1K_V1", "AlexNet (2012)"),
    "vgg16": _classic("vgg16", "VGG16_Weights.IMAGENET1K_V1", "VGG-16 (2014)"),
    "resnet18": _classic("resnet18", "ResNet18_Weights.IMAGENET1K_V1", "ResNet-18 (2015)"),
}
DEFAULT_MODEL = "digits"

# Seed of the random weights of untrained models, so they look the same on every load.
UNTRAINED_SEED = 0


def get_spec(name: str) -> ModelSpec:
    """The ModelSpec of a registered model; ModelError naming the known ones otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise ModelError(f"There is no model called '{name}'. Known models: {known}.") from None


@lru_cache(maxsize=8)
def load_model(name: str) -> nn.Module:
    """The model ``name`` in eval mode, with its weights; cached, so every caller shares it.

    The returned module is shared: do not modify it (copy.deepcopy it first).
    ``model.cnnviz_pretrained`` is True when real weights were loaded, False when the weights
    are random (seeded with UNTRAINED_SEED). Gradients stay enabled so attribution methods work.
    """
    spec = get_spec(name)
    with torch.random.fork_rng(devices=[]):  # random init without touching the global RNG
        torch.manual_seed(UNTRAINED_SEED)
        model = spec.build()
    pretrained = spec.weights.load_into(model, name) if spec.weights is not None else False
    model.eval()
    model.cnnviz_name = name
    model.cnnviz_pretrained = pretrained
    return model


def architecture(name: str) -> nn.Module:
    """The network ``name`` without weights, on PyTorch's ``meta`` device.

    Parameters have shapes but no storage, so even VGG-16 (138 million parameters) takes no
    memory and builds in milliseconds; ``inspect.layer_table`` and ``inspect.model_totals``
    run on it (shapes, parameter counts, multiply-adds). It cannot compute real values: use
    ``load_model`` for feature maps and gradients. A fresh module on every call.
    """
    spec = get_spec(name)
    with torch.device("meta"):
        model = spec.build()
    return model.eval()


#: The receptive-field lesson (three 3×3 convolutions, then pools that double the jump) as a
#: model spec, so pages treat it like the others. Not in MODELS: it classifies nothing; build
#: it with ``LESSON_MODEL.build()`` (its weights are fixed averages, not random).
LESSON_MODEL = ModelSpec(
    name="lesson",
    description="three 3×3 convolutions, then 2×2 pools between more 3×3 convolutions; every "
    "kernel averages its window",
    input_size=(1, 32, 32),
    class_names=(),
    preprocessing="gray",
    build=architectures.receptive_field_lesson,
    weights=None,
)
