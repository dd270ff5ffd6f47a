"""Controls mirrored in the URL query string, so a lecturer can prepare links.

A :class:`UrlParam` is the one declaration of a control: its query key, the session keys of
the widgets it feeds, its default, its bounds or options, and how to read and write it in the
URL. The widget helpers of ``ui.widgets`` take their bounds and options from it, and so does
its parser, so a limit is written once.

A :class:`Link` runs on every page: ``link.seed(params)`` gives each widget its starting value
before the widgets are drawn (a value in the link wins; one that does not parse falls back to
the default, and one notice names every such key, never echoing the value), and
``link.publish()`` writes the current values back after them, leaving defaults out of the URL.
A page seeds in stages when some bounds depend on an earlier control (a model's layers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st

from cnnviz import parse_kernel_slices

__all__ = [
    "MEAN",
    "PAD_KINDS",
    "Link",
    "SwitchedPair",
    "UrlParam",
    "bad_link_notice",
    "choice",
    "choice_param",
    "class_in",
    "flag",
    "flag_param",
    "float_in",
    "float_param",
    "format_flag",
    "format_float",
    "format_pair",
    "int_in",
    "int_param",
    "kernel_param",
    "map_param",
    "names_in",
    "one_of",
    "pair_in",
    "padding_param",
    "pair_param",
    "switched_pair_param",
    "unit_param",
]


@dataclass(frozen=True)
class UrlParam:
    key: str  # the query-string key
    widgets: tuple[str, ...]  # session-state keys of the widgets it sets, in order
    default: Any  # the value (a tuple when several widgets) with no query key
    parse: Callable[[str], Any]  # str -> value; raises ValueError when invalid
    format: Callable[[Any], str] = str  # value -> str
    bounds: tuple[Any, Any] | None = None  # (lo, hi) of every widget, both included
    options: tuple | None = None  # the widget's choices, when it has choices

    @property
    def widget(self) -> str:
        """The session key of the (first) widget."""
        return self.widgets[0]

    def current(self) -> Any:
        """The widgets' values now (a tuple for several widgets)."""
        values = tuple(st.session_state.get(w) for w in self.widgets)
        return values[0] if len(self.widgets) == 1 else values

    def written(self) -> str | None:
        """What the URL holds for the current values: None for the default (left out)."""
        value = self.current()
        return None if value == self.default else self.format(value)


def bad_link_notice(keys: Sequence[str], what: str = "page") -> str:
    """The one sentence about a link's unusable values: it names the keys, never the values."""
    names = ", ".join(f"`{k}`" for k in keys)
    return f"The link had values this {what} cannot use ({names}); the defaults are shown instead."


class Link:
    """The page's URL controls, seeded in one or more stages, published once at the end.

    The notice about bad values appears where the Link was made (``st.empty()`` there), and
    lists every bad key of every stage.
    """

    def __init__(self, what: str = "page") -> None:
        self.what = what
        self.params: list[UrlParam] = []
        self.bad: list[str] = []
        self._slot = st.empty()

    def seed(self, params: Sequence[UrlParam]) -> list[UrlParam]:
        """Give each widget of ``params`` its starting value (from the URL when present, the
        default else), unless the session already holds one; returns ``params``."""
        for param in params:
            self.params.append(param)
            if all(w in st.session_state for w in param.widgets):
                continue
            value = param.default
            raw = st.query_params.get(param.key)
            if raw is not None:
                try:
                    value = param.parse(raw)
                except (ValueError, TypeError):
                    self.bad.append(param.key)
            values = value if len(param.widgets) > 1 else (value,)
            for widget, v in zip(param.widgets, values, strict=True):
                st.session_state[widget] = v
        if self.bad:
            self._slot.warning(bad_link_notice(self.bad, self.what), icon=":material/link_off:")
        return list(params)

    def publish(self) -> None:
        """Write every control's current value into the URL (defaults are left out)."""
        for param in self.params:
            text = param.written()
            if text is None:
                if param.key in st.query_params:
                    del st.query_params[param.key]
            elif st.query_params.get(param.key) != text:
                st.query_params[param.key] = text

    def stop(self, message: str | None = None, icon: str = ":material/error:") -> None:
        """End the page here: show ``message`` as an error (if given), publish, stop."""
        if message:
            st.error(message, icon=icon)
        self.publish()
        st.stop()


# --- parsers ------------------------------------------------------------------------------


def int_in(lo: int, hi: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text.strip())
        if not lo <= value <= hi:
            raise ValueError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def pair_in(lo: int, hi: int) -> Callable[[str], tuple[int, int]]:
    """ "2" -> (2, 2); "2,1" -> (2, 1)."""
    one = int_in(lo, hi)

    def parse(text: str) -> tuple[int, int]:
        parts = [p for p in text.replace(" ", "").split(",") if p]
        if len(parts) == 1:
            return one(parts[0]), one(parts[0])
        if len(parts) == 2:
            return one(parts[0]), one(parts[1])
        raise ValueError("expected one or two numbers")

    return parse


def format_pair(value: tuple[int, ...]) -> str:
    return str(value[0]) if len(set(value)) == 1 else ",".join(str(v) for v in value)


def float_in(lo: float, hi: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text.strip())
        if not lo <= value <= hi:  # NaN fails this too
            raise ValueError("out of range")
        return value

    return parse


def format_float(value: float) -> str:
    return f"{value:g}"


def choice(options: Sequence) -> Callable[[str], Any]:
    """The option whose text is the URL value (options of any type: ``str(option)``)."""
    by_text = {str(o): o for o in options}

    def parse(text: str) -> Any:
        if text not in by_text:
            raise ValueError("not an option")
        return by_text[text]

    return parse


def one_of(options: Sequence[float], cast: Callable[[str], float] = float) -> Callable:
    """A number equal to one of ``options`` ("0.003" -> 0.003, "8" -> 8): the option itself."""

    def parse(text: str):
        value = cast(text.strip())
        for option in options:
            if value == option or (isinstance(value, float) and math.isfinite(value)
                                   and math.isclose(value, option, rel_tol=1e-9)):
                return option
        raise ValueError("not an option")

    return parse


def names_in(options: Sequence[str]) -> Callable[[str], list[str]]:
    """ "a,b" -> ["a", "b"]: distinct names, each one of ``options``."""

    def parse(text: str) -> list[str]:
        names = [n for n in text.replace(" ", "").split(",") if n]
        if any(n not in options for n in names) or len(set(names)) != len(names):
            raise ValueError("not an option")
        return names

    return parse


def class_in(classes: Sequence[str], predicted: int) -> Callable[[str], int]:
    """A class by name or index, or "predicted" (-> ``predicted``, a stand-in index)."""

    def parse(text: str) -> int:
        text = text.strip()
        if text == "predicted":
            return predicted
        if text in classes:
            return list(classes).index(text)
        index = int(text)  # ValueError for anything else
        if not 0 <= index < len(classes):
            raise ValueError("no such class")
        return index

    return parse


def flag(text: str) -> bool:
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError("not a flag")


def format_flag(value: bool) -> str:
    return "1" if value else "0"


# --- declarations: the bounds feed the parser and the widget --------------------------------


def int_param(key: str, widget: str, default: int | None, lo: int, hi: int) -> UrlParam:
    """A whole number from lo to hi (a number input, a slider)."""
    return UrlParam(key, (widget,), default, int_in(lo, hi), bounds=(lo, hi))


def pair_param(key: str, widgets: tuple[str, str], default: tuple[int, int], lo: int,
               hi: int) -> UrlParam:
    """Two whole numbers from lo to hi (rows and columns), "2" or "2,1" in the URL."""
    return UrlParam(key, widgets, default, pair_in(lo, hi), format_pair, bounds=(lo, hi))


def float_param(key: str, widget: str, default: float, lo: float, hi: float) -> UrlParam:
    return UrlParam(key, (widget,), default, float_in(lo, hi), format_float, bounds=(lo, hi))


def choice_param(key: str, widget: str, default: Any, options: Sequence,
                 format: Callable[[Any], str] = str) -> UrlParam:
    """One of ``options`` (a select box, a segmented control, a select slider)."""
    options = tuple(options)
    parse = one_of(options, type(options[0])) if options and isinstance(
        options[0], (int, float)) and not isinstance(options[0], bool) else choice(options)
    return UrlParam(key, (widget,), default, parse, format, options=options)


def flag_param(key: str, widget: str, default: bool) -> UrlParam:
    """On or off (a toggle), "1" or "0" in the URL."""
    return UrlParam(key, (widget,), default, flag, format_flag)


class SwitchedPair(UrlParam):
    """A switch and a pair of numbers it stands in for while on (pooling's "stride = window"):
    widgets (switch, a, b), default (True, a, b). The URL holds the pair only while the switch
    is off; a pair in a link turns it off."""

    def current(self) -> Any:
        on, a, b = super().current()
        return self.default if on else (False, a, b)


def switched_pair_param(key: str, widgets: tuple[str, str, str], default: tuple[int, int],
                        lo: int, hi: int) -> SwitchedPair:
    pair = pair_in(lo, hi)
    return SwitchedPair(key, widgets, (True, *default), lambda text: (False, *pair(text)),
                        lambda value: format_pair(value[1:]), bounds=(lo, hi))


# --- the Convolution page's padding and kernel ---------------------------------------------

PAD_KINDS = ("valid", "same", "custom")
MAX_PADDING = 64  # pixels per side


def _parse_padding(text: str) -> tuple:
    """ "valid" | "same" | "p" | "h,w" | "t,b,l,r" -> (kind, top, bottom, left, right)."""
    text = text.strip()
    if text in ("valid", "same"):
        return (text, 0, 0, 0, 0)
    parts = [int(p) for p in text.split(",")]
    if any(not 0 <= p <= MAX_PADDING for p in parts):
        raise ValueError("padding out of range")
    if len(parts) == 1:
        parts *= 4
    elif len(parts) == 2:  # (h, w)
        parts = [parts[0], parts[0], parts[1], parts[1]]
    elif len(parts) != 4:
        raise ValueError("expected 1, 2 or 4 numbers")
    return ("custom", *parts)


def _format_padding(value: tuple) -> str:
    kind, *sides = value
    if kind != "custom":
        return kind
    if len(set(sides)) == 1:
        return str(sides[0])
    if sides[0] == sides[1] and sides[2] == sides[3]:
        return f"{sides[0]},{sides[2]}"
    return ",".join(str(s) for s in sides)


def padding_param(key: str, widgets: tuple[str, str, str, str, str],
                  default: tuple) -> UrlParam:
    """The padding: widgets (kind, top, bottom, left, right); "valid", "same", "1", "1,2" or
    "1,1,2,2" in the URL."""
    return UrlParam(key, widgets, default, _parse_padding, _format_padding,
                    bounds=(0, MAX_PADDING), options=PAD_KINDS)


def _parse_weights(text: str) -> str:
    text = text.replace(";", "\n")
    parse_kernel_slices(text)  # raises KernelError (a ValueError) when unusable
    return text


def _format_weights(text: str) -> str:
    return ";".join(line.strip() for line in text.strip().splitlines() if line.strip())


def kernel_param(key: str, widget: str, default: str) -> UrlParam:
    """A custom kernel as text: rows on lines (";" in the URL), slices split by "|"."""
    return UrlParam(key, (widget,), default, _parse_weights, _format_weights)


# --- the Receptive fields page's unit and map ------------------------------------------------


def _unit_in(h: int, w: int) -> Callable[[str], tuple[int, int]]:
    """Parser of "y,x": a unit of an h×w map."""

    def parse(text: str) -> tuple[int, int]:
        parts = text.replace(" ", "").split(",")
        if len(parts) != 2:
            raise ValueError("expected y,x")
        y, x = int(parts[0]), int(parts[1])
        if not (0 <= y < h and 0 <= x < w):
            raise ValueError("outside the map")
        return y, x

    return parse


def unit_param(key: str, widgets: tuple[str, str], default: tuple[int, int], h: int,
               w: int) -> UrlParam:
    """A unit (row, column) of an h×w map: "y,x" in the URL."""
    return UrlParam(key, widgets, default, _unit_in(h, w), lambda u: f"{u[0]},{u[1]}",
                    bounds=(0, max(h, w) - 1))


MEAN = "mean"  # the map choice "the mean over the channels"


def _map_in(channels: int) -> Callable[[str], str | int]:
    def parse(text: str) -> str | int:
        if text == MEAN:
            return MEAN
        value = int(text)
        if not 0 <= value < channels:
            raise ValueError("no such channel")
        return value

    return parse


def map_param(key: str, widget: str, channels: int) -> UrlParam:
    """One channel of a layer (0 to channels - 1) or ``MEAN``, the mean over them."""
    return UrlParam(key, (widget,), MEAN, _map_in(channels), str,
                    options=(MEAN, *range(channels)))
