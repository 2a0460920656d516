"""Sphinx configuration for the halfsib documentation.

Build (from the repository root, with the ``docs`` extra installed)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The pages are Markdown (myst-parser); the tutorials are the notebooks in ``examples/``,
executed during the build (myst-nb); the CLI and API references are generated from the
code by ``docs/_ext/halfsib_docs.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SRC = DOCS.parent / "src"

# Document (and run the notebooks against) this checkout, even where another copy of
# halfsib is installed; the notebook kernels inherit PYTHONPATH.
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(DOCS / "_ext"))
os.environ["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])

import halfsib  # noqa: E402

project = "halfsib"
author = "halfsib developers"
copyright = "2026, halfsib developers"
release = halfsib.__version__
version = release

extensions = [
    "myst_nb",  # Markdown pages (myst-parser) and executed notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "halfsib_docs",
]

root_doc = "index"
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb", ".rst": "restructuredtext"}
# search.md would collide with Sphinx's own search page (search.html): transit_search.md
# includes it instead, so link to transit_search.md from other pages.
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store", "search.md"]

# -- Markdown ----------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# -- notebooks (examples/*.ipynb, copied to docs/tutorials/ by halfsib_docs) ---
nb_execution_mode = "cache"  # re-run a notebook when its code changes; cache in the build dir
nb_execution_timeout = 600
nb_execution_raise_on_error = True
# the real-data tutorial needs the K2 files of ../shared/data (or $HALFSIB_DATA); without them
# its page is shown unexecuted, with the instructions to get them
_REAL_DATA = [Path(os.environ["HALFSIB_DATA"])] if os.environ.get("HALFSIB_DATA") else []
_REAL_DATA.append(Path(__file__).resolve().parents[2] / "shared" / "data")
if not any((place / "k2-c13" / "k2sff").is_dir() for place in _REAL_DATA):
    nb_execution_excludepatterns = ["tutorials/k2_136_real_files.ipynb"]
nb_execution_show_tb = True
nb_merge_streams = True

# -- API reference -----------------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_description_target = "documented_params"  # the numpydoc types come first
autodoc_default_options = {"exclude-members": "__init__, __new__"}
autosummary_generate = False  # the halfsib-api directive lists the exports itself
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True
napoleon_use_rtype = False

# -- HTML --------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"halfsib {release}"
html_theme_options = {
    "description": "Half-sibling regression for space photometry",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "230px",
}
html_static_path: list[str] = []
