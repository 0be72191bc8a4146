"""Every public class and function has a numpydoc Examples section with doctests.

The public API is every name in ``ltsk.__all__`` and in the ``__all__`` of each
public subpackage or module of ``ltsk``. The doctests themselves run through
``--doctest-modules`` (see ``pyproject.toml``); this test makes sure they exist.
"""

import importlib
import inspect
import pkgutil
import re

import ltsk

_EXAMPLES = re.compile(
    r"^Examples\n-{8,}\n(?P<body>.*?)(?=^\S[^\n]*\n-{3,}\n|\Z)", re.M | re.S
)


def _public_modules():
    names = ["ltsk"]
    for info in pkgutil.iter_modules(ltsk.__path__, prefix="ltsk."):
        if not info.name.rsplit(".", 1)[1].startswith("_"):
            names.append(info.name)
    return names


def _public_objects():
    for module_name in _public_modules():
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            # constants such as __version__ or TAU_GRID have no docstring of
            # their own
            if inspect.isclass(obj) or inspect.isfunction(obj):
                yield f"{module_name}.{name}", obj


def _examples_section(obj):
    match = _EXAMPLES.search(inspect.getdoc(obj) or "")
    return match["body"] if match else None


def test_public_api_is_walked():
    modules = _public_modules()
    for expected in ("ltsk.heads", "ltsk.nets", "ltsk.losses", "ltsk.sampling"):
        assert expected in modules
    names = {name for name, _ in _public_objects()}
    assert "ltsk.DecoupledClassifier" in names
    assert "ltsk.heads.tau_path" in names
    assert "ltsk.sampling.progressive_sampling_probabilities" in names


def test_every_public_name_has_a_doctest_example():
    missing = sorted(
        name
        for name, obj in _public_objects()
        if ">>>" not in (_examples_section(obj) or "")
    )
    assert not missing, (
        "public names without an 'Examples' section holding a doctest: "
        + ", ".join(missing)
    )


def test_examples_section_parser():
    def documented():
        """Summary.

        Examples
        --------
        >>> 1 + 1
        2

        Notes
        -----
        Text.
        """

    def undocumented():
        """Summary.

        Notes
        -----
        >>> 1 + 1
        2
        """

    assert ">>> 1 + 1" in _examples_section(documented)
    assert "Text" not in _examples_section(documented)
    assert _examples_section(undocumented) is None
