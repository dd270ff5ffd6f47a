"""Colour maps that every eye can read: colour-vision deficiency simulated, colours in CIE Lab.

- ``simulate_cvd(rgb, kind)``: how a dichromat sees sRGB colours, by the matrices of Machado,
  Oliveira and Fernandes (2009, "A physiologically-based model for simulation of color vision
  deficiency", IEEE TVCG 15(6)) at severity 1.0, applied in linear RGB.
- ``to_lab(rgb)``: sRGB (D65) to CIE L*a*b*; ``delta_e``: CIE76 colour difference (the
  Euclidean distance in Lab; about 2.3 is a just-noticeable difference).
- ``scale_colours(name)``: a colour scale of the app (a Plotly name or an OpenCV colour map)
  sampled as sRGB; ``separation(name, kind)``: the smallest ΔE among its two ends and its
  middle, as ``kind`` sees them; ``lightness(name)``: L* along the scale.

The tests hold the app's scales to it (``tests/test_colour.py``): the sequential default
(Viridis, and the Grad-CAM overlay's viridis) rises in lightness all the way, the diverging
one (RdBu_r) is lightest in the middle and falls to both ends, and under each deficiency the
ends and the middle stay at least MIN_SEPARATION apart.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

__all__ = [
    "CVD_KINDS",
    "MIN_SEPARATION",
    "delta_e",
    "lightness",
    "scale_colours",
    "separation",
    "simulate_cvd",
    "to_lab",
]

#: Machado et al. (2009), severity 1.0: linear RGB -> linear RGB as a dichromat sees it.
_MACHADO = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868],
                            [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968],
                              [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779],
                            [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
CVD_KINDS = ("normal", *_MACHADO)
#: ΔE (CIE76) that the two ends and the middle of a scale keep between them under every
#: deficiency. 20 is about ten just-noticeable differences: two such colours are told apart
#: at a glance on a projected slide, not only side by side.
MIN_SEPARATION = 20.0

#: sRGB (D65) linear RGB -> XYZ
_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                 [0.2126729, 0.7151522, 0.0721750],
                 [0.0193339, 0.1191920, 0.9503041]])
_WHITE = _XYZ @ np.ones(3)


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb(linear: np.ndarray) -> np.ndarray:
    c = np.clip(linear, 0.0, 1.0)
    c = np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
    return c * 255.0


def simulate_cvd(rgb: np.ndarray, kind: str) -> np.ndarray:
    """float (..., 3) sRGB 0-255: ``rgb`` as seen with ``kind`` ("normal", "protanopia",
    "deuteranopia", "tritanopia"). ValueError for another kind."""
    if kind == "normal":
        return np.asarray(rgb, dtype=np.float64)
    if kind not in _MACHADO:
        raise ValueError(f"The colour-vision deficiencies simulated are {', '.join(_MACHADO)}; "
                         f"not {kind!r}.")
    return _srgb(_linear(rgb) @ _MACHADO[kind].T)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """float (..., 3) CIE L*a*b* (D65) of sRGB colours 0-255."""
    xyz = (_linear(rgb) @ _XYZ.T) / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """CIE76 ΔE between Lab colours."""
    return np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1)


@lru_cache(maxsize=32)
def _sampled(name: str, n: int) -> np.ndarray:
    opencv = "COLORMAP_" + name.upper()
    if hasattr(cv2, opencv) and name == name.lower():  # an overlay map: OpenCV's, by name
        ramp = np.round(np.linspace(0, 255, n)).astype(np.uint8).reshape(-1, 1)
        return cv2.applyColorMap(ramp, getattr(cv2, opencv))[:, 0, ::-1].astype(np.float64)
    from plotly.colors import get_colorscale, sample_colorscale

    samples = sample_colorscale(get_colorscale(name), np.linspace(0, 1, n).tolist(),
                                colortype="tuple")
    values = np.array(samples, dtype=np.float64)
    return values * 255.0 if values.max() <= 1.0 else values


def scale_colours(name: str, n: int = 33) -> np.ndarray:
    """float (n, 3) sRGB 0-255: the scale ``name`` from its low end to its high end. A
    lower-case name with an OpenCV map ("viridis", "jet") is the Grad-CAM overlay's map;
    otherwise a Plotly scale ("Viridis", "RdBu_r")."""
    return _sampled(name, n).copy()


def lightness(name: str, n: int = 33) -> np.ndarray:
    """L* along the scale, low end first."""
    return to_lab(scale_colours(name, n))[:, 0]


def separation(name: str, kind: str = "normal") -> float:
    """The smallest CIE76 ΔE between the scale's low end, middle and high end, as ``kind``
    sees them."""
    colours = scale_colours(name, 33)[[0, 16, 32]]
    lab = to_lab(simulate_cvd(colours, kind))
    return float(min(delta_e(lab[i], lab[j]) for i, j in ((0, 1), (1, 2), (0, 2))))
