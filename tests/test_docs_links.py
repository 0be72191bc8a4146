"""The user guide and the API reference link to each other; math works offline."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
API = (DOCS / "api.rst").read_text(encoding="utf-8")
API_LABELS = set(re.findall(r"^\.\. _(api_\w+):$", API, flags=re.MULTILINE))
GUIDE_PAGES = sorted(
    p for p in (DOCS / "user_guide").glob("*.rst") if p.name != "index.rst"
)


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=lambda p: p.stem)
def test_each_guide_page_links_to_its_api_section(page):
    text = page.read_text(encoding="utf-8")
    refs = re.findall(r":ref:`(api_\w+)`", text.split("\n\n", 3)[2])
    assert refs, f"{page.name} has no 'API reference: :ref:`api_...`' line on top"
    assert set(refs) <= API_LABELS


def test_each_api_section_links_back_to_the_guide():
    sections = re.split(r"^\.\. _api_\w+:$", API, flags=re.MULTILINE)[1:]
    assert len(sections) == len(API_LABELS) >= 9
    guide_labels = {
        re.match(r"\.\. _(\w+):", p.read_text(encoding="utf-8")).group(1)
        for p in GUIDE_PAGES
    }
    for section in sections:
        line = next(li for li in section.splitlines() if li.startswith("User guide:"))
        for label in re.findall(r":ref:`(\w+)`", line):
            assert label in guide_labels


def test_object_pages_link_to_guide_and_section():
    for name in ("class.rst", "function.rst"):
        template = (DOCS / "_templates" / "autosummary" / name).read_text()
        assert "User guide: :ref:`{{ guides[module] }}`" in template
        for label in re.findall(r'"(api_\w+)"', template):
            assert label in API_LABELS


def test_math_is_rendered_from_a_local_copy():
    conf = (DOCS / "conf.py").read_text(encoding="utf-8")
    assert '"sphinx-mathjax-offline"' in conf
    assert "mathjax_path" not in conf  # no CDN override
