"""cnnviz: the library behind the CNN explainer.

The public surface lives here; implementations live in the submodules.
Nothing in this package imports Streamlit.
"""

from cnnviz.images import ImageError, load_image

__all__ = [
    "ImageError",
    "load_image",
]
