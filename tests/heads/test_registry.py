"""The head registry: what one entry in ``ltsk.heads.HEADS`` gives a head."""

from pathlib import Path

import pytest

import ltsk
import ltsk.heads
from ltsk.heads import HEADS
from ltsk.heads._base import BaseHead

API_PAGE = Path(__file__).parents[2] / "docs" / "api.rst"


def test_the_anchor_heads_are_registered():
    assert {"crt", "ncm", "tau_norm", "lws", "logit_adjust"} <= set(HEADS)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_registered_head_is_a_head(name):
    head = HEADS[name]
    assert issubclass(head, BaseHead)
    # Constructible with defaults: DecoupledClassifier(head=name) needs it.
    assert isinstance(head(), head)


@pytest.mark.parametrize("name", sorted(HEADS))
def test_registered_head_is_exported_and_documented(name):
    class_name = HEADS[name].__name__
    assert class_name in ltsk.heads.__all__
    assert class_name in ltsk.__all__
    assert getattr(ltsk, class_name) is HEADS[name]
    assert f"   {class_name}\n" in API_PAGE.read_text(encoding="utf-8"), (
        f"{class_name} is missing from the ltsk.heads section of docs/api.rst"
    )


def test_import_ltsk_stays_lazy(run_python):
    out = run_python("import sys, ltsk; ltsk.__all__; print('torch' in sys.modules)")
    assert out.strip() == "False"
