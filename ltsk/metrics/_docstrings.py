"""Parameter text of the shot-group metrics and plots, written once.

A docstring holds a line ``%(key)s`` where the shared entry goes;
:func:`fill_shot_doc` replaces it (see :mod:`ltsk.utils._docstrings`), with the
default read from the signature.
"""

from ltsk.utils._docstrings import docstring_filler

SHARED_SHOT_DOC = {
    "many": """\
many : float, default={default}
    Classes with more than ``many`` training samples are many-shot.""",
    "few": """\
few : float, default={default}
    Classes with fewer than ``few`` training samples are few-shot.""",
    "n_bins": """\
n_bins : int, default={default}
    Number of equal-width confidence bins on [0, 1].""",
}

fill_shot_doc = docstring_filler(SHARED_SHOT_DOC)
