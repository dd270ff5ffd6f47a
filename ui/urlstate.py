"""Controls mirrored in the URL query string, so a lecturer can prepare links.

Each :class:`UrlParam` names a query key, the widget keys it feeds, a parser and a
formatter. ``seed`` runs before the widgets: a value in the link becomes the
widget's starting value, and a value that does not parse falls back to the
default with a notice (never echoed unescaped). ``publish`` runs after the
widgets and writes the current values back, leaving defaults out of the URL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import streamlit as st


@dataclass(frozen=True)
class UrlParam:
    key: str  # the query-string key
    widgets: tuple[str, ...]  # session-state keys of the widgets it sets, in order
    default: Any  # the value (a tuple when several widgets) with no query key
    parse: Callable[[str], Any]  # str -> value; raises ValueError when invalid
    format: Callable[[Any], str] = str  # value -> str

    def current(self) -> Any:
        values = tuple(st.session_state.get(w) for w in self.widgets)
        return values[0] if len(self.widgets) == 1 else values


def seed(params: Sequence[UrlParam], notice_label: str) -> list[str]:
    """Give each widget its starting value, from the URL when present. Returns notices."""
    problems: list[str] = []
    for param in params:
        if all(w in st.session_state for w in param.widgets):
            continue
        value = param.default
        raw = st.query_params.get(param.key)
        if raw is not None:
            try:
                value = param.parse(raw)
            except (ValueError, TypeError):
                problems.append(param.key)
        values = value if len(param.widgets) > 1 else (value,)
        for widget, v in zip(param.widgets, values, strict=True):
            st.session_state[widget] = v
    if problems:
        keys = ", ".join(f"`{k}`" for k in problems)
        return [f"The link had values this {notice_label} cannot use ({keys}); "
                "the defaults are shown instead."]
    return []


def publish(params: Sequence[UrlParam]) -> None:
    """Write every control's current value into the URL (defaults are left out)."""
    for param in params:
        value = param.current()
        text = param.format(value)
        if value == param.default:
            if param.key in st.query_params:
                del st.query_params[param.key]
        elif st.query_params.get(param.key) != text:
            st.query_params[param.key] = text


# --- parsers shared by pages -------------------------------------------------------------


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


def choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError("not an option")
        return text

    return parse


def flag(text: str) -> bool:
    if text in ("1", "true", "on", "yes"):
        return True
    if text in ("0", "false", "off", "no"):
        return False
    raise ValueError("not a flag")


def format_flag(value: bool) -> str:
    return "1" if value else "0"
