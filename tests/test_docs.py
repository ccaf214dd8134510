"""The documentation site builds offline with no warning (Sphinx, -W), every public name is in
its API reference, and the README's links lead to files that exist."""

import importlib
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCUMENTED = ["clvmodels", "clvmodels.models", "clvmodels.models.protocols", "clvmodels.heuristics", "clvmodels.baselines",
              "clvmodels.metrics", "clvmodels.plotting", "clvmodels.dask_engine",
              "clvmodels.testing", "clvmodels.compat.lifetimes",
              "clvmodels.compat.lifetimes.utils", "clvmodels.compat.lifetimes.plotting",
              "clvmodels.compat.lifetimes.datasets"]
SUBMODULES = {"baselines", "heuristics", "plotting", "utils", "datasets"}  # listed as modules


def test_every_public_name_is_in_the_api_reference():
    with open(os.path.join(ROOT, "docs", "api", "index.md"), encoding="utf-8") as handle:
        listed = set(re.findall(r"^   (\w+)$", handle.read(), flags=re.M))
    missing = [f"{m}.{name}" for m in DOCUMENTED
               for name in importlib.import_module(m).__all__
               if name not in SUBMODULES and name not in listed]
    assert missing == []


def test_the_readme_links_to_files_that_exist():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", handle.read())
    assert links
    missing = [link for link in links if not os.path.exists(os.path.join(ROOT, link))]
    assert missing == []


@pytest.mark.slow
def test_the_site_builds_with_no_warning(tmp_path):
    """The build of the README's command, with the notebooks rendered but not executed (the
    suite executes them in test_notebooks.py): a warning (a broken link, a page in no table of
    contents, a docstring that does not parse) fails it."""
    env = {**os.environ, "CLVMODELS_DOCS_EXECUTE": "0"}
    out = subprocess.run([sys.executable, "-m", "sphinx", "-E", "-W", "--keep-going", "-q",
                          "-b", "html", "-d", str(tmp_path / "doctrees"),
                          os.path.join(ROOT, "docs"), str(tmp_path / "html")],
                         capture_output=True, text=True, env=env, timeout=900)
    assert out.returncode == 0, out.stderr[-5000:]
    for page in ("index", "getting-started", "migrating-from-lifetimes", "api/index",
                 "api/generated/clvmodels.BetaGeo", "gallery/01_quickstart"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page
