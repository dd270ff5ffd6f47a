"""The one cache for what a page computes: bounded, thread-safe, keyed by the arguments.

``@memo(max_entries=..., ttl=...)`` remembers ``fn(*args)`` by the arguments whose names do
not start with an underscore, as Streamlit's caches do; the underscore arguments (the pixels,
an input tensor, a session's model) travel along without being looked at. So the key names
what the result depends on (an image digest, a model name, the settings) in a few short
values, and a look-up is one tuple hash: ``st.cache_data`` and ``st.cache_resource`` read the
function's signature and hash (or pickle) every argument on every call, about half a
millisecond each, and a Convolution rerun makes nine look-ups.

Results are shared by every session, as with ``st.cache_resource``: callers must not change
them (arrays in them are made read-only where they are computed). Entries expire after
``ttl`` seconds and the oldest go first beyond ``max_entries``. ``st.cache_resource`` is kept
for models only (``ui.cache.models``).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import update_wrapper
from typing import Generic, TypeVar

__all__ = ["Memo", "memo"]

R = TypeVar("R")


class Memo(Generic[R]):
    """``fn(*args, **kwargs)`` remembered by its arguments without a leading underscore."""

    def __init__(self, fn: Callable[..., R], max_entries: int, ttl: float):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._fn = fn
        self.max_entries = max_entries
        self.ttl = ttl
        self._entries: OrderedDict[Hashable, tuple[float, R]] = OrderedDict()
        self._lock = threading.Lock()
        params = list(inspect.signature(fn).parameters.values())
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
            raise TypeError(f"{fn.__name__}: a memo needs named parameters, not *args/**kwargs")
        self._names = [p.name for p in params]
        self._keyed = [i for i, p in enumerate(params) if not p.name.startswith("_")]
        self._defaults = {p.name: p.default for p in params if p.default is not p.empty}
        update_wrapper(self, fn)

    def key(self, *args, **kwargs) -> tuple:
        """The cache key of a call: its non-underscore arguments, in the signature's order."""
        if not kwargs and len(args) == len(self._names):
            return tuple(args[i] for i in self._keyed)
        values = dict(zip(self._names, args, strict=False))
        values.update(kwargs)
        return tuple(values[self._names[i]] if self._names[i] in values
                     else self._defaults[self._names[i]] for i in self._keyed)

    def peek(self, *args, **kwargs) -> R | None:
        """The remembered result of this call, or None; nothing is computed."""
        key = self.key(*args, **kwargs)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < self.ttl:
                self._entries.move_to_end(key)
                return hit[1]
        return None

    def __call__(self, *args, **kwargs) -> R:
        key = self.key(*args, **kwargs)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._entries.move_to_end(key)
                return hit[1]
        # Computed outside the lock: another session's look-up need not wait. Two sessions
        # asking for the same new key at once both compute it; the results are equal.
        value = self._fn(*args, **kwargs)
        with self._lock:
            self._entries[key] = (now, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def memo(max_entries: int, ttl: float = 3600) -> Callable[[Callable[..., R]], Memo[R]]:
    """Decorator: remember ``fn``'s results by its non-underscore arguments, at most
    ``max_entries`` of them, each for ``ttl`` seconds."""

    def wrap(fn: Callable[..., R]) -> Memo[R]:
        return Memo(fn, max_entries, ttl)

    return wrap
