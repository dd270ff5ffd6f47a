"""The list of pages, in the order of a lecture. ``app.py`` builds the navigation from it,
the home page describes it, and each page takes its widget-key prefix from it, so a page is
declared once.

Every session key of a page's widgets starts with its ``prefix`` (``conv.stride_h``): that is
what lets ``ui.views`` clear one page's controls before it opens that page with settings of
its own, so no page needs to know another's keys.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "all_pages",
    "ARCHITECTURE",
    "BACKPROP",
    "CHANNELS",
    "CONVOLUTION",
    "FEATURE_MAPS",
    "FILTERS",
    "GRADCAM",
    "HOME",
    "LEARN",
    "LAYER",
    "LESSON",
    "MODELS_PAGE",
    "OVERVIEW",
    "OWN_CLASSES",
    "page",
    "PageInfo",
    "POOLING",
    "QUIZ",
    "RECEPTIVE_FIELDS",
    "TRAINING",
    "TRANSPOSED",
]


@dataclass(frozen=True)
class PageInfo:
    path: str  # relative to the repository root
    title: str
    icon: str
    url_path: str  # the file's stem: Streamlit's pages/ folder maps that name to the file
    prefix: str  # the start of the session key of every widget of the page, e.g. "conv."
    teaches: str  # one or two sentences for the home page

    def key(self, name: str) -> str:
        """The session key of the page's widget ``name``: ``prefix + name``."""
        return self.prefix + name


HOME = PageInfo(
    "pages/home.py", "Home", ":material/home:", "home", "home.",
    "What each page teaches, and the image every page works on.",
)

LEARN = PageInfo(
    "pages/learn.py", "Learn", ":material/school:", "learn", "learn.",
    "A guided tour for a student on their own: nine steps from why images need "
    "convolutions to transfer learning, each opening a page with the right settings and "
    "something to try there.",
)

CONVOLUTION = PageInfo(
    "pages/convolution.py", "Convolution", ":material/grid_on:", "convolution", "conv.",
    "A kernel slides over your image: watch every multiply and sum, with stride, "
    "padding, dilation and colour channels, and the output-size formula with real numbers.",
)

LAYER = PageInfo(
    "pages/layer.py", "The whole layer", ":material/stacks:", "layer", "layer.",
    "F filters over C channels: which channels each filter sums, groups and depthwise, "
    "depthwise-separable against one standard layer in parameters and multiply-adds, and "
    "the PyTorch line.",
)

TRANSPOSED = PageInfo(
    "pages/transposed.py", "Transposed convolution", ":material/open_in_full:", "transposed",
    "tconv.",
    "The upsampling layer of decoders and GANs, two ways: each input cell stamps the kernel "
    "onto a bigger output, or zeros go between the cells and a turned kernel slides; and "
    "why kernel 3 with stride 2 draws checkerboards.",
)

POOLING = PageInfo(
    "pages/pooling.py", "Pooling", ":material/filter_center_focus:", "pooling", "pool.",
    "Max and average pooling shrink a map: watch which input cell wins each window, "
    "and why pooling adds no parameters.",
)

MODELS_PAGE = PageInfo(
    "pages/models.py", "Models", ":material/hub:", "models", "models.",
    "The networks the app ships (digits, shapes) and the classics from LeNet-5 to "
    "ResNet-18: parameters, model cards, and what each says about your image.",
)

OVERVIEW = PageInfo(
    "pages/overview.py", "Overview", ":material/view_column:", "overview", "overview.",
    "The whole network at a glance on your image: every layer's maps and shape, from "
    "the pixels to the class probabilities.",
)

FEATURE_MAPS = PageInfo(
    "pages/feature_maps.py", "Feature maps", ":material/layers:", "feature_maps", "fmaps.",
    "Every channel of a layer, before and after its ReLU, ranked by how strongly it "
    "responds; open a channel's learned kernel on the Convolution page.",
)

FILTERS = PageInfo(
    "pages/filters.py", "Filters", ":material/blur_on:", "filters", "filters.",
    "The first layer's learned kernels as pictures, beside Sobel, blur and Laplacian: "
    "nobody told the network to look for edges.",
)

CHANNELS = PageInfo(
    "pages/channels.py", "What a channel detects", ":material/auto_awesome:", "channels",
    "channels.",
    "Ask the network: an input synthesised by gradient ascent to excite one channel. Ask "
    "the data: the nine MNIST digits that excite it most, cut to the unit's receptive "
    "field.",
)

RECEPTIVE_FIELDS = PageInfo(
    "pages/receptive_fields.py", "Receptive fields", ":material/center_focus_strong:",
    "receptive_fields", "rf.",
    "How much of the image one unit sees: three 3×3 convolutions see 3 → 5 → 7 pixels "
    "and each pool doubles the jump. Click a unit to see its field and its effective field.",
)

ARCHITECTURE = PageInfo(
    "pages/architecture.py", "Architecture", ":material/account_tree:", "architecture", "arch.",
    "Layer tables with every parameter count written out, LeNet to ResNet side by side, "
    "why a dense layer on an image costs 150 million parameters, and what each "
    "milestone network introduced.",
)

GRADCAM = PageInfo(
    "pages/gradcam.py", "Grad-CAM", ":material/center_focus_weak:", "gradcam", "gradcam.",
    "Which pixels made the network say “star”? Grad-CAM at every layer, at its own "
    "resolution and over the picture, beside Integrated Gradients, Saliency and Occlusion, "
    "with checks of whether to trust the map.",
)

BACKPROP = PageInfo(
    "pages/backprop.py", "How a layer learns", ":material/trending_down:", "backprop", "bprop.",
    "One conv layer learns to be a Sobel filter: the loss, dL/dW window by window (it equals "
    "autograd's), the gradient going back as a transposed convolution, pooling's backward, "
    "and gradient descent step by step.",
)

TRAINING = PageInfo(
    "pages/training.py", "Training", ":material/model_training:", "training", "train.",
    "Train the digits network in your browser session and watch edge detectors emerge "
    "from noise in the first layer.",
)

OWN_CLASSES = PageInfo(
    "pages/own_classes.py", "Your own classes", ":material/category:", "own_classes", "own.",
    "Make 2 to 6 classes from uploads, webcam shots, drawings or a ready-made set, train "
    "EfficientNet-Lite0's last layer on them in seconds beside a CNN from scratch, and "
    "explore the new network on every page.",
)

QUIZ = PageInfo(
    "pages/quiz.py", "Quiz", ":material/quiz:", "quiz", "quiz.",
    "Five questions with new numbers every time (parameter counts, output sizes, pooling, "
    "receptive fields) and a few ideas from the lesson; a wrong answer gets the worked "
    "solution.",
)


#: The lesson pages, in the order a lecture uses them.
LESSON: list[PageInfo] = [
    LEARN, CONVOLUTION, LAYER, POOLING, TRANSPOSED, MODELS_PAGE, OVERVIEW, FEATURE_MAPS,
    FILTERS, CHANNELS, RECEPTIVE_FIELDS, ARCHITECTURE, GRADCAM, BACKPROP, TRAINING,
    OWN_CLASSES, QUIZ,
]


def all_pages() -> list[PageInfo]:
    return [HOME, *LESSON]


def page(path: str) -> PageInfo:
    """The page whose file is ``path`` ("pages/convolution.py"); KeyError for none."""
    for info in all_pages():
        if info.path == path:
            return info
    raise KeyError(f"There is no page {path!r}.")
