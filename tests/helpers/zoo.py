"""Write small, well-formed files in every format halfsib reads, with known contents.

These are independent of the simulator and of ../shared/data, so the reader tests run
on a clean clone. Each writer returns the path; the known values are in ``TRUTH``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits

N = 300  # cadences
K2_START, TESS_START = 2500.0, 1400.0
LC_STEP, TESS_STEP = 0.0204335, 2.0 / 1440.0


def _times(start: float, step: float, n: int = N) -> np.ndarray:
    return start + step * np.arange(n)


def _flux(rng: np.random.Generator, n: int = N, level: float = 1.0e5) -> tuple[np.ndarray, np.ndarray]:
    err = np.full(n, np.sqrt(level) * 2.0)
    return level + err * rng.standard_normal(n), err


def _primary(**cards: object) -> fits.PrimaryHDU:
    hdu = fits.PrimaryHDU()
    for key, value in cards.items():
        hdu.header[key] = value
    return hdu


def _k2_primary(creator: str, epic: int = 200000001) -> fits.PrimaryHDU:
    return _primary(TELESCOP="Kepler", INSTRUME="Kepler Photometer", ORIGIN="NASA/Ames", CREATOR=creator,
                    MISSION="K2", OBJECT=f"EPIC {epic}", KEPLERID=epic, CAMPAIGN=5, CHANNEL=12, MODULE=4, OUTPUT=4,
                    RA_OBJ=130.1, DEC_OBJ=17.2, KEPMAG=12.3)


def _time_cards(hdu: fits.BinTableHDU, bjdrefi: int) -> fits.BinTableHDU:
    hdu.header["TIMESYS"] = "TDB"
    hdu.header["TIMEREF"] = "SOLARSYSTEM"
    hdu.header["BJDREFI"] = bjdrefi
    hdu.header["BJDREFF"] = 0.0
    hdu.header["TIMEUNIT"] = "d"
    return hdu


def _official_columns(rng: np.random.Generator, time: np.ndarray, quality_name: str) -> list[fits.Column]:
    flux, err = _flux(rng, time.size)
    quality = np.zeros(time.size, np.int32)
    quality[10] = 1048576 if quality_name == "SAP_QUALITY" else 32
    return [
        fits.Column("TIME", "D", unit="d", array=time),
        fits.Column("CADENCENO", "J", array=np.arange(time.size) + 100000),
        fits.Column("SAP_FLUX", "E", unit="e-/s", array=flux),
        fits.Column("SAP_FLUX_ERR", "E", unit="e-/s", array=err),
        fits.Column("SAP_BKG", "E", unit="e-/s", array=np.full(time.size, 50.0)),
        fits.Column("PDCSAP_FLUX", "E", unit="e-/s", array=flux * 1.01),
        fits.Column("PDCSAP_FLUX_ERR", "E", unit="e-/s", array=err),
        fits.Column(quality_name, "J", array=quality),
        fits.Column("MOM_CENTR1", "D", unit="pix", array=500 + 0.1 * rng.standard_normal(time.size)),
        fits.Column("MOM_CENTR2", "D", unit="pix", array=600 + 0.1 * rng.standard_normal(time.size)),
        fits.Column("POS_CORR1", "E", unit="pix", array=0.1 * rng.standard_normal(time.size)),
        fits.Column("POS_CORR2", "E", unit="pix", array=0.1 * rng.standard_normal(time.size)),
    ]


def write_k2_lc(path: Path, rng: np.random.Generator) -> Path:
    """An official K2 light-curve file (ktwo*_llc.fits layout)."""
    table = fits.BinTableHDU.from_columns(_official_columns(rng, _times(K2_START, LC_STEP), "SAP_QUALITY"),
                                          name="LIGHTCURVE")
    fits.HDUList([_k2_primary("1234 FluxExporter2PipelineModule"), _time_cards(table, 2454833)]).writeto(path)
    return path


def write_tess_lc(path: Path, rng: np.random.Generator) -> Path:
    """An official TESS 2-min light-curve file."""
    primary = _primary(TELESCOP="TESS", INSTRUME="TESS Photometer", ORIGIN="NASA/Ames",
                       CREATOR="4289 LightCurveExporterPipelineModule", OBJECT="TIC 900000001", TICID=900000001,
                       SECTOR=7, CAMERA=2, CCD=3, RA_OBJ=110.0, DEC_OBJ=-20.0, TESSMAG=10.4)
    table = fits.BinTableHDU.from_columns(_official_columns(rng, _times(TESS_START, TESS_STEP), "QUALITY"),
                                          name="LIGHTCURVE")
    fits.HDUList([primary, _time_cards(table, 2457000)]).writeto(path)
    return path


def write_k2sff(path: Path, rng: np.random.Generator) -> Path:
    """A K2SFF product trimmed like ../shared/data (primary + BESTAPER)."""
    time = _times(K2_START, LC_STEP)
    fraw = 1.0 + 1e-3 * rng.standard_normal(N)
    moving = np.zeros(N, np.int16)
    moving[::50] = 1
    cols = [
        fits.Column("T", "D", array=time), fits.Column("FRAW", "D", array=fraw),
        fits.Column("FCOR", "D", array=fraw / 1.001), fits.Column("ARCLENGTH", "D", array=rng.standard_normal(N)),
        fits.Column("MOVING", "I", array=moving), fits.Column("CADENCENO", "J", array=np.arange(N) + 100000),
    ]
    table = _time_cards(fits.BinTableHDU.from_columns(cols, name="BESTAPER"), 2454833)
    primary = _primary(TELESCOP="Kepler", MISSION="K2", OBJECT="EPIC 200000002", KEPLERID=200000002, CAMPAIGN=5,
                       CHANNEL=13, RA_OBJ=131.0, DEC_OBJ=18.0, KEPMAG=13.0)
    fits.HDUList([primary, table]).writeto(path)
    return path


def write_k2sc(path: Path, rng: np.random.Generator) -> Path:
    """A K2SC product (primary + K2SC table)."""
    time = _times(K2_START, LC_STEP)
    flux, err = _flux(rng)
    cols = [
        fits.Column("time", "D", array=time), fits.Column("cadence", "J", array=np.arange(N) + 100000),
        fits.Column("quality", "J", array=np.zeros(N, np.int32)), fits.Column("x", "D", array=np.full(N, 10.0)),
        fits.Column("y", "D", array=np.full(N, 11.0)), fits.Column("flux", "D", array=flux),
        fits.Column("error", "D", array=err), fits.Column("mflags", "B", array=np.zeros(N, np.uint8)),
        fits.Column("trtime", "D", array=np.full(N, 1e5)), fits.Column("trposi", "D", array=np.zeros(N)),
    ]
    table = _time_cards(fits.BinTableHDU.from_columns(cols, name="K2SC"), 2454833)
    primary = _primary(TELESCOP="Kepler", OBJECT="EPIC 200000003", KEPLERID=200000003, CAMPAIGN=5, CHANNEL=14,
                       KEPMAG=11.0, PROGRAM="k2SC v0.9")
    fits.HDUList([primary, table]).writeto(path)
    return path


def write_tpf(path: Path, rng: np.random.Generator, mission: str = "K2") -> Path:
    """A small target pixel file (5 x 6 stamp) in the Kepler/K2 or TESS layout."""
    tess = mission == "TESS"
    ny, nx = 5, 6
    time = _times(TESS_START if tess else K2_START, TESS_STEP if tess else LC_STEP)
    yy, xx = np.mgrid[:ny, :nx]
    image = 1e4 * np.exp(-0.5 * ((xx - 2.5) ** 2 + (yy - 2.0) ** 2))
    flux = image[None] * (1 + 1e-3 * rng.standard_normal((N, 1, 1))) + rng.standard_normal((N, ny, nx))
    err = np.sqrt(image + 1.0)[None].repeat(N, axis=0)
    cols = [
        fits.Column("TIME", "D", unit="d", array=time), fits.Column("TIMECORR", "E", array=np.zeros(N)),
        fits.Column("CADENCENO", "J", array=np.arange(N) + 100000),
        fits.Column("RAW_CNTS", f"{ny * nx}J", dim=f"({nx},{ny})", array=np.zeros((N, ny, nx), np.int32)),
        fits.Column("FLUX", f"{ny * nx}E", unit="e-/s", dim=f"({nx},{ny})", array=flux),
        fits.Column("FLUX_ERR", f"{ny * nx}E", unit="e-/s", dim=f"({nx},{ny})", array=err),
        fits.Column("FLUX_BKG", f"{ny * nx}E", unit="e-/s", dim=f"({nx},{ny})", array=np.ones((N, ny, nx))),
        fits.Column("QUALITY", "J", array=np.zeros(N, np.int32)),
        fits.Column("POS_CORR1", "E", array=np.zeros(N)), fits.Column("POS_CORR2", "E", array=np.zeros(N)),
    ]
    table = _time_cards(fits.BinTableHDU.from_columns(cols, name="PIXELS" if tess else "TARGETTABLES"),
                        2457000 if tess else 2454833)
    for i in (4, 5, 6, 7):
        table.header[f"1CRV{i}P"] = 300
        table.header[f"2CRV{i}P"] = 400
    aperture = np.ones((ny, nx), np.int32)
    aperture[1:4, 1:5] = 3
    if tess:
        primary = _primary(TELESCOP="TESS", INSTRUME="TESS Photometer", ORIGIN="NASA/Ames",
                           CREATOR="TargetPixelExporterPipelineModule", OBJECT="TIC 900000002", TICID=900000002,
                           SECTOR=7, CAMERA=2, CCD=3, RA_OBJ=110.0, DEC_OBJ=-20.0, TESSMAG=9.0)
    else:
        primary = _k2_primary("1234 TargetPixelExporterPipelineModule", epic=200000004)
    fits.HDUList([primary, table, fits.ImageHDU(aperture, name="APERTURE")]).writeto(path)
    return path


def write_csv(path: Path, rng: np.random.Generator) -> Path:
    """A CSV light curve with a header line (time,flux,flux_err)."""
    flux, err = _flux(rng)
    np.savetxt(path, np.column_stack([_times(K2_START, LC_STEP), flux, err]), delimiter=",",
               header="time,flux,flux_err", comments="")
    return path


def write_space_table(path: Path, rng: np.random.Generator) -> Path:
    """A whitespace-separated table without a header: time flux."""
    flux, _ = _flux(rng)
    np.savetxt(path, np.column_stack([_times(K2_START, LC_STEP), flux]))
    return path


def write_ecsv(path: Path, rng: np.random.Generator) -> Path:
    """An ECSV light curve with units and time_format metadata."""
    from astropy.table import Table

    flux, err = _flux(rng)
    table = Table({"time": _times(TESS_START, TESS_STEP), "flux": flux, "flux_err": err},
                  meta={"time_format": "btjd", "mission": "TESS", "target_id": "TIC 900000003"})
    table["flux"].unit = "electron / s"
    table.write(path, format="ascii.ecsv")
    return path


def write_basis_txt(path: Path, rng: np.random.Generator) -> Path:
    """An EVEREST-style basis: '# breaks' header, time, constant, 4 vectors."""
    time = _times(K2_START, LC_STEP)
    data = np.column_stack([time, np.ones(N), rng.standard_normal((N, 4))])
    np.savetxt(path, data, header="120,299")
    return path


WRITERS = {
    "kepler-lc": write_k2_lc,
    "tess-lc": write_tess_lc,
    "k2sff": write_k2sff,
    "k2sc": write_k2sc,
    "kepler-tpf": write_tpf,
    "tess-tpf": lambda p, rng: write_tpf(p, rng, mission="TESS"),
    "csv": write_csv,
    "txt": write_space_table,
    "ecsv": write_ecsv,
}
SUFFIX = {"csv": ".csv", "txt": ".txt", "ecsv": ".ecsv"}


def write_zoo(folder: Path, seed: int = 1) -> dict[str, Path]:
    """Write one file of every format into ``folder``; returns format -> path."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, writer in WRITERS.items():
        paths[name] = writer(folder / f"zoo_{name}{SUFFIX.get(name, '.fits')}", rng)
    paths["basis"] = write_basis_txt(folder / "zoo_basis.txt", rng)
    return paths
