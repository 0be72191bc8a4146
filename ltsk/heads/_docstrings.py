"""Parameter text shared by several heads, written once.

A head's docstring holds a line ``%(name)s`` (alone, indented like the other
entries of its Parameters section) where the shared entry of ``name`` goes;
:func:`fill_params` replaces it, with the default read from the head's
``__init__`` signature, so the documented default cannot drift from the code.
"""

import inspect
import re
import textwrap

SHARED_PARAMS = {
    "max_iter": """\
max_iter : int >= 1, default={default}
    Maximum number of L-BFGS iterations.""",
    "tol": """\
tol : float > 0, default={default}
    L-BFGS stops when the largest gradient component of the objective
    divided by its value at the start is below ``tol / n_classes`` (each
    class's parameters carry a ``1/n_classes`` share of a class-balanced
    loss, so the bound keeps its meaning as classes grow).""",
}

_PLACEHOLDER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$", re.M)


def fill_params(cls):
    """Class decorator: substitute the shared parameter entries in ``cls.__doc__``.

    Parameters
    ----------
    cls : type
        A class whose docstring holds ``%(name)s`` lines, ``name`` a key of
        :data:`SHARED_PARAMS` and a parameter of its ``__init__``.

    Returns
    -------
    cls : type
        The same class, its docstring filled in.
    """
    signature = inspect.signature(cls.__init__)

    def entry(match):
        name = match["name"]
        if name not in SHARED_PARAMS or name not in signature.parameters:
            raise KeyError(
                f"{cls.__name__}'s docstring asks for the shared entry of {name!r}, "
                "which is not both in SHARED_PARAMS and a parameter of __init__."
            )
        default = repr(signature.parameters[name].default)
        # 1e-06 -> 1e-6, as the defaults are written elsewhere in the docs.
        default = re.sub(r"e([+-])0+(\d)", r"e\1\2", default)
        text = SHARED_PARAMS[name].format(default=default)
        return textwrap.indent(text, match["indent"])

    cls.__doc__ = _PLACEHOLDER.sub(entry, cls.__doc__)
    return cls
