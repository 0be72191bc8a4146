"""No import cycle between ltsk's modules, counting the imports made inside
functions too: two modules that import each other lazily are still a cycle.
"""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import ltsk

ROOT = Path(ltsk.__file__).resolve().parent


def _module_name(path):
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported_names(tree, module, is_package, modules):
    """Absolute names of the modules imported anywhere in ``tree``.

    ``from package import name`` imports ``package.name`` when that is one of
    ``modules``, else ``package`` itself; the parent packages that Python
    initialises on the way to a submodule are not counted. A string constant
    that names a module counts as an import of it: the lazy ``__getattr__`` of
    a package imports its submodules by name.
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                name = f"{base}.{alias.name}"
                yield name if name in modules else base
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.value


def import_graph():
    """``{module: ltsk modules it imports}`` over every module of ``ltsk/``."""
    paths = {_module_name(path): path for path in ROOT.rglob("*.py")}
    graph = {}
    for module, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_package = path.name == "__init__.py"
        names = set(_imported_names(tree, module, is_package, paths))
        graph[module] = {name for name in names if name in paths} - {module}
    return graph


def test_the_graph_sees_module_level_lazy_and_relative_imports():
    graph = import_graph()
    assert "ltsk.heads._base" in graph["ltsk.heads._crt"]
    # imported inside main(), after the arguments are parsed
    assert "ltsk.benchmark._report" in graph["ltsk.benchmark._cli"]
    # named in ltsk/__init__.py's table of lazily imported names
    assert "ltsk.decoupled" in graph["ltsk"]
    tree = ast.parse("from . import _b\nfrom ..c import d")
    names = set(_imported_names(tree, "ltsk.a.x", False, {"ltsk.a._b"}))
    assert {"ltsk.a._b", "ltsk.c"} <= names


def test_no_import_cycle_in_ltsk():
    try:
        TopologicalSorter(import_graph()).prepare()
    except CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(reversed(exc.args[1]))}")
