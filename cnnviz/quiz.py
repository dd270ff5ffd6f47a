"""Quiz questions with random numbers, answered by the same formulas the pages use.

Every arithmetic question is built from a small description of the layers it asks
about (``Question.input_shape`` and ``Question.layers``), and its answer and worked
solution come from :mod:`cnnviz.arithmetic`: ``conv_params``, ``output_shape``,
``pool_output_shape``, ``rf_step``, ``dense_params``, ``conv_macs`` and their ``*_text``
forms. No formula is written a second time here. The tests build each question's layers
in torch and check that the answer is the shape or parameter count torch produces.

One kind, one builder: ``conv_params_question(...)`` turns chosen numbers into a
``Question``; ``KINDS["conv_params"](rng)`` picks the numbers at random (only
combinations that work) and calls it. ``make_quiz(seed, n)`` mixes arithmetic kinds with
conceptual multiple-choice questions; the same seed gives the same quiz, so a lecturer
can share it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from cnnviz.arithmetic import (
    OUTPUT_SIZE_FORMULA,
    ParameterError,
    conv_macs,
    conv_macs_text,
    conv_params,
    conv_params_text,
    dense_params,
    dense_params_text,
    explain_output_size,
    output_shape,
    pool_output_shape,
    pool_params,
    resolve_padding,
    rf_step,
    rf_step_text,
)

__all__ = [
    "CONCEPTS",
    "KINDS",
    "QUIZ_SEED_MAX",
    "QUIZ_TOPICS",
    "Concept",
    "Conv",
    "Dense",
    "Pool",
    "Question",
    "concept_question",
    "conv_macs_question",
    "conv_output_question",
    "conv_params_question",
    "dense_params_question",
    "generate",
    "make_quiz",
    "pool_question",
    "receptive_field_question",
]

#: Seeds run from 0 to QUIZ_SEED_MAX: six digits are easy to read out in a lecture.
QUIZ_SEED_MAX = 999_999

Padding = int | Literal["same", "valid"]


# --- the layers a question is about ---------------------------------------------------------


@dataclass(frozen=True)
class Conv:
    """A Conv2d layer with square kernels, as in ``nn.Conv2d``."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int = 1
    padding: Padding = 0
    dilation: int = 1


@dataclass(frozen=True)
class Pool:
    """A max or average pooling layer, as ``nn.MaxPool2d`` / ``nn.AvgPool2d``."""

    kind: Literal["max", "avg"]
    size: int
    stride: int
    padding: int = 0


@dataclass(frozen=True)
class Dense:
    """A fully connected layer on a flattened input, as ``nn.Linear``."""

    n_in: int
    n_out: int


Layer = Conv | Pool | Dense


# --- questions ------------------------------------------------------------------------------

_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
# A thousands separator: a comma, point, underscore, apostrophe or (thin) space between a
# digit and exactly three digits, as in 1,216 / 1 216 / 1.216 / 150_529_000.
_THOUSANDS = re.compile(r"(?<=\d)[,._'\u2009\u202f\u00a0 ](?=\d{3}(?!\d))")


@dataclass(frozen=True)
class Question:
    """One quiz question.

    ``answer`` is an int (a count), a tuple of ints (a size ``(h, w)``, or ``(h, w, params)``
    for pooling), or for a multiple-choice question the index of the right option.
    ``answer_text`` is the answer as a person writes it ("1,216", "32×32, 0").
    ``solution`` is the worked solution in Markdown, with the real numbers.
    ``input_shape`` (C, H, W) and ``layers`` describe what the question is about, so that a
    test can build it in torch; multiple-choice questions have ``options`` and one
    ``explanations`` entry per option instead.
    """

    kind: str
    text: str
    answer: int | tuple[int, ...]
    answer_text: str
    solution: str
    hint: str = ""  # the expected format, for the answer box
    input_shape: tuple[int, int, int] | None = None
    layers: tuple[Layer, ...] = ()
    options: tuple[str, ...] = ()
    explanations: tuple[str, ...] = ()

    @property
    def is_choice(self) -> bool:
        return bool(self.options)

    def read(self, user_text: str) -> int | tuple[int, ...] | None:
        """The answer in ``user_text`` as the same type as ``answer``; None when it cannot be
        read (no number, the wrong count of numbers, a fraction, an unknown option).

        Counts accept thousands separators ("1216", "1,216", "1 216", "1216 parameters").
        Sizes accept any separators ("32x32", "32 × 32", "(32, 32)"); pooling answers add
        the parameters ("32×32, 0"). Options are read by their text, letter or number.
        """
        if not isinstance(user_text, str):
            return None
        text = user_text.strip()
        if self.is_choice:
            return self._read_option(text)
        if isinstance(self.answer, tuple):
            numbers = _NUMBER.findall(text)
            if len(numbers) != len(self.answer) or not all(_is_whole(n) for n in numbers):
                return None
            return tuple(int(n) for n in numbers)
        numbers = _NUMBER.findall(_THOUSANDS.sub("", text))
        if len(numbers) != 1 or not _is_whole(numbers[0]):
            return None
        return int(numbers[0])

    def check(self, user_text: str) -> bool:
        """True when ``user_text`` gives the right answer, in any format ``read`` accepts."""
        return self.read(user_text) == self.answer

    def _read_option(self, text: str) -> int | None:
        folded = text.casefold()
        for i, option in enumerate(self.options):
            if folded == option.strip().casefold():
                return i
        letter = folded.rstrip(").").strip()
        if len(letter) == 1 and "a" <= letter < chr(ord("a") + len(self.options)):
            return ord(letter) - ord("a")
        if letter.isdigit() and 1 <= int(letter) <= len(self.options):
            return int(letter) - 1
        return None


def _is_whole(token: str) -> bool:
    return "." not in token and not token.startswith("-")


def _size(h: int, w: int) -> str:
    return f"{h}×{w}"


def _input_words(c: int, h: int, w: int) -> str:
    """ "an image 32×32×3" for 1 or 3 channels, "a feature map 28×28×16" for more."""
    return f"{'an image' if c in (1, 3) else 'a feature map'} {h}×{w}×{c}"


def _pad_words(padding: Padding) -> str:
    return f"'{padding}'" if isinstance(padding, str) else str(padding)


def _axes_text(h: int, w: int, kernel: int, stride: int, pads: tuple[int, int, int, int],
               dilation: int) -> str:
    """The output-size formula with the numbers, for the height and (if different) width."""
    eh = explain_output_size(h, kernel, stride, pads[0], pads[1], dilation)
    ew = explain_output_size(w, kernel, stride, pads[2], pads[3], dilation)
    if (h, pads[0], pads[1]) == (w, pads[2], pads[3]):
        return f"Height and width: `{eh.text}`"
    return f"Height: `{eh.text}`  \nWidth: `{ew.text}`"


# --- builders: chosen numbers -> Question ---------------------------------------------------

_COUNT_HINT = "a number, e.g. 1,216"
_SIZE_HINT = "height × width, e.g. 14×14"
_POOL_HINT = "height × width, parameters, e.g. 14×14, 0"


def conv_params_question(h: int, w: int, c: int, filters: int, kernel: int, stride: int = 1,
                         padding: Padding = 0) -> Question:
    """Trainable parameters of a Conv2D layer on an h×w×c image."""
    out_h, out_w = output_shape((h, w), kernel, stride, padding)  # the layer must work
    total = conv_params(c, filters, kernel)
    per_filter = conv_params(c, 1, kernel)
    weights = conv_params(c, 1, kernel, bias=False)
    return Question(
        kind="conv_params",
        text=(f"{_input_words(c, h, w).capitalize()} passes through a Conv2D layer with "
              f"{filters} filters of {kernel}×{kernel}, stride {stride}, padding "
              f"{_pad_words(padding)}. How many trainable parameters does the layer have "
              "(weights and biases)?"),
        answer=total,
        answer_text=f"{total:,}",
        solution=(
            f"Each filter has one {kernel}×{kernel} slice per input channel: {kernel}·{kernel}·"
            f"{c} = {weights:,} weights, plus 1 bias = {per_filter:,}. With {filters} "
            f"filters: `{conv_params_text(c, filters, kernel)}`.  \n"
            f"The image size, the stride and the padding only change the output size "
            f"(here {_size(out_h, out_w)}×{filters}), not the number of weights: the same "
            "filters slide over every position."
        ),
        hint=_COUNT_HINT,
        input_shape=(c, h, w),
        layers=(Conv(c, filters, kernel, stride, padding),),
    )


def conv_output_question(h: int, w: int, c: int, kernel: int, stride: int = 1,
                         padding: Padding = 0, dilation: int = 1) -> Question:
    """Height × width after one convolution (with stride, padding and dilation)."""
    out = output_shape((h, w), kernel, stride, padding, dilation)
    pads = resolve_padding(padding, kernel, dilation, stride)
    dil = f", dilation {dilation}" if dilation > 1 else ""
    lines = []
    if dilation > 1:
        span, _ = rf_step(1, 1, kernel, 1, dilation)  # one placement = the field of one layer
        lines.append(f"With dilation {dilation} the {kernel} taps are {dilation} pixels apart, "
                     f"so one placement covers {dilation}·({kernel}−1) + 1 = {span} pixels.")
    if isinstance(padding, str):
        lines.append(f"Padding {_pad_words(padding)} means {pads[0]} pixel"
                     f"{'s' if pads[0] != 1 else ''} before and {pads[1]} after on each axis.")
    lines.append(f"Output size = `{OUTPUT_SIZE_FORMULA}`  \n"
                 + _axes_text(h, w, kernel, stride, pads, dilation))
    lines.append(f"So the output is **{_size(*out)}** (one map per filter).")
    return Question(
        kind="dilated_output" if dilation > 1 else "conv_output",
        text=(f"{_input_words(c, h, w).capitalize()} passes through a convolution with a "
              f"{kernel}×{kernel} kernel, stride {stride}, padding {_pad_words(padding)}{dil}. "
              "What is the output's height × width?"),
        answer=out,
        answer_text=_size(*out),
        solution="  \n".join(lines),
        hint=_SIZE_HINT,
        input_shape=(c, h, w),
        layers=(Conv(c, 1, kernel, stride, padding, dilation),),
    )


def pool_question(h: int, w: int, c: int, kind: Literal["max", "avg"] = "max", size: int = 2,
                  stride: int | None = None, padding: int = 0) -> Question:
    """Output size and parameters added by a max or average pooling layer."""
    stride = size if stride is None else stride
    out_h, out_w = pool_output_shape((h, w), size, stride, padding)
    params = pool_params()
    pad = f", padding {padding}" if padding else ""
    name = "max" if kind == "max" else "average"
    rule = "the largest value" if kind == "max" else "the mean"
    return Question(
        kind="pool",
        text=(f"A {h}×{w}×{c} feature map goes through {size}×{size} {name} pooling with "
              f"stride {stride}{pad}. What is the output size (height × width), and how many "
              "parameters does the pooling layer add?"),
        answer=(out_h, out_w, params),
        answer_text=f"{_size(out_h, out_w)}, {params}",
        solution=(
            f"Output size = `{OUTPUT_SIZE_FORMULA}` with k = {size}, s = {stride}, "
            f"p = {padding}, d = 1  \n"
            + _axes_text(h, w, size, stride, (padding,) * 4, 1)
            + f"  \nEach channel is pooled on its own, so the output is {out_h}×{out_w}×{c}.  \n"
            f"Parameters added: **{params}**. Each window keeps {rule}: a fixed function, "
            "with no weight or bias for training to learn."
        ),
        hint=_POOL_HINT,
        input_shape=(c, h, w),
        layers=(Pool(kind, size, stride, padding),),
    )


def _layer_words(layer: Conv | Pool) -> str:
    if isinstance(layer, Pool):
        return f"{layer.size}×{layer.size} {layer.kind} pool, stride {layer.stride}"
    words = f"{layer.kernel}×{layer.kernel} conv, stride {layer.stride}"
    return words + (f", dilation {layer.dilation}" if layer.dilation > 1 else "")


def receptive_field_question(layers: tuple[Conv | Pool, ...]) -> Question:
    """Receptive field (in input pixels, per side) of one unit after a stack of layers."""
    if not layers:
        raise ParameterError("A receptive-field question needs at least one layer.")
    r, j = 1, 1
    lines = ["Start at the input: a pixel sees itself, r = 1, and neighbours are j = 1 "
             "pixel apart. Each layer: `r_out = r_in + (k−1)·d·j_in`, `j_out = j_in·s`."]
    for i, layer in enumerate(layers, start=1):
        k = layer.size if isinstance(layer, Pool) else layer.kernel
        d = 1 if isinstance(layer, Pool) else layer.dilation
        text = rf_step_text(r, j, k, layer.stride, d)
        r_next, j_next = rf_step(r, j, k, layer.stride, d)
        lines.append(f"{i}. {_layer_words(layer)}: r = {text}, j = {j}·{layer.stride} = "
                     f"{j_next}")
        r, j = r_next, j_next
    lines.append(f"So one unit at the end sees **{r}×{r}** input pixels. Padding does not "
                 "change the field's size, only where it sits.")
    stack = " → ".join(_layer_words(layer) for layer in layers)
    return Question(
        kind="receptive_field",
        text=(f"These layers are stacked: {stack}. How many input pixels wide is the "
              "receptive field of one unit of the last layer?"),
        answer=r,
        answer_text=f"{r:,}",
        solution="  \n".join(lines),
        hint="a number of pixels, e.g. 7",
        input_shape=None,
        layers=tuple(layers),
    )


def dense_params_question(h: int, w: int, c: int, neurons: int, filters: int = 32) -> Question:
    """Parameters of a dense layer on a flattened image, against a 3×3 convolution."""
    n_in = h * w * c  # flattening lays every value of the (h, w, c) image in one vector
    total = dense_params(n_in, neurons)
    conv = conv_params(c, filters, 3)
    return Question(
        kind="dense_params",
        text=(f"A {h}×{w}×{c} image is flattened into one vector and fed to a dense (fully "
              f"connected) layer of {neurons} neurons. How many trainable parameters does "
              "that layer have?"),
        answer=total,
        answer_text=f"{total:,}",
        solution=(
            f"Flattening gives {h}·{w}·{c} = {n_in:,} inputs. Each neuron has one weight per "
            f"input plus a bias: `{dense_params_text(n_in, neurons)}`.  \n"
            f"For comparison, a convolution of {filters} 3×3 filters on the same image needs "
            f"`{conv_params_text(c, filters, 3)}`: {total / conv:,.0f} times fewer, and "
            "it stays that size for any image."
        ),
        hint=_COUNT_HINT,
        input_shape=(c, h, w),
        layers=(Dense(n_in, neurons),),
    )


def conv_macs_question(h: int, w: int, c: int, filters: int, kernel: int, stride: int = 1,
                       padding: Padding = 0) -> Question:
    """Multiply-accumulates of one convolution layer for one image."""
    out = output_shape((h, w), kernel, stride, padding)
    pads = resolve_padding(padding, kernel, 1, stride)
    total = conv_macs(out, c, filters, kernel)
    return Question(
        kind="conv_macs",
        text=(f"A Conv2D layer with {filters} filters of {kernel}×{kernel}, stride {stride}, "
              f"padding {_pad_words(padding)} runs on {_input_words(c, h, w)}. How many "
              "multiply-adds (MACs) does it do for this one image?"),
        answer=total,
        answer_text=f"{total:,}",
        solution=(
            "First the output size, `" + OUTPUT_SIZE_FORMULA + "`:  \n"
            + _axes_text(h, w, kernel, stride, pads, 1)
            + f"  \nEvery one of the {_size(*out)}·{filters} output values needs "
            f"{kernel}·{kernel}·{c} multiply-adds (the bias is one addition, not counted): "
            f"`{conv_macs_text(out, c, filters, kernel)}`."
        ),
        hint=_COUNT_HINT,
        input_shape=(c, h, w),
        layers=(Conv(c, filters, kernel, stride, padding),),
    )


# --- random numbers that work ---------------------------------------------------------------

_ATTEMPTS = 200  # rejection sampling: almost every draw works, so this is never reached


def _retry(draw: Callable[[random.Random], Question]) -> Callable[[random.Random], Question]:
    """Draw again while the numbers make a layer that cannot work (a ParameterError)."""

    def generate(rng: random.Random) -> Question:
        for _ in range(_ATTEMPTS):
            try:
                return draw(rng)
            except ParameterError:
                continue
        raise RuntimeError(f"{draw.__name__} found no valid numbers")  # a bug in the ranges

    generate.__name__ = draw.__name__
    generate.__doc__ = draw.__doc__
    return generate


def _image(rng: random.Random, sides: tuple[int, ...], square: float = 0.8) -> tuple[int, int]:
    h = rng.choice(sides)
    return (h, h) if rng.random() < square else (h, rng.choice(sides))


@_retry
def _random_conv_params(rng: random.Random) -> Question:
    h, w = _image(rng, (28, 32, 64, 96, 128, 224), square=1.0)
    c = rng.choice((1, 3, 3, 16, 32))
    kernel = rng.choice((1, 3, 3, 5, 7))
    stride = rng.choice((1, 1, 2))
    padding: Padding = rng.choice(("same", "valid")) if stride == 1 else rng.choice(
        (0, kernel // 2))
    return conv_params_question(h, w, c, rng.choice((8, 16, 32, 64, 128)), kernel, stride,
                                padding)


@_retry
def _random_conv_output(rng: random.Random) -> Question:
    h, w = _image(rng, (7, 10, 12, 15, 28, 32, 33, 64, 100, 224))
    kernel = rng.choice((1, 2, 3, 3, 5, 7))
    stride = rng.choice((1, 2, 2, 3))
    padding: Padding = rng.choice((0, 0, 1, 2, 3))
    if stride == 1 and rng.random() < 0.2:
        padding = "same"
    return conv_output_question(h, w, rng.choice((1, 3)), kernel, stride, padding)


@_retry
def _random_dilated_output(rng: random.Random) -> Question:
    h, w = _image(rng, (9, 12, 16, 28, 32, 64))
    kernel = rng.choice((2, 3, 3, 5))
    dilation = rng.choice((2, 2, 3))
    stride = rng.choice((1, 1, 2))
    padding = rng.randint(0, dilation * (kernel - 1) // 2 + 1)
    return conv_output_question(h, w, rng.choice((1, 3)), kernel, stride, padding, dilation)


@_retry
def _random_pool(rng: random.Random) -> Question:
    h, w = _image(rng, (4, 7, 14, 15, 28, 32, 55, 64, 112, 224))
    size = rng.choice((2, 2, 2, 3))
    stride = rng.choice((size, size, 1, 2))
    padding = rng.choice((0, 0, 0, size // 2))
    return pool_question(h, w, rng.choice((1, 3, 16, 64)), rng.choice(("max", "avg")), size,
                         stride, padding)


@_retry
def _random_receptive_field(rng: random.Random) -> Question:
    menu: list[Conv | Pool] = [Conv(1, 1, 3), Conv(1, 1, 3), Conv(1, 1, 5), Conv(1, 1, 3, 2),
                               Conv(1, 1, 3, dilation=2), Pool("max", 2, 2)]
    layers = tuple(rng.choice(menu) for _ in range(rng.randint(2, 4)))
    return receptive_field_question(layers)


@_retry
def _random_dense_params(rng: random.Random) -> Question:
    h, w = _image(rng, (8, 16, 28, 32, 64), square=1.0)
    return dense_params_question(h, w, rng.choice((1, 3)), rng.choice((10, 64, 100, 128, 256,
                                                                      512)),
                                 rng.choice((16, 32, 64)))


@_retry
def _random_conv_macs(rng: random.Random) -> Question:
    h, w = _image(rng, (8, 14, 16, 28, 32, 56), square=1.0)
    kernel = rng.choice((1, 3, 3, 5))
    stride = rng.choice((1, 1, 2))
    padding: Padding = "same" if stride == 1 and rng.random() < 0.5 else kernel // 2
    return conv_macs_question(h, w, rng.choice((1, 3, 16)), rng.choice((4, 8, 16, 32)),
                              kernel, stride, padding)


#: Arithmetic question kinds: name -> (rng -> Question with random numbers that work).
KINDS: dict[str, Callable[[random.Random], Question]] = {
    "conv_params": _random_conv_params,
    "conv_output": _random_conv_output,
    "dilated_output": _random_dilated_output,
    "pool": _random_pool,
    "receptive_field": _random_receptive_field,
    "dense_params": _random_dense_params,
    "conv_macs": _random_conv_macs,
}

#: What each kind of question is about, in a few words (for the page's question headers).
QUIZ_TOPICS = {
    "conv_params": "parameters of a convolution",
    "conv_output": "output size",
    "dilated_output": "output size with dilation",
    "pool": "pooling",
    "receptive_field": "receptive field",
    "dense_params": "dense layer",
    "conv_macs": "multiply-adds",
    "concept": "concepts",
}


# --- conceptual questions -------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    """A multiple-choice question from the lesson: the right option first, then wrong ones,
    each with the sentence that explains why it is right or wrong."""

    text: str
    right: tuple[str, str]  # (option, explanation)
    wrong: tuple[tuple[str, str], ...] = field(default_factory=tuple)


CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "Who told the first layer of a trained CNN to look for edges?",
        ("Nobody: training found them because they help tell the classes apart",
         "Right. The kernels start as random numbers; gradient descent only asked for fewer "
         "classification mistakes, and edge and colour detectors are what that produced. The "
         "Filters page puts learned kernels beside Sobel and blur."),
        (("The programmers started the first layer from Sobel kernels",
          "No: the first layer starts from random numbers, and the Filters page of an "
          "untrained network shows noise."),
         ("The training labels mark where the edges are in each image",
          "No: the labels only name the class of each image (\"7\", \"star\"); nothing marks "
          "edges."),
         ("The pooling layers turn every kernel into an edge detector",
          "No: pooling only keeps the maximum or the mean of each window; it has no weights "
          "and makes no edges.")),
    ),
    Concept(
        "Why does transfer learning work?",
        ("Its early layers find edges and textures, which are useful in almost any image",
         "Right. Kernels that find edges and textures in ImageNet photos find them in X-rays "
         "or flowers too; only the classifier at the end is specific to the 1,000 ImageNet "
         "classes, so it is replaced and retrained."),
        (("A pretrained network has already seen every kind of image there is",
          "No: ImageNet has 1.2 million photos of 1,000 classes; a new task has images it "
          "never saw. What carries over are the general features."),
         ("Freezing the layers makes the network bigger, so it learns more",
          "No: freezing changes nothing in the size; it only stops those weights from "
          "changing, so a small new data set cannot spoil them."),
         ("The new images are added to ImageNet and the network is trained again",
          "No: the network is reused as it is, and only (or mostly) its new last layer "
          "learns from the new images.")),
    ),
    Concept(
        "Why does a pooling layer add no parameters?",
        ("Max and mean are fixed functions, with no weights to learn",
         "Right. Pooling only makes the maps smaller; the layers around it hold the weights."),
        (("Its weights are copied from the convolution before it",
          "No: pooling has no weights at all, copied or otherwise."),
         ("Its parameters are frozen once training has finished",
          "No: frozen parameters would still be parameters; pooling has none."),
         ("It has parameters, but they are too few to count",
          "No: it has exactly 0 (`pool_params() == 0`), at any window size.")),
    ),
    Concept(
        "Why is there a ReLU (or another nonlinearity) between two convolutions?",
        ("Without it, stacked convolutions collapse into one linear convolution",
         "Right. A convolution of a convolution is again a convolution; the ReLU in between "
         "lets the stack compute things no single linear layer can."),
        (("It makes dark images brighter, so later layers see more",
          "No: it sets negative values to zero; it is about what the network can compute, "
          "not about brightness."),
         ("It reduces the number of parameters the next layer needs",
          "No: a ReLU has no parameters and does not change the number of any other layer."),
         ("It keeps every output map the same size as its input",
          "No: it works value by value and never changes a size; padding does that.")),
    ),
    Concept(
        "What does a skip connection in a ResNet block add?",
        ("It adds its input to its output, F(x) + x: an easy path for gradients",
         "Right. The block only has to learn a change to x, and training works with 50 or "
         "152 layers. An identity skip adds no parameters; a 1×1 shortcut convolution is "
         "used only where the shape changes."),
        (("A second copy of the block's weights, kept for safety",
          "No: the skip path copies the input, not the weights."),
         ("A pooling layer that halves every map in the block",
          "No: the identity skip keeps the size; only some blocks change it, with a stride."),
         ("A connection from every layer straight to the classifier",
          "No: a skip connection jumps over one block, from its input to its output.")),
    ),
    Concept(
        "Why does a convolution layer need far fewer parameters than a dense layer on the "
        "same image?",
        ("It looks at small windows and uses the same weights at every position",
         "Right. Local windows and weight sharing: a 3×3 filter has the same 9 weights per "
         "channel whether the image is 28×28 or 224×224."),
        (("It rounds its weights to whole numbers, which need less storage",
          "No: its weights are real numbers, just far fewer of them."),
         ("It only looks at one colour channel of the image",
          "No: each filter has one slice per input channel and sums over all of them."),
         ("It skips every second pixel of the input image",
          "No: only a stride of 2 skips positions, and that changes the output size, not the "
          "number of weights.")),
    ),
    Concept(
        "Why does a unit in a deeper layer see more of the image?",
        ("Its window covers windows of the layer before, so the fields add up",
         "Right. That patch is the unit's receptive field: three 3×3 convolutions see 7×7, "
         "and after a 2×2 pool each 3×3 convolution adds twice as much."),
        (("Deeper layers always use bigger kernels than the first",
          "No: VGG uses 3×3 at every depth and its deep units still see most of the image."),
         ("The image is enlarged before it reaches the deeper layers",
          "No: the maps usually get smaller, not larger."),
         ("Deeper layers are connected to every pixel of the image",
          "No: only dense layers connect to everything; a convolution unit sees a window.")),
    ),
    Concept(
        "What does a Grad-CAM map show?",
        ("Where the evidence for one class lies, at one layer's resolution",
         "Right. It weights that layer's maps by the gradient of the class score and keeps "
         "the positive part: where, not why, and only as sharp as the layer's map."),
        (("The exact pixels the network memorised during training",
          "No: it is computed from this one image's feature maps and gradients."),
         ("The network's first-layer kernels drawn over the image",
          "No: those are on the Filters page; Grad-CAM usually uses a late layer."),
         ("A guarantee that the network's answer is the right one",
          "No: a wrong prediction has a Grad-CAM map too; the trust checks ask whether a map "
          "means anything.")),
    ),
)


def concept_question(concept: Concept, rng: random.Random | None = None) -> Question:
    """A multiple-choice Question, its options shuffled by ``rng`` (kept in order without)."""
    pairs = [concept.right, *concept.wrong]
    order = list(range(len(pairs)))
    if rng is not None:
        rng.shuffle(order)
    options = tuple(pairs[i][0] for i in order)
    explanations = tuple(pairs[i][1] for i in order)
    right = order.index(0)
    return Question(
        kind="concept",
        text=concept.text,
        answer=right,
        answer_text=options[right],
        solution=explanations[right],
        options=options,
        explanations=explanations,
    )


# --- quizzes ------------------------------------------------------------------------------


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= QUIZ_SEED_MAX:
        raise ValueError(f"A quiz seed is a whole number from 0 to {QUIZ_SEED_MAX:,}, "
                         f"not {seed!r}.")
    return seed


def generate(seed: int, kind: str | None = None) -> Question:
    """One arithmetic question from ``seed``: of ``kind`` (a key of KINDS), or a random kind."""
    rng = random.Random(_check_seed(seed))
    if kind is None:
        kind = rng.choice(sorted(KINDS))
    if kind not in KINDS:
        raise ValueError(f"There is no question kind {kind!r}. Kinds: {', '.join(KINDS)}.")
    return KINDS[kind](rng)


def make_quiz(seed: int, n: int = 5) -> list[Question]:
    """``n`` questions from ``seed``: about a third conceptual, the rest arithmetic of
    different kinds, in a shuffled order. The same seed always gives the same quiz."""
    rng = random.Random(_check_seed(seed))
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 20:
        raise ValueError(f"A quiz has 1 to 20 questions, not {n!r}.")
    n_concepts = min((n + 1) // 3, len(CONCEPTS))
    kinds = sorted(KINDS)
    rng.shuffle(kinds)
    arithmetic = [KINDS[kinds[i % len(kinds)]](rng) for i in range(n - n_concepts)]
    concepts = [concept_question(c, rng) for c in rng.sample(CONCEPTS, n_concepts)]
    questions = arithmetic + concepts
    rng.shuffle(questions)
    return questions
