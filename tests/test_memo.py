"""ui.memo: the playground's look-ups by text key are bounded, expire, and are shared."""

from __future__ import annotations

import threading
import time

import pytest

from ui.memo import memo


def test_a_key_is_computed_once_and_the_oldest_go_first():
    calls = []

    @memo(max_entries=2)
    def square(key: str, x: int) -> int:
        calls.append(key)
        return x * x

    assert square("a", 3) == 9 and square("a", 3) == 9
    assert calls == ["a"]
    square("b", 4)
    square("a", 3)  # a is now the newest
    square("c", 5)  # b, the oldest, goes
    assert len(square) == 2
    square("a", 3)
    assert calls == ["a", "b", "c"]
    square("b", 4)
    assert calls == ["a", "b", "c", "b"]


def test_the_key_alone_decides():
    @memo(max_entries=4)
    def echo(key: str, value: object) -> object:
        return value

    assert echo("k", 1) == 1
    assert echo("k", 2) == 1  # the caller's key must name everything the result depends on


def test_entries_expire_after_ttl():
    calls = []

    @memo(max_entries=4, ttl=0.05)
    def now(key: str) -> float:
        calls.append(key)
        return time.monotonic()

    first = now("t")
    assert now("t") == first
    time.sleep(0.08)
    assert now("t") > first and len(calls) == 2


def test_clear_and_a_bound_is_required():
    @memo(max_entries=1)
    def one(key: str) -> str:
        return key

    one("x")
    one.clear()
    assert len(one) == 0
    with pytest.raises(ValueError):
        memo(max_entries=0)(one)


def test_many_threads_get_consistent_results_and_the_bound_holds():
    @memo(max_entries=8)
    def work(key: str, n: int) -> tuple[str, int]:
        time.sleep(0.001)
        return key, n * 2

    errors = []

    def run(t: int) -> None:
        for i in range(200):
            key = f"k{(t * 7 + i) % 20}"
            result = work(key, int(key[1:]))
            if result != (key, int(key[1:]) * 2):
                errors.append(result)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and len(work) <= 8
