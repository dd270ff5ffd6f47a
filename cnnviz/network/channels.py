"""What a channel detects: an input synthesised to excite it, and the real images that do.

Two answers to "what does channel k of this layer look for?":

- ``maximise_channel``: *activation maximisation*. Start from grey noise and change the input
  by gradient ascent until the channel responds as strongly as possible: its mean over the
  whole map (Lucid's "channel" objective: the pattern repeated wherever it fits), or its
  centre unit (the pattern inside that unit's receptive field). Left alone, gradient ascent
  finds high-frequency patterns that excite the channel but look like nothing, so three
  regularisers from the feature-visualisation literature are offered: *jitter* (the image is
  rolled by a random pixel or two before every step, so the pattern must work wherever it
  lands), *blur* (a small Gaussian blur every few steps; Yosinski et al., 2015) and
  *frequency decay* (the image is a spectrum scaled by 1/f, so low frequencies are cheap and
  fine detail is expensive; Olah et al., 2017, "Feature Visualization", Lucid's ``fft_image``).
  ``REGULARISERS`` names the combinations the app offers; ``maximise_config`` sizes them for an
  input.
- ``top_patches``: the k dataset images in which the channel reaches its highest value (at
  most one unit per image), each cropped to the receptive field of that unit, so the crop is
  exactly what the unit saw. ``channel_peaks`` does the expensive part (every image through
  the network once) for every channel of a layer at a time, so a page can cache it.

Everything works in the model's own input space: pixels in [0, 1] standardised by the model's
preprocessing recipe (``preprocessing.STANDARDISATION``). The shared model is never changed:
gradient ascent runs on a private copy made for each call (``hooks.private_copy``: its
own module tree, the very same weight tensors, no hooks, eval mode), in which every ReLU
passes a gradient on even while it is off (Lucid's "redirected ReLU": a channel that is 0 on
the starting noise would otherwise get no gradient and never move). Gradients are taken with
``torch.autograd.grad`` with respect to the image only, so no weight gets a ``.grad``. Layers
are read by ``hooks.run_until``, whose hook stops the pass once the layer has run and is
removed even when something fails, so sessions can share one model without a lock.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnnviz.arithmetic import centre_unit
from cnnviz.images import ensure_rgb
from cnnviz.models.preprocessing import STANDARDISATION, to_picture
from cnnviz.models.registry import get_spec
from cnnviz.network.fields import receptive_field
from cnnviz.network.hooks import (
    LayerError,
    check_input_shape,
    get_layer,
    like_model,
    private_copy,
    run_until,
)

__all__ = [
    "MAXIMISE_OBJECTIVES",
    "ChannelPeaks",
    "MaximiseConfig",
    "REGULARISERS",
    "Synthesis",
    "TopPatches",
    "channel_peaks",
    "canvas_shape",
    "maximise_config",
    "default_maximise_steps",
    "default_regulariser",
    "maximise_channel",
    "top_patches",
]

#: What is maximised: the channel's mean over its map, or its centre unit.
MAXIMISE_OBJECTIVES = ("mean", "centre")
#: Called after every step with (step, total steps, objective of that step).
Progress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class MaximiseConfig:
    """Settings of one activation maximisation; the defaults suit a 28×28 digit."""

    steps: int = 128  # gradient-ascent steps (Adam); 128 take 0.1-0.3 s on the digits CNN
    lr: float = 0.05  # Adam's step size on the image parameters (Lucid's default)
    jitter: int = 1  # before each step, roll the image by up to this many pixels (0: off)
    blur_every: int = 0  # every this many steps, blur the image (0: never)
    blur_sigma: float = 0.5  # that blur's standard deviation, in pixels
    # 0: optimise the pixels themselves. > 0: optimise a spectrum whose frequency f is scaled
    # by 1 / f**freq_decay (Lucid uses 1), which favours smooth, large-scale patterns.
    freq_decay: float = 0.0
    seed: int = 0  # of the starting noise and of the jitter
    # "mean": the channel's mean over its whole map (Lucid's "channel" objective), so the
    # pattern is repeated wherever it fits; "centre": the one unit at the map's centre, so the
    # pattern fills that unit's receptive field and the rest of the image stays grey.
    objective: str = "mean"

    def __post_init__(self) -> None:
        checks = [
            (self.objective in MAXIMISE_OBJECTIVES,
             f"the objective must be one of {MAXIMISE_OBJECTIVES}"),
            (isinstance(self.steps, int) and 1 <= self.steps <= 10_000,
             "steps must be a whole number from 1 to 10,000"),
            (math.isfinite(self.lr) and self.lr > 0, "the learning rate must be above 0"),
            (isinstance(self.jitter, int) and self.jitter >= 0,
             "jitter must be a whole number of pixels, 0 or more"),
            (isinstance(self.blur_every, int) and self.blur_every >= 0,
             "blur_every must be a whole number of steps, 0 or more"),
            (math.isfinite(self.blur_sigma) and self.blur_sigma > 0,
             "the blur's sigma must be above 0"),
            (math.isfinite(self.freq_decay) and self.freq_decay >= 0,
             "freq_decay must be 0 or more"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"{message}.")


#: Longest side of the canvas the app synthesises on. The ImageNet classics take 224×224, but
#: a convolution works at any size, and at 128×128 (Lucid's usual size) a step of ResNet-18
#: costs about a third as much.
CANVAS_SIDE = 128


#: Multiply-adds of one forward pass up to which the canvas is the model's own input size:
#: EfficientNet-Lite0 (0.39 G at 224×224) synthesises at 224, ResNet-18 (1.8 G) and VGG-16
#: (15.5 G) on the smaller CANVAS_SIDE canvas.
FULL_SIZE_MACS = 1_000_000_000


def canvas_shape(input_shape: tuple[int, int, int], max_side: int = CANVAS_SIDE, *,
                 macs: int | None = None) -> tuple[int, int, int]:
    """(C, H, W) to synthesise on: the model's input shape, shrunk to ``max_side`` on its
    longer side when it is bigger (the aspect ratio kept), unless ``macs`` (of one forward
    pass at the input size) is at most FULL_SIZE_MACS. (1, 28, 28) stays as it is."""
    c, h, w = check_input_shape(input_shape)
    if max(h, w) <= max_side or (macs is not None and macs <= FULL_SIZE_MACS):
        return c, h, w
    s = max_side / max(h, w)
    return c, max(1, round(h * s)), max(1, round(w * s))


def default_maximise_steps(input_shape: tuple[int, int, int], macs: int | None = None) -> int:
    """The app's starting number of steps: 128 for inputs up to 64×64 (the digits CNN takes
    about 0.1–0.3 s for them on one thread), 64 for a cheap network on a large input
    (``macs`` at most FULL_SIZE_MACS: EfficientNet-Lite0 at 224×224, 2–4 s), 32 for the
    others (ResNet-18 on its 128×128 canvas: about 2 s)."""
    if max(check_input_shape(input_shape)[1:]) <= 64:
        return 128
    return 64 if macs is not None and macs <= FULL_SIZE_MACS else 32


def default_regulariser(input_shape: tuple[int, int, int]) -> str:
    """The app's starting regulariser: jitter for inputs up to 64×64 (there is no room for
    more), jitter with the 1/f spectrum for photographs (the textures and parts of the
    Distill article, Olah et al. 2017)."""
    return "jitter" if max(check_input_shape(input_shape)[1:]) <= 64 else "fourier"


#: The regularisers the app offers: name -> what it does, in a sentence.
REGULARISERS: dict[str, str] = {
    "none": "plain gradient ascent on the pixels",
    "jitter": "the image is rolled by a random pixel or two before every step",
    "blur": "jitter, and a small Gaussian blur every 4 steps",
    "fourier": "jitter, and the image is a spectrum with 1/f frequency decay",
}


def maximise_config(regulariser: str, input_shape: tuple[int, int, int], steps: int = 128,
               seed: int = 0, objective: str = "mean") -> MaximiseConfig:
    """The ``MaximiseConfig`` of a named regulariser (a key of ``REGULARISERS``), sized for an
    input of shape (C, H, W): the jitter is about 1 pixel per 28 (1 for a digit, 8 for a
    224×224 photo) and the blur's sigma 0.5 pixel up to 64×64, 1 pixel above."""
    if regulariser not in REGULARISERS:
        raise ValueError(f"There is no regulariser {regulariser!r}; choose one of "
                         f"{', '.join(REGULARISERS)}.")
    side = max(check_input_shape(input_shape)[1:])
    jitter = max(1, round(side / 28))
    base = MaximiseConfig(steps=steps, seed=seed, jitter=0, objective=objective)
    if regulariser == "none":
        return base
    if regulariser == "jitter":
        return replace(base, jitter=jitter)
    if regulariser == "blur":
        return replace(base, jitter=jitter, blur_every=4, blur_sigma=0.5 if side <= 64 else 1.0)
    return replace(base, jitter=jitter, freq_decay=1.0)


@dataclass(frozen=True, eq=False)
class Synthesis:
    """An input synthesised to excite one channel, and how the objective grew."""

    layer: str
    channel: int
    input: np.ndarray  # float32 (1, C, H, W): standardised, as the model takes it
    image: np.ndarray  # float32 (H, W, C): the same input as pixels in [0, 1]
    history: np.ndarray  # float64 (steps,): the objective at each step (on the jittered image)
    start: float  # objective of the starting noise
    final: float  # objective of the result, not jittered
    config: MaximiseConfig

    @property
    def picture(self) -> np.ndarray:
        """uint8 (H, W, 3) for display; a grey input is repeated over three channels."""
        return ensure_rgb(np.round(self.image * 255.0).astype(np.uint8))


# --- reading one layer ---------------------------------------------------------------------


def _spatial(out: torch.Tensor, layer: str, channel: int | None = None) -> None:
    """LayerError unless ``out`` is (B, K, h, w) and ``channel`` one of its K channels."""
    if out.dim() != 4:
        raise LayerError(
            f"Layer {layer!r} has no maps (its output has shape {tuple(out.shape[1:])}); "
            "choose a convolution, activation or pooling layer."
        )
    channels = out.shape[1]
    if channel is not None and (isinstance(channel, bool) or not isinstance(
            channel, (int, np.integer)) or not 0 <= channel < channels):
        raise LayerError(f"Layer {layer!r} has {channels} channels (0 to {channels - 1}); "
                         f"there is no channel {channel!r}.")


def _recipe(model: nn.Module, recipe: str | None) -> str:
    """The preprocessing recipe: as given, else the registry model's own, else "gray" (pixels
    in [0, 1], no standardisation) for a model the registry does not know."""
    if recipe is None:
        name = getattr(model, "cnnviz_name", None)
        recipe = get_spec(name).preprocessing if name is not None else "gray"
    if recipe not in STANDARDISATION:
        raise ValueError(f"Unknown preprocessing recipe {recipe!r}; known: "
                         f"{', '.join(STANDARDISATION)}.")
    return recipe


def _standardisation(recipe: str, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, std) float32 (1, C, 1, 1) of a recipe; grey recipes' values serve every channel."""
    mean, std = STANDARDISATION[recipe]
    if len(mean) not in (1, channels):
        raise LayerError(f"The {recipe!r} preprocessing is for {len(mean)} channels, not "
                         f"{channels}.")
    shape = (1, -1, 1, 1)
    return (torch.tensor(mean, dtype=torch.float32).reshape(shape),
            torch.tensor(std, dtype=torch.float32).reshape(shape))


# --- the image: pixels or a 1/f spectrum ---------------------------------------------------


def _frequencies(h: int, w: int) -> torch.Tensor:
    """Radial frequency (cycles per pixel) of every bin of ``torch.fft.rfft2`` on (h, w):
    float32 (h, w // 2 + 1)."""
    fy = torch.fft.fftfreq(h)[:, None]
    fx = torch.fft.rfftfreq(w)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


class _Image:
    """The optimised parameters and the map from them to pixels in [0, 1] (the sigmoid keeps
    every pixel valid, as Lucid's ``to_valid_rgb`` does)."""

    def __init__(self, shape: tuple[int, int, int], config: MaximiseConfig,
                 generator: torch.Generator):
        c, h, w = shape
        self.hw = (h, w)
        self.fourier = config.freq_decay > 0
        if self.fourier:
            freqs = _frequencies(h, w)
            # Lucid's fft_image: 1 / max(f, 1/side) ** decay, so the mean (f = 0) is not inf.
            self.scale = 1.0 / torch.clamp(freqs, min=1.0 / max(h, w)) ** config.freq_decay
            self.freqs = freqs
            init = torch.randn(1, c, h, w // 2 + 1, 2, generator=generator) * 0.01
        else:
            init = torch.randn(1, c, h, w, generator=generator) * 0.01
        self.param = init.requires_grad_(True)

    def pixels(self) -> torch.Tensor:
        """float32 (1, C, H, W) in (0, 1)."""
        if self.fourier:
            spectrum = torch.view_as_complex(self.param) * self.scale
            raw = torch.fft.irfft2(spectrum, s=self.hw, norm="ortho") / 4.0  # Lucid's /4
            return torch.sigmoid(raw)
        return torch.sigmoid(self.param)

    @torch.no_grad()
    def blur(self, sigma: float) -> None:
        """Gaussian blur of the image before its sigmoid, in place on the parameters (in the
        Fourier parameterisation: exactly, as a product with the blur's spectrum)."""
        if self.fourier:  # a Gaussian blur multiplies the spectrum by exp(-2 pi^2 sigma^2 f^2)
            self.param.mul_(torch.exp(-2 * math.pi ** 2 * sigma ** 2 * self.freqs ** 2)[..., None])
            return
        h, w = self.hw
        radius = min(max(1, math.ceil(3 * sigma)), h - 1, w - 1)
        if radius < 1:
            return
        taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-taps ** 2 / (2 * sigma ** 2))
        kernel /= kernel.sum()
        c = self.param.shape[1]
        x = F.pad(self.param, (radius, radius, radius, radius), mode="reflect")
        x = F.conv2d(x, kernel.reshape(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
        x = F.conv2d(x, kernel.reshape(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
        self.param.copy_(x)


# --- activation maximisation ---------------------------------------------------------------


class _AdamAscent:
    """Adam (Kingma and Ba, 2015, Algorithm 1) going up the gradient, in place on one tensor.

    The same update as ``torch.optim.Adam(maximize=True)`` with its default betas and eps (a
    test checks it), written out because the first ``step`` of torch's optimiser imports
    ``torch._dynamo``: two seconds that the first synthesis in a server would wait.
    """

    def __init__(self, param: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.param, self.lr, self.betas, self.eps = param, lr, betas, eps
        self.m = torch.zeros_like(param)  # first moment: running mean of the gradient
        self.v = torch.zeros_like(param)  # second moment: running mean of its square
        self.t = 0

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        b1, b2 = self.betas
        self.t += 1
        self.m.mul_(b1).add_(grad, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(grad, grad, value=1 - b2)
        m_hat = self.m / (1 - b1 ** self.t)  # bias corrections: both start at 0
        v_hat = self.v / (1 - b2 ** self.t)
        self.param.add_(self.lr * m_hat / (v_hat.sqrt() + self.eps))  # + : ascent



class _RedirectedReLUFunction(torch.autograd.Function):
    """ReLU forward; backward as Lucid's ``redirected_relu_grad``: when no gradient gets through
    the ReLU for an image (every unit that matters is off), pass the gradient on where it
    would push an off unit up, so the ascent can switch it on."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        relu_grad = torch.where(x > 0, grad, torch.zeros_like(grad))
        # gradient *ascent*: a negative gradient on a negative input would push it lower
        redirected = torch.where((x < 0) & (grad < 0), torch.zeros_like(grad), grad)
        passes = relu_grad.flatten(1).abs().sum(1) > 0  # per image of the batch
        return torch.where(passes.reshape(-1, *[1] * (x.dim() - 1)), relu_grad, redirected)


class _RedirectedReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _RedirectedReLUFunction.apply(x)


def _ascent_copy(model: nn.Module) -> nn.Module:
    """A private copy of ``model`` for gradient ascent: shares its weights (no memory), no
    hooks, eval mode, every ``nn.ReLU`` redirected. Costs 0.5 ms (digits) to 4 ms (ResNet-18)."""
    net = private_copy(model, share_weights=True)
    for parent in list(net.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.ReLU:
                setattr(parent, name, _RedirectedReLU())
    return net



def maximise_channel(
    model: nn.Module,
    layer: str,
    channel: int,
    input_shape: tuple[int, int, int],
    *,
    config: MaximiseConfig | None = None,
    recipe: str | None = None,
    progress: Progress | None = None,
) -> Synthesis:
    """Synthesise an input that excites ``channel`` of ``layer``, by gradient ascent.

    The objective (``config.objective``) is the channel's mean over its whole map, so the
    picture shows the channel's pattern wherever it fits, or its centre unit, so the pattern
    fills that unit's receptive field. Each of ``config.steps`` Adam steps: make the pixels
    (``_Image``), standardise them with the recipe's mean and std, roll them by a random
    shift of up to ``config.jitter`` pixels, run the private copy up to ``layer``, and move
    the parameters along the gradient of the objective with respect to them; every
    ``config.blur_every`` steps the image is blurred.

    input_shape: (C, H, W) of one input, e.g. ``MODELS[name].input_size``.
    recipe: the preprocessing recipe whose standardisation the model expects (default: the
    registry model's own; "gray", none, for a model the registry does not know).
    progress: called after every step with (step, steps, objective); an exception it raises
    stops the ascent and is passed on.
    Deterministic for a given ``config.seed``. Raises LayerError for an unknown layer, a layer
    without maps, or a channel it does not have; ValueError for a bad config or recipe.
    """
    config = config or MaximiseConfig()
    shape = check_input_shape(input_shape)
    get_layer(model, layer)  # a clear LayerError before any work
    mean, std = _standardisation(_recipe(model, recipe), shape[0])
    dtype, device = like_model(model)
    net = _ascent_copy(model)
    module = get_layer(net, layer)
    generator = torch.Generator().manual_seed(config.seed)

    def objective(pixels: torch.Tensor, shift: tuple[int, int] = (0, 0)) -> torch.Tensor:
        x = (pixels - mean) / std  # (1, C, H, W), standardised
        if shift != (0, 0):
            x = torch.roll(x, shifts=shift, dims=(2, 3))
        out = run_until(net, layer, x.to(dtype=dtype, device=device), module)
        _spatial(out, layer, channel)
        if config.objective == "centre":
            return out[0, channel, *centre_unit(*out.shape[2:])]
        return out[0, channel].mean()

    with torch.inference_mode(False), torch.enable_grad():
        image = _Image(shape, config, generator)
        with torch.no_grad():
            start = float(objective(image.pixels()))
        ascent = _AdamAscent(image.param, config.lr)
        history = np.empty(config.steps, np.float64)
        for step in range(config.steps):
            j = config.jitter
            shift = tuple(int(v) for v in torch.randint(-j, j + 1, (2,), generator=generator)) \
                if j else (0, 0)
            value = objective(image.pixels(), shift)
            # the gradient of the image only: the model's parameters get no .grad
            (grad,) = torch.autograd.grad(value, image.param)
            ascent.step(grad)
            if config.blur_every and (step + 1) % config.blur_every == 0:
                image.blur(config.blur_sigma)
            history[step] = float(value.detach())
            if progress is not None:
                progress(step + 1, config.steps, float(history[step]))
        with torch.no_grad():
            pixels = image.pixels()
            final = float(objective(pixels))
    x = ((pixels - mean) / std).detach().to(torch.float32).numpy()
    return Synthesis(layer, int(channel), x, pixels[0].detach().permute(1, 2, 0).numpy(),
                     history, start, final, config)


# --- the dataset images that excite a channel most -----------------------------------------


@dataclass(frozen=True, eq=False)
class ChannelPeaks:
    """The strongest unit of every channel of a layer, in every image of a dataset."""

    layer: str
    values: np.ndarray  # float32 (N, K): the largest value of channel k's map on image n
    units: np.ndarray  # int64 (N, K, 2): (row, col) of that unit (the first, row by row, on ties)
    output_hw: tuple[int, int]  # (h, w) of the layer's maps


def channel_peaks(model: nn.Module, layer: str, inputs: torch.Tensor | np.ndarray, *,
                  batch_size: int = 500) -> ChannelPeaks:
    """Run every input through the model up to ``layer``; keep each channel's peak per image.

    inputs: float32 (N, C, H, W), preprocessed as the model expects (e.g. the 5,000 bundled
    MNIST digits through the "mnist" recipe). Runs in batches of ``batch_size`` under
    ``torch.inference_mode``. The 5,000 digits up to the digits CNN's conv2 take about 1 s on
    one thread, which is why this is separate from ``top_patches``: a page computes it once
    per layer and picks any channel from it.
    """
    module = get_layer(model, layer)
    x = torch.as_tensor(inputs)
    if x.dim() != 4 or len(x) == 0:
        raise LayerError(f"Expected a batch of inputs (N, C, H, W), not {tuple(x.shape)}.")
    dtype, device = like_model(model)
    values, units, hw = [], [], None
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            out = run_until(model, layer, x[i:i + batch_size].to(dtype=dtype, device=device),
                            module)
            _spatial(out, layer)
            hw = tuple(out.shape[2:])
            flat = out.flatten(2).to(device="cpu", dtype=torch.float32)  # (B, K, h·w)
            peak, where = flat.max(dim=2)  # the first maximum on ties
            values.append(peak.numpy())
            units.append(torch.stack((where // hw[1], where % hw[1]), dim=-1).numpy())
    return ChannelPeaks(layer, np.concatenate(values), np.concatenate(units).astype(np.int64),
                        hw)  # type: ignore[arg-type]


@dataclass(frozen=True, eq=False)
class TopPatches:
    """The k images that excite one channel most, each cropped to the unit's field."""

    layer: str
    channel: int
    indices: np.ndarray  # int64 (k,): which inputs, strongest first
    activations: np.ndarray  # float32 (k,): the channel's value at the unit
    units: np.ndarray  # int64 (k, 2): (row, col) of the unit in the layer's map
    boxes: np.ndarray  # int64 (k, 4): its receptive field (row0, row1, col0, col1), half-open,
    # in input pixels, not clipped: it may reach past the image, into the padding
    crops: np.ndarray  # uint8 (k, rh, rw, 3): the picture inside each box; 0 outside the image
    inside: np.ndarray  # bool (k, rh, rw): True where the crop lies inside the image
    field_size: tuple[int, int]  # (rh, rw): the receptive field's size
    input_hw: tuple[int, int]  # (H, W) of the inputs

    @property
    def clipped(self) -> np.ndarray:
        """bool (k,): the image border cuts this unit's field."""
        return ~self.inside.all(axis=(1, 2))


def _crop(picture: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of uint8 (H, W, 3) inside a half-open box that may reach past the border:
    (uint8 (rh, rw, 3) with 0 outside the image, bool (rh, rw) True inside)."""
    h, w = picture.shape[:2]
    r0, r1, c0, c1 = box
    crop = np.zeros((r1 - r0, c1 - c0, 3), np.uint8)
    inside = np.zeros((r1 - r0, c1 - c0), bool)
    a0, a1, b0, b1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
    if a1 > a0 and b1 > b0:
        crop[a0 - r0:a1 - r0, b0 - c0:b1 - c0] = picture[a0:a1, b0:b1]
        inside[a0 - r0:a1 - r0, b0 - c0:b1 - c0] = True
    return crop, inside


def top_patches(model: nn.Module, layer: str, channel: int,
                images: torch.Tensor | np.ndarray, k: int = 9, *,
                recipe: str | None = None, peaks: ChannelPeaks | None = None) -> TopPatches:
    """The ``k`` images that excite ``channel`` of ``layer`` most, cropped to the field.

    images: float32 (N, C, H, W), preprocessed as the model expects. For every image the
    channel's largest unit is found (``channel_peaks``; pass ``peaks`` computed earlier on the
    same images to skip that), the images are ranked by that value (ties: lower index
    first), and each of the first k is cropped to the theoretical receptive field of its unit
    (``fields.receptive_field``, the one source of the field's geometry). Every crop has
    the field's full size: where the field reaches past the image border the crop is padded
    with 0 and ``inside`` is False. Crops show the picture the network sees (the input with
    its standardisation undone, ``to_picture`` with ``recipe``, default the model's own).
    """
    x = torch.as_tensor(images)
    if peaks is None:
        peaks = channel_peaks(model, layer, x)
    elif peaks.layer != layer or len(peaks.values) != len(x):
        raise ValueError("These peaks were measured on another layer or other images.")
    n_channels = peaks.values.shape[1]
    if isinstance(channel, bool) or not isinstance(channel, (int, np.integer)) or \
            not 0 <= channel < n_channels:
        raise LayerError(f"Layer {layer!r} has {n_channels} channels (0 to {n_channels - 1}); "
                         f"there is no channel {channel!r}.")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a whole number of 1 or more, not {k!r}.")
    recipe = _recipe(model, recipe)
    shape = tuple(int(v) for v in x.shape[1:])
    field = receptive_field(model, layer, shape)
    order = np.argsort(-peaks.values[:, channel], kind="stable")[:k]
    units = peaks.units[order, channel]  # (k, 2)
    boxes, crops, inside = [], [], []
    for i, (y, xx) in zip(order, units, strict=True):
        box = field.full_box_of(int(y), int(xx))
        picture = to_picture(x[i], recipe)  # uint8 (H, W, 3)
        crop, mask = _crop(picture, box)
        boxes.append(box)
        crops.append(crop)
        inside.append(mask)
    size = crops[0].shape[:2]
    return TopPatches(layer, int(channel), order.astype(np.int64),
                      peaks.values[order, channel].astype(np.float32), units.astype(np.int64),
                      np.array(boxes, np.int64), np.stack(crops), np.stack(inside),
                      (int(size[0]), int(size[1])), (shape[1], shape[2]))
