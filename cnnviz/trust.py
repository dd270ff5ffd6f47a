"""Can the map be trusted? Checks of the attribution maps of ``cnnviz.attribution``.

- ``randomisation_check``: does the map change when the top layers are re-initialised?
  (Adebayo et al., 2018, "Sanity checks for saliency maps");
- ``deletion_curve``: does the class probability fall fast when the most important pixels
  are removed first? (Petsiuk et al., 2018);
- ``pointing_game``: does the map's peak fall on the object? (Zhang et al., 2016, on the
  held-out shapes and their boxes).

Like the methods, no check puts a hook on the model it is given (``hooks.borrowed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import torch
from torch import nn

from cnnviz.attribution import (
    RECOMMENDED_LAYERS,
    check_input,
    check_target,
    get_method,
    grad_cam_maps,
    upsample,
)
from cnnviz.models.registry import seeded
from cnnviz.network.hooks import borrowed, get_layer, private_copy
from cnnviz.network.tables import weight_layers


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps (ties get their average rank); 0 when either map
    is constant, since a constant map ranks nothing."""
    from scipy.stats import rankdata

    ra, rb = rankdata(np.ravel(a)), rankdata(np.ravel(b))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def structural_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM (Wang et al., 2004) of two maps in [0, 1], scikit-image's implementation with a
    7x7 window (smaller for tiny maps)."""
    from skimage.metrics import structural_similarity as ssim

    side = min(a.shape)
    win = min(7, side if side % 2 else side - 1)
    return float(ssim(np.asarray(a, np.float64), np.asarray(b, np.float64), data_range=1.0,
                      win_size=max(3, win)))


@dataclass(frozen=True)
class RandomisationCheck:
    """The result of ``randomisation_check``."""

    original: np.ndarray  # float32 (H, W) in [0, 1]: the map of the model as it is
    randomised: np.ndarray  # float32 (H, W) in [0, 1]: after re-initialising the top layers
    layers: tuple[str, ...]  # the re-initialised layers, output end first
    spearman: float  # rank correlation of the two maps, -1..1
    ssim: float  # structural similarity of the two maps, -1..1


def randomise_top_layers(model: nn.Module, top_layers: int, seed: int = 0
                         ) -> tuple[nn.Module, tuple[str, ...]]:
    """A private copy of ``model`` (own weights) whose last ``top_layers`` weight layers (see
    ``weight_layers``) are re-initialised by their ``reset_parameters`` with ``seed``;
    returns (copy, names of those layers, output end first). ``model`` is unchanged."""
    names = weight_layers(model)
    if not 1 <= int(top_layers) <= len(names):
        raise ValueError(f"top_layers must be 1 to {len(names)} (the layers with weights: "
                         f"{', '.join(names)}), got {top_layers}")
    chosen = tuple(reversed(names[-int(top_layers):]))
    copy_ = private_copy(model, share_weights=False)
    modules = dict(copy_.named_modules())
    with seeded(seed):
        for name in chosen:
            modules[name].reset_parameters()
    return copy_, chosen


def randomisation_check(model: nn.Module, image_tensor: torch.Tensor, target: int,
                        layer: str | None, method: str = "grad_cam", top_layers: int = 1,
                        seed: int = 0, **options) -> RandomisationCheck:
    """The model-parameter randomisation test of Adebayo et al. (2018), "Sanity checks for
    saliency maps": re-initialise the top ``top_layers`` weight layers (from the output end,
    with ``seed``) of a copy of ``model`` and run ``method`` again.

    A map that explains the trained network must change when its top layers forget what they
    learnt: low similarity passes the check, a map that stays the same (an edge detector in
    disguise) fails it. Similarity is measured twice, as in the paper: Spearman's rank
    correlation (does the order of importance survive?) and SSIM (does the picture look the
    same?). ``options`` go to the method (e.g. steps=...). ``model`` is not changed.
    """
    chosen_method = get_method(method)
    original = chosen_method(model, image_tensor, target, layer, **options)
    scrambled, names = randomise_top_layers(model, top_layers, seed)
    randomised = chosen_method(scrambled, image_tensor, target, layer, **options)
    return RandomisationCheck(original, randomised, names, rank_correlation(original, randomised),
                              structural_similarity(original, randomised))


@dataclass(frozen=True)
class DeletionCurve:
    """The result of ``deletion_curve``."""

    fractions: np.ndarray  # float64 (steps + 1,): share of pixels removed, 0 to 1
    probabilities: np.ndarray  # float64 (steps + 1,): the target class's softmax probability
    auc: float  # area under probabilities over fractions, 0 to 1: lower = more faithful map


#: Standard deviation of the "blur" baseline, as a share of the image's longer side.
BLUR_SIGMA = 0.05


def _blurred(x: torch.Tensor) -> torch.Tensor:
    """A Gaussian blur of a (1, C, H, W) input, sigma = BLUR_SIGMA x the longer side."""
    image = x[0].detach().permute(1, 2, 0).numpy()  # (H, W, C)
    sigma = BLUR_SIGMA * max(image.shape[:2])
    blurred = cv2.GaussianBlur(np.ascontiguousarray(image), (0, 0), sigma,
                               borderType=cv2.BORDER_REFLECT)
    return torch.from_numpy(blurred.reshape(image.shape)).permute(2, 0, 1)[None]


def deletion_curve(model: nn.Module, image_tensor: torch.Tensor, target: int,
                   attribution_map: np.ndarray, steps: int = 20, baseline: str = "blur"
                   ) -> DeletionCurve:
    """The deletion metric of Petsiuk et al. (2018, RISE): remove pixels most-important-first
    and watch the class probability.

    attribution_map: (h, w), resized bilinearly to the input's (H, W) if needed; ties are
    removed in reading order. At step i of ``steps`` the top i/steps of the pixels (all
    channels) are replaced by the ``baseline``: "blur" (a Gaussian blur of the image) or
    "zero" (0 in standardised units: the mean colour). A faithful map makes the probability
    fall fast, so a lower area under the curve is better; a random map is the yardstick.
    """
    if baseline not in ("blur", "zero"):
        raise ValueError(f"baseline must be 'blur' or 'zero', got {baseline!r}")
    if int(steps) < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    steps = int(steps)
    x = check_input(image_tensor).detach()  # (1, C, H, W)
    _, _, height, width = x.shape
    heat = torch.as_tensor(np.asarray(attribution_map, np.float32))
    if heat.ndim != 2:
        raise ValueError(f"the attribution map must be 2-D (h, w), got {tuple(heat.shape)}")
    if tuple(heat.shape) != (height, width):
        heat = upsample(heat[None, None], (height, width))[0, 0]
    order = np.argsort(-heat.numpy().ravel(), kind="stable")  # most important first
    fractions = np.linspace(0.0, 1.0, steps + 1)
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size)
    counts = np.round(fractions * order.size).astype(np.int64)  # pixels removed per step
    masks = torch.from_numpy(rank[None, :] < counts[:, None]).reshape(steps + 1, 1, height, width)
    base = _blurred(x) if baseline == "blur" else torch.zeros_like(x)
    batch = torch.where(masks, base, x)  # (steps + 1, C, H, W)
    with borrowed(model) as net, torch.no_grad():
        logits = torch.cat([net(chunk) for chunk in batch.split(32)])
    target = check_target(target, logits.shape[1])
    probs = torch.softmax(logits.double(), dim=1)[:, target].numpy()
    return DeletionCurve(fractions, probs, float(np.trapezoid(probs, fractions)))


@dataclass(frozen=True)
class PointingGame:
    """The result of ``pointing_game``."""

    model_name: str
    layer: str | None
    method: str
    n: int  # images played
    hits: int  # images whose map peak lies inside the object's box
    misses: tuple[int, ...]  # indices (into shapes_heldout()) of the others

    @property
    def score(self) -> float:
        """Share of hits, 0 to 1."""
        return self.hits / self.n if self.n else 0.0


#: Images per Grad-CAM batch in the pointing game.
POINTING_BATCH = 100


def pointing_game(model_name: str = "shapes", layer: str | None = None,
                  method: str = "grad_cam", n: int | None = None) -> PointingGame:
    """The pointing game (Zhang et al., 2016) on the held-out shapes: the share of images whose
    map peak (argmax of the map at 64x64; the first one in reading order on a tie) falls inside
    the object's box, with the true class as the target.

    layer: for the methods that take one; None for RECOMMENDED_LAYERS[model_name].
    n: the first n held-out images (balanced when a multiple of 4), None for all 1,000.
    Cached: the same game played again returns the same object at once.
    """
    from cnnviz.data.shapes import HELDOUT_IMAGES

    if model_name != "shapes":
        raise ValueError(f"the pointing game needs object boxes, which only the 'shapes' model's "
                         f"held-out set has, not {model_name!r}")
    if not get_method(method).needs_layer:
        layer = None
    elif layer is None:
        layer = RECOMMENDED_LAYERS[model_name]
    n = HELDOUT_IMAGES if n is None else max(0, min(int(n), HELDOUT_IMAGES))
    return _pointing_game(model_name, layer, method, n)


@lru_cache(maxsize=64)
def _pointing_game(model_name: str, layer: str | None, method: str, n: int) -> PointingGame:
    from cnnviz.data.shapes import shapes_heldout
    from cnnviz.models.inference import preprocess
    from cnnviz.models.registry import load_model

    chosen = get_method(method)
    images, labels, boxes = shapes_heldout()
    model = load_model(model_name)
    x = torch.cat([preprocess(model_name, image) for image in images[:n]]) if n else None
    peaks = np.empty((n, 2), np.int64)
    if method == "grad_cam":  # batched: a hundred images per pass
        get_layer(model, layer)
        with borrowed(model) as net:
            for start in range(0, n, POINTING_BATCH):
                xb = x[start:start + POINTING_BATCH].clone().requires_grad_(True)
                (cam,) = grad_cam_maps(net, xb, labels[start:start + len(xb)].tolist(), [layer])
                cams = upsample(cam, tuple(xb.shape[2:]))[:, 0]
                flat = cams.flatten(1).argmax(dim=1).numpy()
                peaks[start:start + len(xb)] = np.stack(np.unravel_index(flat, cams.shape[1:]), 1)
    else:
        for i in range(n):
            heat = chosen(model, x[i:i + 1], int(labels[i]), layer)
            peaks[i] = np.unravel_index(int(np.argmax(heat)), heat.shape)
    rows, cols = peaks[:, 0], peaks[:, 1]
    inside = ((boxes[:n, 0] <= rows) & (rows < boxes[:n, 1])
              & (boxes[:n, 2] <= cols) & (cols < boxes[:n, 3]))
    return PointingGame(model_name, layer, method, n,
                        int(inside.sum()), tuple(int(i) for i in np.flatnonzero(~inside)))


__all__ = [
    "DeletionCurve",
    "PointingGame",
    "RandomisationCheck",
    "deletion_curve",
    "pointing_game",
    "randomisation_check",
    "randomise_top_layers",
    "rank_correlation",
    "structural_similarity",
]
