"""ui.cache.memo: look-ups keyed by the arguments without a leading underscore are bounded,
expire, and are shared."""

from __future__ import annotations

import threading
import time

import pytest

from ui.cache.memo import memo


def test_a_key_is_computed_once_and_the_oldest_go_first():
    calls = []

    @memo(max_entries=2)
    def square(x: int) -> int:
        calls.append(x)
        return x * x

    assert square(3) == 9 and square(3) == 9 and square(x=3) == 9
    assert calls == [3]
    square(4)
    square(3)  # 3 is now the newest
    square(5)  # 4, the oldest, goes
    assert len(square) == 2
    square(3)
    assert calls == [3, 4, 5]
    square(4)
    assert calls == [3, 4, 5, 4]


def test_the_key_alone_decides():
    @memo(max_entries=4)
    def echo(key: str, _value: object) -> object:
        return _value

    assert echo("k", 1) == 1
    assert echo("k", 2) == 1  # the keyed arguments must name everything the result depends on
    assert echo("k", _value=3) == 1 and echo.key("k", 3) == ("k",)
    assert echo("j", 2) == 2


def test_keyword_arguments_and_defaults_give_the_same_key():
    @memo(max_entries=4)
    def scaled(name: str, factor: int = 2, _x: object = None) -> tuple[str, int]:
        return name, factor

    assert scaled.key("a") == scaled.key("a", 2) == scaled.key(name="a", factor=2) == ("a", 2)
    assert scaled("a") is scaled("a", 2, None) is scaled(factor=2, name="a")
    assert scaled.peek("b") is None  # peek computes nothing
    assert scaled.peek("a") == ("a", 2)


def test_a_memo_needs_named_parameters():
    with pytest.raises(TypeError):
        memo(max_entries=1)(lambda *args: args)


def test_entries_expire_after_ttl():
    calls = []

    @memo(max_entries=4, ttl=0.05)
    def now(key: str) -> float:
        calls.append(key)
        return time.monotonic()

    first = now("t")
    assert now("t") == first and now.peek("t") == first
    time.sleep(0.08)
    assert now.peek("t") is None  # expired
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
    def work(key: str, _n: int) -> tuple[str, int]:
        time.sleep(0.001)
        return key, _n * 2

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
