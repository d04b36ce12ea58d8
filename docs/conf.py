"""Sphinx configuration of the brainlearn documentation.

Build (from the repository root, after ``pip install -e ".[all,docs]"``)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

``-W`` turns warnings into errors (as CI runs it). The example gallery (``examples/``) is
executed by sphinx-gallery during the build; ``-D plot_gallery=0`` skips running it.
Nothing here needs the network at build time (no intersphinx).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import brainlearn

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))  # gallery_scraper.py, named in sphinx_gallery_conf

# -- project -----------------------------------------------------------------------------
project = "brainlearn"
author = "the brainlearn developers"
copyright = "2026, the brainlearn developers"
version = release = brainlearn.__version__

# -- extensions --------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "results/**", "**.ipynb_checkpoints", "auto_examples/*.py", "auto_examples/*.ipynb",
                    "auto_examples/*.zip", "auto_examples/*.json", "auto_examples/*.md5"]
templates_path = ["_templates"]
# reST replacement used by several pages
rst_epilog = """
.. |BL| replace:: brainlearn
"""

# -- API reference: autosummary over every module of the installed package ---------------
# api.rst lists the package ``brainlearn`` with ``:recursive:``, so a new module anywhere
# below it (brainlearn.rundir, brainlearn.models.eprop, ...) gets its page without edits.
autosummary_generate = True
autosummary_imported_members = False
autosummary_ignore_module_all = True
# members are listed by the module template (_templates/autosummary/module.rst) for modules,
# not for packages, whose __all__ re-exports what their modules already document
autodoc_default_options = {
    "show-inheritance": True, "member-order": "bysource",
    # scikit-learn adds these request setters to every estimator class; their docstrings
    # refer to scikit-learn's own glossary
    "exclude-members": "set_fit_request,set_partial_fit_request,set_score_request,"
                       "set_predict_request,set_predict_proba_request,"
                       "set_decision_function_request,set_transform_request",
}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_class_signature = "mixed"
autodoc_inherit_docstrings = True
# optional back ends that a documentation machine may lack are mocked, not imported
autodoc_mock_imports = ["brian2cuda"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
napoleon_preprocess_types = False
# numpydoc docstrings are written for readers of the source: unresolved references are not
# errors (no nitpicky mode), and reading sources does not need the network (no intersphinx)
nitpicky = False
suppress_warnings = [
    # dataclass fields and re-exported names are documented where they are defined
    "autosummary.import_cycle",
]

# -- MyST (the CHANGELOG is Markdown) --------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
suppress_warnings += ["myst.header", "myst.xref_missing"]


# -- example gallery ---------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("gallery_scraper.figure_objects", "matplotlib"),
    "download_all_examples": False,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "show_memory": False,
    "min_reported_time": 0,
    "capture_repr": ("_repr_html_", "__repr__"),
    "image_srcset": [],
    "plot_gallery": os.environ.get("BRAINLEARN_DOCS_GALLERY", "True"),
}

# -- HTML --------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"brainlearn {release}"
html_static_path = []
html_show_sourcelink = False



def _templater_dunders_are_attributes() -> None:
    """Brian2's ``Templater`` (the ``templater`` class attribute of
    ``brainlearn.cppcode.FastCodeObject``) looks every attribute up as a template and raises a
    non-AttributeError for ``__qualname__``, which autodoc's and napoleon's member filters read
    through ``getattr(obj, name, default)``: dunder lookups raise AttributeError instead."""
    from brian2.codegen.templates import Templater

    lookup = Templater.__getattr__

    def __getattr__(self, item):
        if item.startswith("__"):
            raise AttributeError(item)
        return lookup(self, item)

    Templater.__getattr__ = __getattr__


_templater_dunders_are_attributes()
