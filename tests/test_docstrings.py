"""numpydoc validation of the public API, with the checks of pyproject.toml.

The public API is every name in ``ltsk.__all__`` and in the ``__all__`` of each
public subpackage or module of ``ltsk``, plus the methods and properties those
classes define themselves. Each is validated by ``numpydoc.validate`` with the
checks in ``[tool.numpydoc_validation]`` (the same the Sphinx build applies);
every public class and function also needs an Examples section holding a
doctest, which ``--doctest-modules`` runs (see ``pyproject.toml``).
"""

import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest
from numpydoc.docscrape import NumpyDocString
from numpydoc.validate import get_validation_checks, validate

import ltsk

_CONFIG = tomllib.loads(
    (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
)["tool"]["numpydoc_validation"]
CHECKS = get_validation_checks(set(_CONFIG["checks"]))
EXCLUDE = re.compile("|".join(_CONFIG["exclude"]))


def _public_modules():
    names = ["ltsk"]
    for info in pkgutil.iter_modules(ltsk.__path__, prefix="ltsk."):
        if not info.name.rsplit(".", 1)[1].startswith("_"):
            names.append(info.name)
    return names


def _public_objects():
    """``{dotted name: object}`` of the public classes and functions."""
    objects = {}
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            # constants such as __version__ or HEADS have no docstring of
            # their own
            if inspect.isclass(obj) or inspect.isfunction(obj):
                objects.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return objects


def _own_members(cls):
    """Public methods and properties that ``cls`` or an ltsk base defines."""
    for klass in cls.__mro__:
        if not klass.__module__.startswith("ltsk"):
            continue
        for name, member in vars(klass).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(member) or isinstance(member, property):
                yield name


def _documented_names():
    names = []
    for dotted, obj in _public_objects().items():
        names.append(dotted)
        if inspect.isclass(obj):
            names.extend(f"{dotted}.{name}" for name in sorted(set(_own_members(obj))))
    return [name for name in names if not EXCLUDE.search(name)]


def test_public_api_is_walked():
    modules = _public_modules()
    for expected in ("ltsk.heads", "ltsk.nets", "ltsk.losses", "ltsk.sampling"):
        assert expected in modules
    names = set(_documented_names())
    assert "ltsk.decoupled.DecoupledClassifier" in names
    assert "ltsk.decoupled.DecoupledClassifier.fit" in names
    assert "ltsk.heads._tau_path.tau_path" in names
    # inherited from an ltsk base class, so validated under the subclass too
    assert "ltsk.heads._crt.CRTHead.predict_proba" in names
    # skorch hooks are excluded by pyproject.toml
    assert not any(name.endswith(".get_loss") for name in names)


@pytest.mark.parametrize("name", _documented_names())
def test_docstring_is_valid_numpydoc(name):
    errors = [
        f"{code}: {message}"
        for code, message in validate(name)["errors"]
        if code in CHECKS
    ]
    assert not errors, f"{name}:\n" + "\n".join(errors)


@pytest.mark.parametrize("name", sorted(_public_objects()))
def test_every_public_name_has_a_doctest_example(name):
    examples = NumpyDocString(inspect.getdoc(_public_objects()[name]))["Examples"]
    assert any(line.lstrip().startswith(">>>") for line in examples), (
        f"{name} has no Examples section holding a doctest"
    )
