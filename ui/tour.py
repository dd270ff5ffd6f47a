"""The guided tour of the Learn page: nine steps in the order of a lesson.

Each step is a short paragraph, one or more pre-set views (``ui.views.View``: a page of the
app with settings in its URL) and "try this" prompts whose answers are worked out by
``cnnviz`` on the current image's size. Steps are built one at a time (``build_step``), so
the Learn page only pays for the step it shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cnnviz import (
    CLASSIC_5X5,
    MODELS,
    OUTPUT_SIZE_FORMULA,
    POOLING_4X4,
    PRESETS,
    ParameterError,
    architecture,
    conv2d,
    conv_params,
    conv_params_text,
    dense_params,
    dense_params_text,
    explain_output_size,
    head_features,
    output_shape,
    pool2d,
    pool_output_shape,
    pool_params,
    resolve_padding,
    rf_step,
    rf_step_text,
)
from ui import catalog, state
from ui.cache import networks
from ui.views import View

__all__ = ["QUIZ_PAGE", "STEPS", "ImageSize", "Step", "TryThis", "build_step"]

QUIZ_PAGE = catalog.QUIZ.path


@dataclass(frozen=True)
class TryThis:
    prompt: str  # a question to try on the page
    answer: str  # Markdown; the numbers come from cnnviz


@dataclass(frozen=True)
class Step:
    title: str
    text: str  # one short paragraph, Markdown
    views: tuple[View, ...]
    tries: tuple[TryThis, ...]
    facts: tuple[tuple[str, str], ...] = ()  # (label, value) shown as metrics
    table: tuple[dict, ...] = ()  # rows shown as a table
    note: str = ""  # a caption under the facts or the table


@dataclass(frozen=True)
class ImageSize:
    """What the steps need to know about the sidebar image."""

    h: int
    w: int
    c: int  # 1 for a grey image (the pages start it in grayscale mode), else 3

    @classmethod
    def of(cls, image: state.CurrentImage) -> ImageSize:
        h, w = image.pixels.shape[:2]
        return cls(h, w, 1 if image.is_gray else 3)

    @property
    def text(self) -> str:
        return f"{self.h}×{self.w}×{self.c}"


def _size(hw: tuple[int, ...]) -> str:
    return "×".join(str(v) for v in hw)


def _formula(h: int, w: int, kernel: int, stride: int = 1, padding: int = 0,
             dilation: int = 1) -> str:
    """The output size with the formula written out, for both axes (one if square)."""
    eh = explain_output_size(h, kernel, stride, padding, padding, dilation)
    ew = explain_output_size(w, kernel, stride, padding, padding, dilation)
    if h == w:
        return f"`{eh.text}` on both axes"
    return f"height `{eh.text}`, width `{ew.text}`"


def _on_your_image(answer: Callable[[], str]) -> str:
    """``answer()``, or the sentence saying why the layer does not fit the sidebar image
    (a 1×1 upload, say)."""
    try:
        return answer()
    except ParameterError as err:
        return f"Not on this image: {err}"


# --- the nine steps --------------------------------------------------------------------------


def _dense_vs_conv(img: ImageSize) -> Step:
    photo = 224 * 224 * 3  # a 224×224 RGB photo, flattened
    dense = dense_params(photo, 1000)
    conv = conv_params(3, 64, 3)
    mine = img.h * img.w * img.c
    big = 448 * 448 * 3
    return Step(
        "Why not flatten the image into a dense layer?",
        "A dense layer connects every neuron to every input number. Flatten a 224×224 colour "
        f"photo and each neuron gets 224·224·3 = {photo:,} inputs, so a layer of 1,000 neurons "
        f"needs {dense:,} parameters, and what it learns about a cat in one corner does not "
        "help it with a cat in another. A **convolution** looks at small windows and uses the "
        f"same weights at every position: 64 filters of 3×3 need {conv:,} parameters, for "
        "any size of image. That is the whole idea of a CNN.",
        (View("pages/architecture.py", "Open the dense-versus-convolution calculator on your "
              "image", (("h", str(img.h)), ("w", str(img.w)), ("c", str(img.c)))),),
        (
            TryThis(f"Your image is {img.text}. How many parameters would a dense layer of "
                    "1,000 neurons need on it?",
                    f"`{dense_params_text(mine, 1000)}`, against "
                    f"`{conv_params_text(img.c, 64, 3)}` for 64 3×3 filters."),
            TryThis("Double the photo's side to 448×448. What happens to each count?",
                    f"The dense layer grows four times: "
                    f"`{dense_params_text(big, 1000)}`. The convolution stays at "
                    f"`{conv_params_text(3, 64, 3)}`: its weights do not depend "
                    "on the image size."),
        ),
        facts=(("Dense layer, 1,000 neurons, 224×224×3", f"{dense:,}"),
               ("Convolution, 64 filters of 3×3", f"{conv:,}"),
               ("Ratio", f"{dense / conv:,.0f} ×")),
        note=f"`{dense_params_text(photo, 1000)}` and "
             f"`{conv_params_text(3, 64, 3)}`, by `cnnviz.arithmetic`.",
    )


def _convolution(img: ImageSize) -> Step:
    classic = conv2d(CLASSIC_5X5, PRESETS["x_shape"].kernel)  # the sample's 0/1 matrix
    return Step(
        "Convolution",
        "A **kernel** is a small grid of weights. It slides over the image; at each position it "
        "multiplies the pixels under it by its weights and adds the products up: that sum is "
        "one pixel of the output. The Sobel x kernel has −1, −2, −1 on its left and 1, 2, 1 on "
        "its right, so the sum is large only where brightness changes from left to right: a "
        "vertical edge. On the Convolution page the step-through shows every product and every "
        "sum; the classic 5×5 example is small enough to check by hand.",
        (View("pages/convolution.py", "Open Sobel x on your image", (("kernel", "sobel_x"),)),
         View("pages/convolution.py", "Open the classic 5×5 worked example",
              (("sample", "classic_5x5"), ("kernel", "x_shape")))),
        (
            TryThis(f"The kernel is 3×3 with no padding and stride 1. How big is the output on "
                    f"your {img.h}×{img.w} image?",
                    _on_your_image(lambda: (
                        f"**{_size(output_shape((img.h, img.w), 3))}**: "
                        f"{_formula(img.h, img.w, 3)}. A 3×3 kernel cannot centre on the "
                        "border pixels, so one pixel is lost on every side."))),
            TryThis("In the classic example (the 5×5 binary image, the X-shaped kernel), which "
                    "number fills the top-left output cell? Step through to check.",
                    f"**{classic[0, 0]:g}**: the X kernel's five 1s meet "
                    f"{classic[0, 0]:g} ones of the image in the top-left 3×3 window. The whole "
                    f"output is {classic.astype(int).tolist()}."),
            TryThis("Switch the kernel from Sobel x to Box blur. What does the output show "
                    "now, and why?",
                    "A blurred copy of the image: every weight of the box blur is 1/9, so each "
                    "output pixel is the mean of its 3×3 window and there are no negative "
                    "weights to cancel out flat regions."),
        ),
    )


def _stride_padding(img: ImageSize) -> Step:
    hw = (img.h, img.w)
    same_pads = resolve_padding("same", 3)
    span, _ = rf_step(1, 1, 3, 1, 2)  # one dilated placement = one layer's field
    try:
        resolve_padding("same", 3, 1, 2)
        refusal = ""
    except ParameterError as err:
        refusal = str(err)
    return Step(
        "Stride and padding",
        "**Stride** is how far the kernel jumps between positions: with stride 2 it visits "
        "every second position, so the output is about half as tall and half as wide. "
        "**Padding** adds a border (zeros by default) so that the kernel can also centre on "
        "the edge pixels; with a 3×3 kernel, 1 pixel of padding keeps the size at stride 1, "
        "which is what *same* padding means. **Dilation** spreads the kernel's taps apart. "
        f"The page writes out the output-size formula `{OUTPUT_SIZE_FORMULA}` with "
        "your numbers.",
        (View("pages/convolution.py", "Open Sobel x with stride 2 and padding 1",
              (("kernel", "sobel_x"), ("stride", "2"), ("padding", "1"))),
         View("pages/convolution.py", "Open 'same' padding",
              (("kernel", "sobel_x"), ("padding", "same"))),
         View("pages/convolution.py", "Open dilation 2", (("kernel", "sobel_x"),
                                                          ("dilation", "2")))),
        (
            TryThis("Set stride to 2: what happens to the output size?",
                    _on_your_image(lambda: (
                        f"With padding 1 it goes from {_size(output_shape(hw, 3, 1, 1))}"
                        f" at stride 1 to **{_size(output_shape(hw, 3, 2, 1))}** at "
                        f"stride 2: {_formula(img.h, img.w, 3, 2, 1)}. About half on each axis, "
                        "a quarter of the pixels."))),
            TryThis("With padding 'same' and stride 1, how big is the output?",
                    _on_your_image(lambda: (
                        f"**{_size(output_shape(hw, 3, 1, 'same'))}**, the size of "
                        f"the input: 'same' pads {same_pads[0]} pixel on each side for a 3×3 "
                        "kernel."))),
            TryThis("Why does the page refuse 'same' padding together with stride 2?",
                    refusal),
            TryThis("Set dilation to 2 with no padding. How many pixels does one placement of "
                    "the 3×3 kernel cover, and how big is the output?",
                    f"It covers {span}×{span} pixels (2·(3−1) + 1 = {span}), with gaps. "
                    + _on_your_image(lambda: (
                        f"Output: **{_size(output_shape(hw, 3, 1, 0, 2))}**: "
                        f"{_formula(img.h, img.w, 3, 1, 0, 2)}."))),
        ),
    )


def _channels(img: ImageSize) -> Step:
    weights = conv_params(3, 1, 3, bias=False)
    with_bias = conv_params(3, 1, 3)
    return Step(
        "Colour channels",
        "A colour image is three grids of numbers: red, green and blue. A kernel on it has one "
        f"slice per channel, so a 3×3 kernel on RGB is really 3×3×3 = {weights} weights; the "
        "three slices' sums are added into **one** output map, plus one bias. A layer of F "
        "filters makes F maps, and the next layer's kernels have F slices each. A 1×1 kernel "
        "only mixes the channels of each pixel: with +1 for red and −½ for green and blue it "
        "lights up red things (on a colour photo; on a grey image the three channels are equal "
        "and it gives zero everywhere).",
        (View("pages/convolution.py", "Open a 1×1 'redness' kernel in colour",
              (("kernel", "custom"), ("weights", "1|-0.5|-0.5"), ("gray", "0"))),
         View("pages/convolution.py", "Open Sobel x in colour, a layer of 16 filters",
              (("kernel", "sobel_x"), ("gray", "0"), ("filters", "16")))),
        (
            TryThis("How many weights does one 3×3 filter have on an RGB image, and how many "
                    "parameters with its bias?",
                    f"**{weights}** weights (3·3·3) and **{with_bias}** parameters with the "
                    "bias."),
            TryThis("A layer of 16 such filters: how many parameters? And on a grayscale "
                    "image?",
                    f"RGB: `{conv_params_text(3, 16, 3)}`. Grey: "
                    f"`{conv_params_text(1, 16, 3)}`."),
            TryThis("The next layer has 32 filters of 3×3 on those 16 maps. How many "
                    "parameters?",
                    f"`{conv_params_text(16, 32, 3)}`: each filter has one 3×3 "
                    "slice per incoming map."),
        ),
    )


def _pooling(img: ImageSize) -> Step:
    hw = (img.h, img.w)
    textbook = pool2d(POOLING_4X4, kind="max", size=2)
    return Step(
        "Pooling",
        "A **pooling** layer shrinks each map: a window, usually 2×2 with stride 2, slides over "
        "it and keeps one number per window, the maximum or the mean. Every channel is pooled "
        "on its own, and there is nothing to learn: max and mean are fixed functions, so "
        f"pooling adds {pool_params()} parameters. Halving height and width "
        "quarters the work of every later layer, and the next kernels see a larger part of "
        "the image.",
        (View("pages/pooling.py", "Open the textbook 4×4 example",
              (("sample", "pooling_4x4"),)),
         View("pages/pooling.py", "Open average pooling on your image", (("kind", "avg"),)),
         View("pages/pooling.py", "Open overlapping 3×3 windows with stride 2",
              (("size", "3"), ("stride", "2")))),
        (
            TryThis(f"2×2 max pooling with stride 2 on your {img.h}×{img.w} image: what is the "
                    "output size, and how many parameters does it add?",
                    _on_your_image(lambda: (
                        f"**{_size(pool_output_shape(hw, 2))}** and "
                        f"**{pool_params()}** parameters: "
                        f"{_formula(img.h, img.w, 2, 2)}."))),
            TryThis("Which number wins each window of the textbook 4×4 example?",
                    f"{textbook.astype(int).tolist()}: the largest value of each 2×2 "
                    "block."),
            TryThis("Make the window 3×3 and keep stride 2. How big is the output now?",
                    _on_your_image(lambda: (
                        f"**{_size(pool_output_shape(hw, 3, 2))}**: "
                        f"{_formula(img.h, img.w, 3, 2)}. The windows overlap by one row and "
                        "column."))),
        ),
    )


def _hierarchy(img: ImageSize) -> Step:
    r, j, lines = 1, 1, []
    for _ in range(3):
        lines.append(rf_step_text(r, j, 3))
        r, j = rf_step(r, j, 3)
    three = r
    pool_text = rf_step_text(r, j, 2, 2)
    r, j = rf_step(r, j, 2, 2)
    conv_text = rf_step_text(r, j, 3)
    r, j = rf_step(r, j, 3)
    return Step(
        "The feature hierarchy and receptive fields",
        "Stack layers and each one works on the maps of the one before: the first layer's "
        "kernels find edges and colour blobs, the next combine those into corners and "
        "strokes, deeper ones into parts of objects. Nobody wrote these kernels: training "
        "found them. A deeper unit also sees more of the image: its **receptive field**. Three "
        f"3×3 convolutions see 3 → 5 → {three} pixels, and a pool doubles the distance "
        "between units, so every later 3×3 convolution adds twice as much.",
        (View("pages/filters.py", "Open the learned first-layer kernels of the shapes network",
              (("model", "shapes"),)),
         View("pages/feature_maps.py", "Open the shapes network's feature maps on a star",
              (("sample", "shape_star"), ("model", "shapes"))),
         View("pages/receptive_fields.py", "Open the receptive field after three 3×3 "
              "convolutions", (("model", "lesson"), ("layer", "conv3"))),
         View("pages/receptive_fields.py", "Open it after a 2×2 pool and one more 3×3 "
              "convolution", (("model", "lesson"), ("layer", "conv4")))),
        (
            TryThis("What is the receptive field after three 3×3 convolutions with stride 1?",
                    f"**{three}×{three}** pixels: " + ", then ".join(f"`{t}`" for t in lines)
                    + " (`r_out = r_in + (k−1)·d·j_in`)."),
            TryThis("Add a 2×2 pool with stride 2 and one more 3×3 convolution. How far does "
                    "a unit see now?",
                    f"**{r}×{r}** pixels: the pool gives `{pool_text}` and doubles the jump "
                    f"to 2, so the convolution adds twice as much: `{conv_text}`."),
            TryThis("Who told the first layer to look for edges?",
                    "Nobody. Its kernels started as random numbers, and training only asked "
                    "for fewer mistakes; edge and colour detectors are what that produced. The "
                    "Filters page shows the learned kernels beside Sobel and blur."),
        ),
    )


ARCHITECTURES = ("lenet5", "alexnet", "vgg16", "resnet18")
YEARS = {"lenet5": 1998, "alexnet": 2012, "vgg16": 2014, "resnet18": 2015}


def _architectures(img: ImageSize) -> Step:
    totals = {name: networks.totals(name) for name in ARCHITECTURES}
    vgg_dense = sum(row["params"] for row in networks.layer_table("vgg16")
                    if row["type"] == "Linear")
    two_3x3 = 2 * conv_params(64, 64, 3)
    one_5x5 = conv_params(64, 64, 5)
    r, j = rf_step(*rf_step(1, 1, 3), 3)
    shortcut = conv_params_text(64, 128, 1, bias=False)
    return Step(
        "From LeNet to ResNet, and skip connections",
        "The classic networks are stacks of the same few layers, bigger each time. LeNet-5 "
        "(1998) read handwritten digits with two convolutions; AlexNet (2012) won ImageNet "
        "with ReLU, dropout and GPUs; VGG-16 (2014) used nothing but 3×3 convolutions; ResNet "
        "(2015) added **skip connections**: a block computes F(x) and outputs F(x) + x, so the "
        "signal and its gradient can pass straight through, and networks of 152 layers train. "
        "An identity skip adds no parameters.",
        (View("pages/architecture.py", "Open the classics side by side, ResNet-18 layer by layer",
              (("model", "resnet18"),)),
         View("pages/architecture.py", "Open LeNet-5 layer by layer", (("model", "lenet5"),))),
        (
            TryThis("VGG stacks two 3×3 convolutions where one 5×5 would do: both see 5×5 "
                    "pixels. With 64 channels in and out, which has fewer parameters?",
                    f"Two 3×3: 2 × `{conv_params_text(64, 64, 3)}` = "
                    f"**{two_3x3:,}**. One 5×5: `{conv_params_text(64, 64, 5)}`, "
                    f"{one_5x5 - two_3x3:,} more. "
                    f"Both see {r}×{r} pixels, and the pair has a ReLU in between."),
            TryThis("Where do VGG-16's parameters sit?",
                    f"**{vgg_dense:,}** of its {totals['vgg16']['params']:,} are in the three "
                    "dense layers at the end: the first one alone takes the flattened 7×7×512 "
                    "maps."),
            TryThis("How many parameters does a skip connection add?",
                    "**0** for the identity skip: it adds x to F(x), value by value. Where a "
                    "block halves the size and doubles the channels, ResNet uses a 1×1 "
                    f"shortcut convolution instead: `{shortcut}` (no bias; batch norm "
                    "follows)."),
        ),
        table=tuple(
            {"network": name, "year": YEARS[name], "parameters": t["params"],
             "multiply-adds per image": t["macs"], "weight layers": t["layers"]}
            for name, t in totals.items()),
        note="Counted by torch on each architecture (`cnnviz.inspect.model_totals`). "
             "ResNet-18 has 21 weight layers here because its three 1×1 shortcut "
             "convolutions count too.",
    )


def _grad_cam(img: ImageSize) -> Step:
    rows = {row["name"]: row for row in networks.layer_table("shapes")}
    _, h, w = rows["conv4"]["output_shape"]
    _, in_h, _ = MODELS["shapes"].input_size
    return Step(
        "Grad-CAM: where did the network look?",
        "Which part of the image made the network say “star”? **Grad-CAM** takes the feature "
        "maps of a late convolution, weights each map by how much the class score grows with "
        "it (the mean of its gradient), adds them up and keeps the positive part. The result "
        "is a coarse heat map at that layer's resolution, stretched over the picture. It "
        "shows where the evidence is, not why; the page's trust checks ask whether the map "
        "means anything at all.",
        (View("pages/gradcam.py", "Open Grad-CAM of the shapes network on a star",
              (("sample", "shape_star"), ("model", "shapes"))),
         View("pages/gradcam.py", "Open Grad-CAM of the digits network on a 3",
              (("sample", "digit_3"), ("model", "digits")))),
        (
            TryThis("The shapes network's last convolution (conv4) is where Grad-CAM looks. "
                    f"How fine is its heat map on the {in_h}×{in_h} input?",
                    f"**{h}×{w}** cells, each covering about {in_h // h}×{in_h // w} input "
                    "pixels: three 2×2 pools halve the maps three times (the layer table, "
                    "counted by torch). That is why the map looks blocky."),
            TryThis("Set the class to a shape that is not in the picture. What should the map "
                    "show?",
                    "Little or nothing: Grad-CAM keeps only the positive evidence, and there "
                    "is little evidence for a class that is not there. A strong map for a "
                    "missing class is a reason to distrust the network."),
        ),
    )


def _transfer(img: ImageSize) -> Step:
    name = "efficientnet_lite0"
    classes = len(MODELS[name].class_names)
    features = head_features(architecture(name))  # what its last dense layer takes
    total = networks.totals(name)["params"]
    old_head = dense_params(features, classes)
    new_head = dense_params(features, 5)
    return Step(
        "Transfer learning",
        "Training a big network from scratch needs millions of labelled images. Transfer "
        "learning reuses one: take a network trained on ImageNet, keep its convolutions (edges, "
        "textures and parts are useful for almost any photo) and replace only the last layer "
        "with a new one for your own classes. Often only that layer is trained. The app ships "
        "EfficientNet-Lite0 with its ImageNet weights: on the Your own classes page you make a "
        "few classes from your own pictures (or a ready-made set), train its new last layer "
        "in seconds beside a small CNN from scratch, and then explore your network on every "
        "page.",
        (View("pages/own_classes.py", "Open Your own classes: train on your own pictures"),
         View("pages/models.py", "Open EfficientNet-Lite0 on the Models page",
              (("model", name),)),
         View("pages/training.py", "Open the Training page: a 3-epoch run on the digits",
              (("epochs", "3"),))),
        (
            TryThis(f"EfficientNet-Lite0's last layer maps {features:,} features to "
                    f"{classes:,} ImageNet classes. How many parameters does a new last layer "
                    "for 5 classes have, and what share of the network is that?",
                    f"`{dense_params_text(features, 5)}`, against "
                    f"`{dense_params_text(features, classes)}` before: "
                    f"{new_head / (total - old_head + new_head):.3%} of the "
                    f"{total - old_head + new_head:,} parameters. Freeze the rest and "
                    "training only has to fit those."),
            TryThis("On Your own classes, train on the shapes with 10 images a class. Why does "
                    "the CNN from scratch stay near chance while the new head does much "
                    "better?",
                    "The CNN from scratch must learn edges, corners and shapes from 30-odd "
                    "pictures, far too few. The pretrained features already hold edges, "
                    "textures and parts, so only the last layer has to be learnt, and a few "
                    "images a class are enough for that."),
            TryThis("Why can kernels learned on ImageNet photos help with X-rays or "
                    "handwriting?",
                    "Because the first layers find edges, blobs and textures, and every "
                    "kind of picture is made of those; only the last layers are specific to "
                    "ImageNet's classes."),
        ),
    )


#: The tour, in the order of the lesson: (title, builder). ``build_step`` makes one.
STEPS: tuple[tuple[str, Callable[[ImageSize], Step]], ...] = (
    ("Why not a dense layer?", _dense_vs_conv),
    ("Convolution", _convolution),
    ("Stride and padding", _stride_padding),
    ("Colour channels", _channels),
    ("Pooling", _pooling),
    ("Feature hierarchy and receptive fields", _hierarchy),
    ("From LeNet to ResNet", _architectures),
    ("Grad-CAM", _grad_cam),
    ("Transfer learning", _transfer),
)


def build_step(number: int, image: state.CurrentImage | ImageSize) -> Step:
    """Step ``number`` (1-based) for ``image``: its text, views and worked answers."""
    size = image if isinstance(image, ImageSize) else ImageSize.of(image)
    return STEPS[number - 1][1](size)
