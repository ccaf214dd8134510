"""Sphinx configuration of the clvmodels documentation.

Build (offline, warnings as errors), from the checkout:

    .venv/bin/python -m sphinx -W --keep-going -b html docs docs/_build/html

The notebooks of ``notebooks/`` are copied into ``docs/gallery/`` and executed by MyST-NB
(``CLVMODELS_DOCS_EXECUTE=0`` renders them without running, as the test suite's build does:
the suite executes them itself).
"""

import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

import clvmodels  # noqa: E402

project = "clvmodels"
author = "the clvmodels developers"
copyright = "2026, the clvmodels developers"  # noqa: A001
release = version = clvmodels.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "generated/README.md"]
templates_path = ["_templates"]

# the API reference: one page per public name, from its numpydoc docstring
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()  # docstrings are checked by the test suite instead
add_module_names = False

# Markdown: heading anchors for links within and across pages; $...$ maths
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath", "colon_fence"]
suppress_warnings = ["myst.header"]  # pages start at a level-2 heading after a level-1 one

# the notebooks as a gallery: copied in at build time (not kept twice in the repository)
GALLERY = os.path.join(HERE, "gallery")
os.makedirs(GALLERY, exist_ok=True)
for name in sorted(os.listdir(os.path.join(ROOT, "notebooks"))):
    if name.endswith(".ipynb"):
        shutil.copyfile(os.path.join(ROOT, "notebooks", name), os.path.join(GALLERY, name))
EXECUTE = os.environ.get("CLVMODELS_DOCS_EXECUTE", "1") != "0"
nb_execution_mode = "force" if EXECUTE else "off"
nb_execution_timeout = 900
nb_execution_raise_on_error = True
nb_execution_in_temp = True

html_theme = "pydata_sphinx_theme"
html_title = f"clvmodels {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
}
