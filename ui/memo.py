"""A bounded, thread-safe cache for the playground pages' per-rerun look-ups.

``st.cache_resource`` costs about half a millisecond a call even on a hit: it reads the
function's signature once per argument and hashes each argument. A Convolution rerun
makes nine such calls, most of them hits. The functions here are keyed by one short
string that names everything their result depends on (the image's digest and the
settings), so a dict look-up does the same work.

Like ``st.cache_resource``, results are shared by every session and must not be changed
by callers (the arrays in them are read-only); entries expire after ``ttl`` seconds and
the oldest go first beyond ``max_entries``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import update_wrapper
from typing import Generic, TypeVar

R = TypeVar("R")


class Memo(Generic[R]):
    """``fn(key, *args)`` remembered by ``key`` alone."""

    def __init__(self, fn: Callable[..., R], max_entries: int, ttl: float):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._fn = fn
        self.max_entries = max_entries
        self.ttl = ttl
        self._entries: OrderedDict[str, tuple[float, R]] = OrderedDict()
        self._lock = threading.Lock()
        update_wrapper(self, fn)

    def __call__(self, key: str, *args, **kwargs) -> R:
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                self._entries.move_to_end(key)
                return hit[1]
        # Computed outside the lock: another session's look-up need not wait. Two sessions
        # asking for the same new key at once both compute it; the results are equal.
        value = self._fn(key, *args, **kwargs)
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
    """Decorator: cache ``fn(key: str, *args)`` by ``key``, at most ``max_entries`` results."""

    def wrap(fn: Callable[..., R]) -> Memo[R]:
        return Memo(fn, max_entries, ttl)

    return wrap
