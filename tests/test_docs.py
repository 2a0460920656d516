"""The documentation builds without warnings, and its generated pages cover the code.

The full build (``python -m sphinx -W --keep-going``) executes the tutorial notebooks, so it
is marked slow; a quick build without executing them (Sphinx's ``dummy`` builder) checks
every page and every exported docstring in the default run. Both need the ``docs`` extra
(``pip install ".[docs]"``) and skip, saying so, where Sphinx or myst-nb is not installed.
The helpers of ``docs/_ext/halfsib_docs.py`` are tested on their own.
"""

from __future__ import annotations

import importlib.util
import re
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


def test_every_example_notebook_is_a_tutorial(ext):
    """Each ``examples/*.ipynb`` is listed in tutorials.md's toctree (in reading order), and nothing else is."""
    notebooks = {f"tutorials/{p.stem}" for p in (REPO / "examples").glob("*.ipynb")}
    listed = ext.listed_in_toctrees((DOCS / "tutorials.md").read_text(encoding="utf-8"))
    assert notebooks, "examples/ has no notebooks"
    assert listed == notebooks, (f"not in tutorials.md: {sorted(notebooks - listed)}; "
                                 f"listed without a notebook in examples/: {sorted(listed - notebooks)}")


def test_docs_sources_and_docstrings_without_warnings(tmp_path):
    """Every page and every exported docstring parses cleanly (notebooks not executed; ~15 s)."""
    if not _docs_extra_installed():
        pytest.skip(NO_DOCS_EXTRA)
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "dummy", "-D", "nb_execution_mode=off",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "out")],
        capture_output=True, text=True, cwd=REPO, timeout=600)
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0, "sphinx reported:\n" + "\n".join(warnings or proc.stderr.splitlines()[-40:])


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
    real_data = (REPO.parent / "shared" / "data" / "k2-c13" / "k2sff").is_dir()
    for notebook in sorted((REPO / "examples").glob("*.ipynb")):
        page = (out / "tutorials" / f"{notebook.stem}.html").read_text(encoding="utf-8")
        executed = real_data or notebook.stem != "k2_136_real_files"  # shown unexecuted without the files
        assert "<img" in page or not executed, f"{notebook.name} shows no figure"
        assert "Traceback" not in page


#: FITS keywords that describe the file's structure, not halfsib's content
STRUCTURAL = re.compile(r"^(SIMPLE|BITPIX|NAXIS\d*|EXTEND|XTENSION|PCOUNT|GCOUNT|TFIELDS|EXTNAME|"
                        r"T(TYPE|FORM|UNIT|DIM|DISP|NULL)\d+|COMMENT|HISTORY|CONTINUE|)$")


def _documented_names() -> set[str]:
    return set(re.findall(r"`([A-Za-z_][A-Za-z0-9_-]*)[^`]*`", (DOCS / "outputs.md").read_text(encoding="utf-8")))


def _undocumented(names, documented: set[str]) -> list[str]:
    """Names missing from outputs.md; a numbered family (HSGP0, HSGP1...) is documented by its 0."""
    return sorted({n for n in names if n not in documented and re.sub(r"\d+$", "0", n) not in documented})


@pytest.mark.slow
def test_outputs_reference_documents_every_column_and_keyword(tmp_path):
    """Every column and keyword that detrend, search and basis write is in docs/outputs.md."""
    from astropy.io import fits
    from astropy.table import Table

    from halfsib.cli import main

    sim = tmp_path / "sim"
    assert main(["simulate", "--mission", "k2", "--stars", "10", "--cadences", "700", "--seed", "3",
                 "--no-pixels", "-o", str(sim), "-q"]) == 0
    target = sorted((sim / "lc").glob("*_llc.fits"))[0]
    outputs = {"det": tmp_path / "det.fits", "cands": tmp_path / "cands.ecsv", "pgram": tmp_path / "pgram.fits",
               "basis": tmp_path / "basis.fits"}
    assert main(["detrend", str(target), "--others", str(sim / "lc"), "-o", str(outputs["det"]), "-q"]) == 0
    assert main(["search", str(target), "--others", str(sim / "lc"), "-o", str(outputs["cands"]),
                 "--periodogram", str(outputs["pgram"]), "-q"]) == 0
    assert main(["basis", str(sim / "lc"), "-o", str(outputs["basis"]), "-q"]) == 0

    written: set[str] = set()
    for key in ("det", "pgram", "basis"):
        with fits.open(outputs[key]) as hdul:
            for hdu in hdul:
                written |= {k for k in hdu.header if not STRUCTURAL.match(k)}
                if isinstance(hdu, fits.BinTableHDU):
                    written |= set(hdu.columns.names)
                    written.add(hdu.name)
                elif hdu.name != "PRIMARY":
                    written.add(re.sub(r"_(ALL|[0-9_]+)$", "_", hdu.name))
    table = Table.read(outputs["cands"])
    written |= set(table.colnames) | {k for k in table.meta if k != "provenance"}
    written |= set(table.meta["provenance"])
    documented = _documented_names() | {"ELC_", "SV_"}  # documented as ELC_<key>, SV_<key>
    missing = _undocumented(written, documented)
    assert not missing, f"docs/outputs.md does not document: {missing}"
