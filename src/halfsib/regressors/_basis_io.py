"""FITS storage of an :class:`~halfsib.regressors.elc.ElcBasis` (private).

Layout (all HDUs named):

- ``PRIMARY``: ``HSKIND = 'ELCBASIS'``, format version, mission/season/time system, build
  settings (JSON), rejected stars (JSON), the campaign's pointing breaks when they were
  searched (``HSBREAKS``, JSON list of days) and the provenance cards of :mod:`halfsib.io.writers`.
- ``GRID``: table ``CADENCENO``, ``TIME`` (G rows).
- ``STARS``: table, one row per star (label, id, source, RA, Dec, detector, fold, weight,
  noise, median, coverage).
- ``MATRIX``: image (n_stars, G), the weighted normalised light curves.
- ``ELC_<key>`` / ``SV_<key>``: cached components (k, G) and singular values (k,) for the
  folds left out, ``key`` = ``ALL`` or fold numbers joined by ``_``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from .._atomic import atomic_path
from ..exceptions import FileFormatError
from ..io.writers import provenance
from ._grid import Grid

FORMAT_VERSION = 1


def _key_name(key: frozenset[int]) -> str:
    return "ALL" if not key else "_".join(str(f) for f in sorted(key))


def _key_of(name: str) -> frozenset[int]:
    return frozenset() if name == "ALL" else frozenset(int(p) for p in name.split("_"))


def _header(basis: Any, inputs: Sequence[str | os.PathLike[str]]) -> Any:
    from astropy.io import fits

    header = fits.Header()
    record = provenance(inputs, basis.settings)
    header["HSKIND"] = ("ELCBASIS", "halfsib eigen-light-curve basis")
    header["HSFORMAT"] = (FORMAT_VERSION, "basis file format version")
    header["CREATOR"] = f"halfsib {__version__}"
    header["HSVERSN"] = (__version__, "halfsib version")
    header["DATE"] = (record["date_utc"], "file creation date (UTC)")
    header["MISSION"] = basis.mission
    header["SEASON"] = (basis.season, "campaign/sector/quarter")
    header["TIMEFMT"] = (basis.time_format, "time system of GRID.TIME")
    header["MATCHON"] = (basis.grid.on, "how series are matched to the grid")
    header["NSTARS"] = basis.stars.n_stars
    header["NFOLDS"] = basis.n_folds
    header["NCOMP"] = (basis.n_components, "default number of ELCs per target")
    header["EXCLRAD"] = (basis.exclusion_radius, "default exclusion radius, arcsec")
    for key, value in (("HSCONFIG", json.dumps(basis.settings, sort_keys=True, default=str)),
                       ("HSREJECT", json.dumps([list(r) for r in basis.rejected])),
                       ("HSINPUTS", json.dumps(record["inputs"]))):
        header[key] = value
    if basis.pointing_breaks is not None:
        header["HSBREAKS"] = (json.dumps(list(basis.pointing_breaks)), "campaign pointing breaks [d], JSON")
    return header


def write_basis(basis: Any, path: str | os.PathLike[str], *, overwrite: bool = True,
                inputs: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Write ``basis`` to ``path`` (replaced atomically); see the module docstring for the layout."""
    from astropy.io import fits

    s = basis.stars
    grid = fits.BinTableHDU.from_columns([
        fits.Column("CADENCENO", "K", array=basis.grid.cadenceno.astype(np.int64)),
        fits.Column("TIME", "D", unit="d", array=basis.grid.time),
    ], name="GRID")
    text = lambda values: np.array([v or "" for v in values], dtype=str)  # noqa: E731
    stars = fits.BinTableHDU.from_columns([
        fits.Column("LABEL", f"{max(1, max(len(v) for v in s.labels))}A", array=text(s.labels)),
        fits.Column("KEY", f"{max(1, max(len(v or '') for v in s.keys))}A", array=text(s.keys)),
        fits.Column("SOURCE", f"{max(1, max(len(v or '') for v in s.sources))}A", array=text(s.sources)),
        fits.Column("RA", "D", unit="deg", array=s.ra), fits.Column("DEC", "D", unit="deg", array=s.dec),
        fits.Column("DETECTOR", f"{max(1, max(len(v) for v in s.detectors))}A", array=text(s.detectors)),
        fits.Column("FOLD", "K", array=s.folds), fits.Column("WEIGHT", "D", array=s.weights),
        fits.Column("NOISE", "D", array=s.noise), fits.Column("MEDIAN", "D", array=s.medians),
        fits.Column("COVERAGE", "D", array=s.coverage),
    ], name="STARS")
    hdus = [fits.PrimaryHDU(header=_header(basis, inputs)), grid, stars,
            fits.ImageHDU(basis.matrix, name="MATRIX")]
    for key in basis.cached:
        elcs, sv = basis.components(key)
        hdus.append(fits.ImageHDU(np.ascontiguousarray(elcs.T), name=f"ELC_{_key_name(key)}"))
        hdus.append(fits.ImageHDU(sv, name=f"SV_{_key_name(key)}"))
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp, checksum=True)
    return Path(path)


def read_basis_file(cls: Any, path: str | os.PathLike[str]) -> Any:
    """Read a basis file written by :func:`write_basis` into an instance of ``cls``."""
    from ..io._fits import check_path, open_fits
    from ._stars import StarCatalogue

    source = str(check_path(path))
    hdul = open_fits(Path(source))
    try:
        header = hdul[0].header
        if header.get("HSKIND") != "ELCBASIS":
            raise FileFormatError("not a halfsib ELC basis file (no HSKIND = 'ELCBASIS'); write one with "
                                  "`halfsib basis` or ElcBasis.save", source)
        if int(header.get("HSFORMAT", 0)) > FORMAT_VERSION:
            raise FileFormatError(f"basis file format {header['HSFORMAT']} is newer than this halfsib "
                                  f"understands ({FORMAT_VERSION}); upgrade halfsib", source)
        g, t = hdul["GRID"].data, hdul["STARS"].data
        grid = Grid(cadenceno=np.asarray(g["CADENCENO"], np.int64), time=np.asarray(g["TIME"], np.float64),
                    on=str(header["MATCHON"]))
        strip = lambda col: tuple(str(v).strip() for v in t[col])  # noqa: E731
        stars = StarCatalogue(
            labels=strip("LABEL"), keys=tuple(v or None for v in strip("KEY")),
            sources=tuple(v or None for v in strip("SOURCE")), ra=np.asarray(t["RA"], float),
            dec=np.asarray(t["DEC"], float), detectors=strip("DETECTOR"), folds=np.asarray(t["FOLD"], np.int64),
            weights=np.asarray(t["WEIGHT"], float), noise=np.asarray(t["NOISE"], float),
            medians=np.asarray(t["MEDIAN"], float), coverage=np.asarray(t["COVERAGE"], float))
        matrix = np.array(hdul["MATRIX"].data, dtype=np.float64)
        if matrix.shape != (stars.n_stars, grid.size):
            raise FileFormatError(f"MATRIX has shape {matrix.shape}, expected ({stars.n_stars}, {grid.size})", source)
        basis = cls(matrix, grid, stars, n_components=int(header["NCOMP"]), exclusion_radius=float(header["EXCLRAD"]),
                    time_format=str(header["TIMEFMT"]), mission=str(header["MISSION"]), season=str(header["SEASON"]),
                    settings=json.loads(header.get("HSCONFIG", "{}")),
                    rejected=[tuple(r) for r in json.loads(header.get("HSREJECT", "[]"))],
                    pointing_breaks=json.loads(header["HSBREAKS"]) if "HSBREAKS" in header else None)
        for hdu in hdul:
            if hdu.name.startswith("ELC_"):
                name = hdu.name[4:]
                basis.restore_components(_key_of(name), np.array(hdu.data, dtype=np.float64).T,
                                         np.array(hdul[f"SV_{name}"].data, dtype=np.float64))
        return basis
    except (KeyError, ValueError, TypeError) as err:
        raise FileFormatError(f"malformed ELC basis file ({type(err).__name__}: {err})", source) from err
    finally:
        hdul.close()
