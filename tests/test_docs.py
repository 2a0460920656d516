"""The documentation builds without warnings, and its generated pages cover the code.

The full build (``python -m sphinx -W --keep-going``) executes the tutorial notebooks, so it
is marked slow; it needs the ``docs`` extra (``pip install ".[docs]"``) and skips, saying
so, where Sphinx or myst-nb is not installed. The helpers of ``docs/_ext/halfsib_docs.py``
are tested quickly on their own.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
NO_DOCS_EXTRA = ("the docs extra is not installed (sphinx, myst-nb); "
                 "pip install '.[docs]' to build and test the documentation")


def _docs_extra_installed() -> bool:
    return all(importlib.util.find_spec(name) is not None for name in ("sphinx", "myst_nb", "ipykernel"))


@pytest.fixture(scope="module")
def ext():
    """The docs' Sphinx extension module (skips without Sphinx)."""
    if not _docs_extra_installed():
        pytest.skip(NO_DOCS_EXTRA)
    spec = importlib.util.spec_from_file_location("halfsib_docs", DOCS / "_ext" / "halfsib_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_finds_every_subcommand(ext):
    from halfsib.cli import SUBCOMMANDS, build_parser

    found = ext.subcommands(build_parser())
    assert [name for name, _, _ in found] == list(SUBCOMMANDS)
    assert all(line for _, line, _ in found), "every subcommand needs a one-line help"


def test_toctree_listing_reads_myst_blocks(ext):
    source = "# t\n\n```{toctree}\n:hidden:\n:caption: A\n\nio\nlikelihood.md\n```\n\ntext fit\n"
    assert ext.listed_in_toctrees(source) == {"io", "likelihood"}


def test_shared_attribute_entries_are_split(ext):
    lines = ["Attributes", "----------", "flux, flux_err : ndarray", "    Flux and error.",
             "good : ndarray of bool", "    Good.", "", "Parameters", "----------", "a, b : float", "    Kept."]
    ext.split_shared_attributes(None, "class", "x", None, None, lines)
    text = "\n".join(lines)
    assert "flux : ndarray\n    Flux and error." in text
    assert "flux_err : ndarray\n    Flux and error." in text
    assert "good : ndarray of bool\n    Good." in text
    assert "a, b : float" in text  # napoleon handles shared names in Parameters itself


def test_every_docs_page_is_reachable(ext):
    """Every top-level page is in index.md's toctrees or picked up by halfsib-more-pages."""
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    assert "{halfsib-more-pages}" in index
    listed = ext.listed_in_toctrees(index)
    pages = {p.stem for p in DOCS.glob("*.md")} - ext.NOT_CHAPTERS
    core = {"getting_started", "tutorials", "method", "cli", "api", "outputs"}
    assert core <= listed
    assert listed <= pages, f"index.md lists pages that do not exist: {sorted(listed - pages)}"


@pytest.mark.slow
def test_docs_build_without_warnings(tmp_path):
    if not _docs_extra_installed():
        pytest.skip(NO_DOCS_EXTRA)
    out = tmp_path / "html"
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"),
         str(DOCS), str(out)],
        capture_output=True, text=True, cwd=REPO, timeout=1200)
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0, "sphinx failed:\n" + "\n".join(warnings or proc.stderr.splitlines()[-40:])

    import halfsib
    from halfsib.cli import SUBCOMMANDS

    cli = (out / "cli.html").read_text(encoding="utf-8")
    for name in SUBCOMMANDS:
        assert f"usage: halfsib {name}" in cli, f"CLI reference lacks halfsib {name}"
    api = (out / "api.html").read_text(encoding="utf-8")
    for name, module in halfsib._EXPORTS.items():
        assert f'id="halfsib.{module}.{name}"' in api, f"API reference lacks halfsib.{name}"
    for notebook in sorted((REPO / "examples").glob("*.ipynb")):
        page = (out / "tutorials" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        assert "<img" in page, f"{notebook.name} shows no figure"
        assert "Traceback" not in page
