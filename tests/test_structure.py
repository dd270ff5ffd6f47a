"""The rooms of the code: what may import what, one public surface, and sizes.

- ``pages/`` → ``ui/`` → ``cnnviz/``, never back up, and no import cycles inside a layer;
- no module imports another module's ``_private`` names (nor reads them as attributes);
- ``ui/`` and ``pages/`` use ``cnnviz`` through its one ``__all__`` and nothing else;
- every module of ``cnnviz/`` and ``ui/`` says what it exports (``__all__``);
- no module is named after a standard-library module;
- no library or ``ui`` module is over 800 lines, no page over 250;
- a page takes its key prefix from the catalogue, and no page spells another page's keys.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

import cnnviz
from ui import catalog

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = sorted((ROOT / "cnnviz").rglob("*.py"))
UI = sorted((ROOT / "ui").rglob("*.py"))
PAGES = sorted((ROOT / "pages").glob("*.py"))
APP = [ROOT / "app.py"]

#: cnnviz.__all__ before the reorganisation (issue 13): checks outside the tests call these.
CONTRACT = (
    "ImageError", "load_image", "ParameterError", "conv_macs", "conv_params", "dense_params",
    "explain_output_size", "output_shape", "output_size", "pool_output_shape", "same_padding",
    "PRESETS", "KernelError", "Preset", "format_kernel", "parse_kernel", "ConvParams",
    "ConvSteps", "PoolParams", "PoolSteps", "conv2d", "conv_steps", "global_avg_pool", "pool2d",
    "pool_steps", "conv_steps_gif", "pool_steps_gif", "MODELS", "ModelError", "ModelSpec",
    "load_model", "predict", "preprocess", "make_shapes", "shapes_heldout", "LayerError",
    "ReceptiveField", "conv_layers", "effective_receptive_field", "feature_maps", "layer_names",
    "layer_table", "model_totals", "receptive_field", "receptive_field_table",
    "unit_receptive_box", "ATTRIBUTIONS", "RECOMMENDED_LAYERS", "DeletionCurve", "Method",
    "PointingGame", "RandomisationCheck", "deletion_curve", "grad_cam", "guided_grad_cam",
    "integrated_gradients", "occlusion", "pointing_game", "randomisation_check", "saliency",
    "COLORMAPS", "overlay", "MaximiseConfig", "Synthesis", "TopPatches", "channel_peaks",
    "maximise_channel", "top_patches",
)


def _module(path: Path, root: Path = ROOT) -> str:
    """'cnnviz/network/hooks.py' -> 'cnnviz.network.hooks'; pages -> 'pages.convolution'."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imports(path: Path, root: Path = ROOT) -> list[tuple[str, list[str], int]]:
    """(module, imported names or [] for ``import x``, line) of every import in ``path``,
    relative imports resolved."""
    out = []
    here = _module(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            out += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                module = ".".join(base[:len(base) - node.level + 1] + ([module] if module else []))
            out.append((module, [a.name for a in node.names], node.lineno))
    return out


def _ours(module: str) -> bool:
    return module.split(".")[0] in ("cnnviz", "ui", "pages")


def _layer(module: str) -> int:
    return {"cnnviz": 0, "ui": 1, "pages": 2, "app": 3}[module.split(".")[0]]


# --- layering -------------------------------------------------------------------------------


def test_imports_only_go_down_the_layers():
    upward = []
    for path in LIBRARY + UI + PAGES + APP:
        here = _module(path)
        for module, _, line in _imports(path):
            if _ours(module) and _layer(module) > _layer(here):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
            if here.startswith("pages") and module.startswith("pages"):
                upward.append(f"{path.relative_to(ROOT)}:{line} imports another page")
    assert not upward, upward


def test_there_are_no_import_cycles():
    """Module-level imports among our modules form no cycle (imports inside functions, made
    to keep start-up cheap, are left out)."""
    graph: dict[str, set[str]] = {}
    known = {_module(p) for p in LIBRARY + UI}
    for path in LIBRARY + UI:
        edges = set()
        for node in _tree(path).body:
            if isinstance(node, ast.ImportFrom) and node.module and _ours(node.module):
                edges.add(node.module)
                edges |= {f"{node.module}.{a.name}" for a in node.names
                          if f"{node.module}.{a.name}" in known}
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if _ours(a.name)}
        graph[_module(path)] = {e for e in edges if e in known and e != _module(path)}
    seen, on_path, cycles = set(), [], []

    def visit(node: str) -> None:
        if node in on_path:
            cycles.append(on_path[on_path.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        on_path.append(node)
        for nxt in sorted(graph.get(node, ())):
            visit(nxt)
        on_path.pop()

    for start in sorted(graph):
        visit(start)
    assert not cycles, cycles


def test_a_subpackage_init_imports_nothing():
    """So that importing one room (``cnnviz.network.hooks``) does not import the others."""
    for path in LIBRARY + UI:
        if path.name == "__init__.py" and path.parent.name not in ("cnnviz", "ui"):
            assert not [n for n in _tree(path).body
                        if isinstance(n, (ast.Import, ast.ImportFrom))], path


# --- private names --------------------------------------------------------------------------


def _private_uses(path: Path, root: Path = ROOT) -> list[str]:
    """Where ``path`` imports another module's ``_private`` name, or reads one as an
    attribute of a module of ours (``state._encoded``)."""
    here = _module(path, root)
    found = []
    for module, names, line in _imports(path, root):
        if _ours(module) and module != here:
            found += [f"{line}: imports {module}.{n}" for n in names if n.startswith("_")]
    tree = _tree(path)
    modules: dict[str, str] = {}  # local name -> our module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and _ours(node.module):
            modules |= {a.asname or a.name: f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            modules |= {a.asname or a.name.split(".")[0]: a.name for a in node.names
                        if _ours(a.name)}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            found.append(f"{node.lineno}: reads {modules[node.value.id]}.{node.attr}")
    return found


def test_no_module_imports_another_modules_private_names():
    found = {str(p.relative_to(ROOT)): uses for p in LIBRARY + UI + PAGES + APP
             if (uses := _private_uses(p))}
    assert not found, found


def test_the_private_name_check_catches_both_ways_in(tmp_path):
    fake = tmp_path / "ui" / "x.py"
    fake.parent.mkdir()
    fake.write_text("from cnnviz.network.hooks import _TWINS, borrowed\nfrom ui import state\n"
                    "state._encoded\nstate.__doc__\n")
    assert _private_uses(fake, tmp_path) == ["1: imports cnnviz.network.hooks._TWINS",
                                             "3: reads ui.state._encoded"]


# --- the public surface --------------------------------------------------------------------


def test_the_contract_names_are_all_in_the_public_surface():
    assert set(CONTRACT) <= set(cnnviz.__all__)
    assert len(cnnviz.__all__) == len(set(cnnviz.__all__))
    for name in cnnviz.__all__:
        assert getattr(cnnviz, name, None) is not None, name


def test_ui_and_pages_use_the_library_through_its_public_surface():
    public = set(cnnviz.__all__)
    found = []
    for path in UI + PAGES + APP:
        tree = _tree(path)
        for module, names, line in _imports(path):
            where = f"{path.relative_to(ROOT)}:{line}"
            if module.startswith("cnnviz."):
                found.append(f"{where} imports {module}")
            elif module == "cnnviz":
                found += [f"{where} imports cnnviz.{n}" for n in names if n not in public]
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id == "cnnviz" and node.attr not in public):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} reads cnnviz.{node.attr}")
    assert not found, found


@pytest.mark.parametrize("path", LIBRARY + UI, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_exports(path):
    tree = _tree(path)
    if path.name == "__init__.py" and path.parent.name not in ("cnnviz",):
        return  # a package's docstring; its modules export
    if path.name == "__main__.py":
        return  # ``python -m cnnviz``: a script
    names = [t.id for node in tree.body if isinstance(node, ast.Assign)
             for t in node.targets if isinstance(t, ast.Name)]
    assert "__all__" in names, f"{path.relative_to(ROOT)} has no __all__"
    module = __import__(_module(path), fromlist=["__all__"])
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, missing


def test_no_module_is_named_after_a_standard_library_module():
    clashes = [str(p.relative_to(ROOT)) for p in LIBRARY + UI + PAGES
               if p.stem in sys.stdlib_module_names]
    assert not clashes, clashes


# --- sizes ----------------------------------------------------------------------------------


def test_modules_and_pages_stay_small():
    big = [f"{p.relative_to(ROOT)}: {n} lines" for p in LIBRARY + UI
           if (n := len(p.read_text().splitlines())) > 800]
    big += [f"{p.relative_to(ROOT)}: {n} lines" for p in PAGES
            if (n := len(p.read_text().splitlines())) > 250]
    assert not big, big


def test_every_figure_a_page_shows_has_a_text_alternative():
    """Each ``plotly_chart`` call passes ``alt=``: the chart's accessible name (role=figure),
    what a screen reader announces instead of the SVG."""
    missing = []
    for path in UI + PAGES + [ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "plotly_chart"
                    and "alt" not in {k.arg for k in node.keywords}):
                missing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not missing, missing


# --- pages and their keys -------------------------------------------------------------------

_PREFIX_LITERAL = re.compile(r"""["']([a-z_]+\.)[a-z_]""")


@pytest.mark.parametrize("info", catalog.all_pages(), ids=lambda p: p.url_path)
def test_a_page_takes_its_prefix_from_the_catalogue_and_spells_no_other_pages_keys(info):
    source = (ROOT / info.path).read_text()
    const = next(name for name in dir(catalog) if getattr(catalog, name) is info)
    if info is not catalog.HOME:  # Home has no widgets of its own
        assert f"PAGE = catalog.{const}" in source, info.path
    others = {p.prefix for p in catalog.all_pages() if p is not info}
    spelled = {m for m in _PREFIX_LITERAL.findall(source) if m in others}
    assert not spelled, f"{info.path} spells the keys of {spelled}"
    assert "ensure_app_navigation()" in source


def test_the_prefixes_are_distinct():
    prefixes = [p.prefix for p in catalog.all_pages()]
    assert len(set(prefixes)) == len(prefixes)
    assert all(not a.startswith(b) for a in prefixes for b in prefixes if a != b)
