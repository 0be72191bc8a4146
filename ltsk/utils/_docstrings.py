"""Docstring text shared by several heads, losses or functions, written once.

A docstring holds a line ``%(key)s`` (alone, indented like the other entries
of its section) where a shared entry goes; the decorator that
:func:`docstring_filler` returns replaces it by the entry's text, indented the
same. An entry's text starts with its ``name : type`` line; where it holds
``{default}``, the default is read from the signature (``__init__``'s for a
class, the function's own otherwise), so the documented default cannot drift
from the code. Keys may differ from the name, so that one parameter can have
several shared wordings (a function's argument and a module's buffer, say).
"""

import inspect
import re
import textwrap

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<key>\w+)\)s[ \t]*$", re.M)


def _format_default(value):
    if isinstance(value, str):
        return f'"{value}"'
    # 1e-06 -> 1e-6, as the defaults are written elsewhere in the docs.
    return re.sub(r"e([+-])0+(\d)", r"e\1\2", repr(value))


def docstring_filler(entries):
    """Make a decorator that substitutes the entries of ``entries``.

    Parameters
    ----------
    entries : dict of str to str
        Shared text by placeholder key. Each text starts with the entry's
        ``name : type`` line; a ``{default}`` in it is replaced by the default
        of parameter ``name``.

    Returns
    -------
    fill : callable
        Decorator of a class or function: it substitutes each ``%(key)s`` line
        of the docstring and returns the object. It raises ``KeyError`` naming
        the key when the key is not in ``entries``, or when its text asks for
        a default and ``name`` is not a parameter with a default.
    """

    def fill(obj):
        function = obj.__init__ if inspect.isclass(obj) else obj
        signature = inspect.signature(function)

        def entry(match):
            key = match["key"]
            if key not in entries:
                raise KeyError(
                    f"{obj.__name__}'s docstring asks for the shared entry {key!r}, "
                    "which is not written anywhere."
                )
            text = entries[key]
            if "{default}" in text:
                name = text.split(":", 1)[0].strip()
                parameter = signature.parameters.get(name)
                if parameter is None or parameter.default is inspect.Parameter.empty:
                    raise KeyError(
                        f"{obj.__name__}'s docstring asks for the shared entry "
                        f"{key!r}, whose default is that of {name!r}, which is not "
                        "a parameter with a default."
                    )
                text = text.replace("{default}", _format_default(parameter.default))
            return textwrap.indent(text, match["indent"])

        obj.__doc__ = _PLACEHOLDER.sub(entry, obj.__doc__)
        return obj

    return fill
