"""The layout rules of ``clvmodels/models`` (issue "One model, one place"), checked on the source.

* no import cycle between the modules of ``clvmodels/models``, counting imports inside
  functions (a function-level import must not be a way to hide a cycle);
* no module takes a private name (``_x``) from another model's module, by ``from m import
  _x`` or by ``m._x``;
* nothing dispatches on a model's name: no comparison with, or dict keyed by, a model's
  registry key, class name or display name, and no ``_model_type`` attribute.

The model modules are the ones the registry names (plus the covariate package's modules);
the shared modules are everything else under ``clvmodels/models``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from clvmodels.models.registry import model_specs

PACKAGE = Path(__file__).resolve().parents[1] / "clvmodels"
MODELS = PACKAGE / "models"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


SOURCES = {_module_name(p): p for p in sorted(MODELS.rglob("*.py"))}
TREES = {name: ast.parse(path.read_text(encoding="utf-8")) for name, path in SOURCES.items()}
# a model's module: where the registry points and where its class is defined (the covariate
# package's per-base-model modules); a package's shared helpers are not model modules
MODEL_MODULES = {spec.module for spec in model_specs()}
MODEL_MODULES |= {spec.model_class().__module__ for spec in model_specs()}
MODEL_NAMES = {n for spec in model_specs() for n in (spec.key, spec.class_name, spec.display_name,
                                                     *spec.legacy_names)}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    is_package = SOURCES[module].name == "__init__.py"
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str):
    """(imported module, names or None, line) for every import in ``module``, at any depth."""
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            names = [a.name for a in node.names]
            # "from clvmodels.models import bgnbd" imports the module clvmodels.models.bgnbd
            sub = [n for n in names if f"{target}.{n}" in SOURCES]
            for n in sub:
                yield f"{target}.{n}", None, node.lineno
            rest = [n for n in names if n not in sub]
            if rest:
                yield target, rest, node.lineno


def _graph() -> dict[str, set[str]]:
    graph = {m: set() for m in SOURCES}
    for module in SOURCES:
        for target, _, _ in _imports(module):
            if target in SOURCES and target != module:
                graph[module].add(target)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_checker_sees_the_model_modules():
    # guards against a checker that passes because it looks at nothing
    assert {"clvmodels.models.bgnbd", "clvmodels.models.paretonbd",
            "clvmodels.models.gamma_gamma"} <= MODEL_MODULES
    assert len(SOURCES) >= 15
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    # the package __init__ imports every model module, a cycle the checker must not invent
    # (nothing under models imports the package __init__ itself)
    assert "clvmodels.models" in SOURCES


def test_no_import_cycle_in_models_even_inside_functions():
    graph = _graph()
    graph.pop("clvmodels.models", None)  # the package namespace re-exports, nothing imports it
    for deps in graph.values():
        deps.discard("clvmodels.models")
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _private_uses(module: str):
    tree = TREES[module]
    aliases: dict[str, str] = {}  # local name -> model module it stands for
    for target, names, line in _imports(module):
        if target in MODEL_MODULES and target != module:
            if names is None:
                aliases[target.rsplit(".", 1)[-1]] = target
            else:
                for n in names:
                    if n.startswith("_"):
                        yield f"{module}:{line} imports {n} from {target}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODEL_MODULES and alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in MODEL_MODULES and full != module:
                    aliases[alias.asname or alias.name] = full
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in aliases and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            yield (f"{module}:{node.lineno} uses {node.value.id}.{node.attr} of "
                   f"{aliases[node.value.id]}")


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_private_name_from_another_models_module(module):
    found = list(_private_uses(module))
    assert not found, "\n".join(found)


def _dispatches(module: str):
    for node in ast.walk(TREES[module]):
        if isinstance(node, ast.Attribute) and node.attr == "_model_type":
            yield f"{module}:{node.lineno} reads _model_type"
        if isinstance(node, ast.Compare):
            for operand in [node.left, *node.comparators]:
                if isinstance(operand, ast.Constant) and operand.value in MODEL_NAMES:
                    yield f"{module}:{node.lineno} compares with the model name {operand.value!r}"
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in MODEL_NAMES:
                    yield f"{module}:{node.lineno} keys a dict by the model name {key.value!r}"


@pytest.mark.parametrize("module", sorted(m for m in SOURCES if m != "clvmodels.models.registry"))
def test_nothing_dispatches_on_a_model_name(module):
    found = list(_dispatches(module))
    assert not found, "\n".join(found)


def test_the_checks_catch_what_they_forbid():
    """Each rule fails on a small module that breaks it."""
    bad = ast.parse(
        "from clvmodels.models.bgnbd import _alive_purchases\n"
        "import clvmodels.models.paretonbd as p\n"
        "def f(model):\n"
        "    if model._model_type == 'BGNBD':\n"
        "        return p._prepare\n"
        "    return {'ParetoNBD': 1}\n"
    )
    SOURCES["clvmodels.models._probe"] = MODELS / "_probe.py"
    TREES["clvmodels.models._probe"] = bad
    try:
        assert len(list(_private_uses("clvmodels.models._probe"))) == 2
        assert len(list(_dispatches("clvmodels.models._probe"))) == 3
    finally:
        del SOURCES["clvmodels.models._probe"], TREES["clvmodels.models._probe"]
