"""Sphinx configuration of the ltsk documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``; the gallery
examples in ``examples/`` are executed during the build.
"""

import os
import tomllib
import warnings
from pathlib import Path

import ltsk

project = "ltsk"
author = "the ltsk developers"
copyright = "2026, the ltsk developers"
version = release = ltsk.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax copied into _static: equations render from disk with no network
    "sphinx-mathjax-offline",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]

# -- autodoc / autosummary -------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": False, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
add_module_names = False

# -- numpydoc ----------------------------------------------------------------
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False
# Validate every docstring pulled into the API reference; with ``-W`` a failed
# check fails the build. The checks are kept in pyproject.toml, which
# tests/test_docstrings.py reads too.
_numpydoc = tomllib.loads(
    (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")
)["tool"]["numpydoc_validation"]
numpydoc_validation_checks = set(_numpydoc["checks"])
numpydoc_validation_exclude = set(_numpydoc["exclude"])

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("ltsk",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"ltsk": None},
    "remove_config_comments": True,
    "show_memory": False,
    "plot_gallery": "True",
}
# The examples' networks are tiny: one intra-op torch thread is faster than
# several, and far faster on a busy machine.
os.environ.setdefault("OMP_NUM_THREADS", "1")
try:
    import torch
except ImportError:  # the API pages still build; the examples need torch
    pass
else:
    torch.set_num_threads(1)
warnings.filterwarnings("ignore", message="Matplotlib is currently using agg")

# -- myst (the Markdown pages benchmarks.md and scale-out.md) ----------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"ltsk {version}"
html_theme_options = {
    "navigation_depth": 2,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path = []
html_show_sourcelink = False
