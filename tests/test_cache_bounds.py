"""Every cache of the app is bounded, and there is one mechanism for them: many sessions over
hours must not grow the server's memory without limit (issue 8: RSS back within 10% once the
sessions close).

A cache is bounded when its decorator passes ``max_entries``, directly or through a
module-level dict such as ``CACHE = dict(max_entries=64, ttl=3600)``. Per-rerun results go
through ``ui.cache.memo``; ``st.cache_resource`` keeps models, in ``ui.cache.models`` only,
and ``st.cache_data`` is not used at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([ROOT / "app.py", *(ROOT / "ui").rglob("*.py"), *(ROOT / "pages").glob("*.py")])
MODEL_CACHE = ROOT / "ui" / "cache" / "models.py"


def _dict_constants(tree: ast.Module) -> dict[str, set[str]]:
    """Module-level ``NAME = dict(a=..., b=...)`` or ``NAME = {"a": ...}``: name -> keys."""
    found: dict[str, set[str]] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        value = node.value
        if isinstance(value, ast.Call) and getattr(value.func, "id", None) == "dict":
            found[node.targets[0].id] = {k.arg for k in value.keywords if k.arg}
        elif isinstance(value, ast.Dict):
            found[node.targets[0].id] = {k.value for k in value.keys
                                         if isinstance(k, ast.Constant)}
    return found


def _caches(path: Path) -> list[tuple[str, int, set[str]]]:
    """(function, line, keyword names) of every ``@st.cache_data(...)``,
    ``@st.cache_resource(...)`` and ``@memo(...)`` (ui.cache.memo) in ``path``; a bare
    decorator has no keywords. The keyword names include "@cache_data" or "@cache_resource"
    for Streamlit's decorators."""
    tree = ast.parse(path.read_text(), filename=str(path))
    constants = _dict_constants(tree)
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for deco in node.decorator_list:
            call = deco if isinstance(deco, ast.Call) else None
            target = call.func if call else deco
            if not ((isinstance(target, ast.Attribute)
                     and target.attr in ("cache_data", "cache_resource"))
                    or (isinstance(target, ast.Name) and target.id == "memo")):
                continue
            keys: set[str] = {f"@{target.attr}"} if isinstance(target, ast.Attribute) else set()
            for kw in call.keywords if call else []:
                if kw.arg:
                    keys.add(kw.arg)
                elif isinstance(kw.value, ast.Name):  # **CACHE
                    keys |= constants.get(kw.value.id, set())
            out.append((node.name, node.lineno, keys))
    return out


def test_the_scan_finds_the_caches():
    names = {name for path in SOURCES for name, _, _ in _caches(path)}
    assert {"_conv_steps", "_conv_output", "_named_picture", "class_pass", "totals",
            "_lesson_model", "_encoded", "mnist_inputs"} <= names


def test_one_mechanism_memo_and_cache_resource_for_models_only():
    found = {(path, name, "@cache_data" in keys, "@cache_resource" in keys)
             for path in SOURCES for name, _, keys in _caches(path)}
    assert not [(p.name, n) for p, n, data, _ in found if data], "st.cache_data is not used"
    resources = {(p, n) for p, n, _, resource in found if resource}
    assert resources == {(MODEL_CACHE, "_lesson_model")}, resources


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cache_has_max_entries(path):
    unbounded = [f"{name} (line {line})" for name, line, keys in _caches(path)
                 if "max_entries" not in keys]
    assert unbounded == [], f"{path.name}: add max_entries to {', '.join(unbounded)}"


def test_an_unbounded_cache_is_caught(tmp_path):
    source = tmp_path / "page.py"
    source.write_text(
        "import streamlit as st\n"
        "BOUNDED = dict(max_entries=8, ttl=60)\n"
        "OPEN = dict(ttl=60)\n"
        "@st.cache_data\ndef a(): ...\n"
        "@st.cache_resource(show_spinner=False)\ndef b(): ...\n"
        "@st.cache_data(**OPEN)\ndef c(): ...\n"
        "@st.cache_data(**BOUNDED)\ndef d(): ...\n"
        "@st.cache_resource(max_entries=1)\ndef e(): ...\n")
    assert [name for name, _, keys in _caches(source) if "max_entries" not in keys] == \
        ["a", "b", "c"]
