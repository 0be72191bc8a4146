"""Shared docstring text: written once, substituted with the signature's default."""

import inspect

import pytest

# tests/ is on sys.path (next to its conftest.py)
from test_docstrings import _own_members, _public_objects

from ltsk.heads import HEADS
from ltsk.heads._docstrings import SHARED_PARAMS, fill_params
from ltsk.losses._docstrings import SHARED_LOSS_DOC, fill_loss_doc
from ltsk.metrics._docstrings import SHARED_SHOT_DOC
from ltsk.utils._docstrings import docstring_filler


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


def test_a_function_gets_its_own_default_and_braces_are_kept():
    @fill_loss_doc
    def loss(logits, targets, *, reduction="sum"):
        """A loss.

        Parameters
        ----------
        %(logits)s
        %(reduction)s

        Returns
        -------
        %(loss)s
        """

    doc = inspect.cleandoc(loss.__doc__)
    assert (
        'reduction : {"mean", "sum", "none"}, default="sum"\n'
        "    How the per-sample losses are reduced.\n"
    ) in doc
    assert "logits : Tensor of shape (n_samples, n_classes)\n" in doc
    assert 'A scalar, or of shape (n_samples,) for ``reduction="none"``.' in doc


def test_entries_without_a_default_need_no_parameter():
    fill = docstring_filler({"x_": "x_ : int\n    Fitted."})

    class Estimator:
        """Attributes.

        %(x_)s
        """

    assert fill(Estimator).__doc__.splitlines()[2:4] == [
        "        x_ : int",
        "            Fitted.",
    ]


@pytest.mark.parametrize("name", ["gamma", "tol"])
def test_fill_params_refuses_an_unknown_or_foreign_entry(name):
    class Head:
        __doc__ = f"A head.\n\n    %({name})s\n"

        def __init__(self, gamma=0.0):
            pass

    with pytest.raises(KeyError, match=name):
        fill_params(Head)


def test_a_default_is_refused_for_a_parameter_without_one():
    def loss(logits, targets, reduction):
        """A loss.

        %(reduction)s
        """

    with pytest.raises(KeyError, match="reduction"):
        fill_loss_doc(loss)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_no_head_keeps_a_placeholder(name):
    assert "%(" not in HEADS[name].__doc__
    assert set(SHARED_PARAMS) >= {"max_iter", "tol", "classes_", "n_features_in_"}


def _public_docstrings():
    for dotted, obj in _public_objects().items():
        yield dotted, obj.__doc__
        if inspect.isclass(obj):
            for name in set(_own_members(obj)):
                yield f"{dotted}.{name}", getattr(obj, name).__doc__


def test_no_public_docstring_keeps_a_placeholder():
    docs = dict(_public_docstrings())
    assert "ltsk.losses._ldam.LDAMLoss" in docs
    assert not [name for name, doc in docs.items() if doc and "%(" in doc]


@pytest.mark.parametrize(
    "entries, key",
    [(SHARED_LOSS_DOC, key) for key in sorted(SHARED_LOSS_DOC)]
    + [(SHARED_SHOT_DOC, key) for key in sorted(SHARED_SHOT_DOC)],
)
def test_every_shared_entry_is_used(entries, key):
    # the name and type, up to the default, which each signature gives
    first, second = entries[key].splitlines()[:2]
    first = first.split("{default}")[0]
    docs = [doc for _, doc in _public_docstrings() if doc]
    assert any(first in doc and second in doc for doc in docs)
