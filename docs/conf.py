"""Sphinx configuration of the ltsk documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html``; the gallery
examples in ``examples/`` are executed during the build.
"""

import os
import warnings

import ltsk

project = "ltsk"
author = "the ltsk developers"
copyright = "2026, the ltsk developers"
version = release = ltsk.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
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
# check fails the build. Checks left out are stylistic choices of this project:
# GL01/GL02 (where the summary starts), GL08 (undocumented private hooks),
# ES01 (extended summary), SA01/SA03/SA04 (See Also present, capitalised,
# described), RT02 (named return values are the convention used here), PR02
# (skorch's ``**kwargs`` routing); EX01 is covered by tests/test_docstrings.py
# for the public names and not required of methods.
numpydoc_validation_checks = {
    "all",
    "GL01",
    "GL02",
    "GL08",
    "ES01",
    "SA01",
    "SA03",
    "SA04",
    "RT02",
    "EX01",
    "PR02",
}
numpydoc_validation_exclude = {
    # Methods inherited from or overriding skorch/torch hooks; their contract
    # is skorch's and is documented there.
    r"\.forward$",
    r"\.initialize_\w+$",
    r"\.get_iterator$",
    r"\.get_dataset$",
    r"\.get_loss$",
    r"\.train_step_single$",
    r"\.check_data$",
}

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
