"""The list of pages, in the order of a lecture. ``app.py`` builds the navigation from it
and the home page describes it, so a page is declared once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str  # relative to the repository root
    title: str
    icon: str
    url_path: str
    teaches: str  # one or two sentences for the home page


HOME = PageInfo(
    "pages/home.py", "Home", ":material/home:", "home",
    "What each page teaches, and the image every page works on.",
)

#: The lesson pages, in the order a lecture uses them.
LESSON: list[PageInfo] = [
    PageInfo(
        "pages/convolution.py", "Convolution", ":material/grid_on:", "convolution",
        "A kernel slides over your image: watch every multiply and sum, with stride, "
        "padding, dilation and colour channels, and the output-size formula with real numbers.",
    ),
    PageInfo(
        "pages/pooling.py", "Pooling", ":material/filter_center_focus:", "pooling",
        "Max and average pooling shrink a map: watch which input cell wins each window, "
        "and why pooling adds no parameters.",
    ),
    PageInfo(
        "pages/models.py", "Models", ":material/hub:", "models",
        "The networks the app ships (digits, shapes) and the classics from LeNet-5 to "
        "ResNet-18: parameters, model cards, and what each says about your image.",
    ),
    PageInfo(
        "pages/training.py", "Training", ":material/model_training:", "training",
        "Train the digits network in your browser session and watch edge detectors emerge "
        "from noise in the first layer.",
    ),
]


def all_pages() -> list[PageInfo]:
    return [HOME, *LESSON]
