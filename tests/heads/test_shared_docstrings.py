"""Shared parameter text: written once, substituted with the signature's default."""

import pytest

from ltsk.heads import HEADS
from ltsk.heads._docstrings import SHARED_PARAMS, fill_params


def test_fill_params_takes_the_default_from_the_signature():
    @fill_params
    class Head:
        """A head.

        Parameters
        ----------
        %(max_iter)s
        %(tol)s
        """

        def __init__(self, max_iter=7, tol=1e-05):
            pass

    assert "    max_iter : int >= 1, default=7\n" in Head.__doc__
    assert "    tol : float > 0, default=1e-5\n" in Head.__doc__
    assert "        Maximum number of L-BFGS iterations." in Head.__doc__
    assert "%(" not in Head.__doc__


@pytest.mark.parametrize("name", ["gamma", "tol"])
def test_fill_params_refuses_an_unknown_or_foreign_entry(name):
    class Head:
        __doc__ = f"A head.\n\n    %({name})s\n"

        def __init__(self, gamma=0.0):
            pass

    with pytest.raises(KeyError, match=name):
        fill_params(Head)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_no_head_keeps_a_placeholder(name):
    assert "%(" not in HEADS[name].__doc__
    assert set(SHARED_PARAMS) >= {"max_iter", "tol"}
