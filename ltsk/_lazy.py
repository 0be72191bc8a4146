"""Module attributes imported on first use (PEP 562)."""

import importlib
import sys


def lazy_attributes(module_name, sources):
    """Build a module's ``__getattr__`` and ``__dir__`` for lazily imported names.

    Parameters
    ----------
    module_name : str
        The module whose attributes these are (its ``__name__``).
    sources : dict or callable
        ``{attribute name: module that defines it}``, or a function returning
        such a mapping (computed on first use).

    Returns
    -------
    getattr_ : callable
        The module's ``__getattr__``: imports the defining module, caches the
        value in the module's namespace and returns it.
    dir_ : callable
        The module's ``__dir__``, listing the lazy names too.
    """

    def mapping():
        return sources() if callable(sources) else sources

    def getattr_(name):
        source = mapping().get(name)
        if source is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[module_name], name, value)
        return value

    def dir_():
        return sorted(set(vars(sys.modules[module_name])) | set(mapping()))

    return getattr_, dir_
