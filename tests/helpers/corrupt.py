"""The bad-input corpus: damaged copies of good files, one per failure mode.

``CASES`` maps a case name to (maker, expected exception class name, words the message
must contain). Makers take (good_path, file_format, out_path) and return out_path, or
None when the case does not apply to that format (e.g. zero errors in K2SFF, which has
no error column).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
from astropy.io import fits

#: per format: (time, flux, flux_err, quality) column names as the file writes them
COLUMNS = {
    "kepler-lc": ("TIME", "SAP_FLUX", "SAP_FLUX_ERR", "SAP_QUALITY"),
    "tess-lc": ("TIME", "SAP_FLUX", "SAP_FLUX_ERR", "QUALITY"),
    "k2sff": ("T", "FRAW", None, "MOVING"),
    "k2sc": ("time", "flux", "error", "quality"),
    "kepler-tpf": ("TIME", "FLUX", "FLUX_ERR", "QUALITY"),
    "tess-tpf": ("TIME", "FLUX", "FLUX_ERR", "QUALITY"),
}
FITS_FORMATS = tuple(COLUMNS)

Maker = Callable[[Path, str, Path], "Path | None"]


def _edit_table(good: Path, out: Path, edit: Callable[[np.ndarray], None]) -> Path:
    shutil.copy(good, out)
    with fits.open(out, mode="update") as hdul:
        edit(hdul[1].data)
        hdul.flush()
    return out


def _column_edit(role: int, change: Callable[[np.ndarray], None]) -> Maker:
    def maker(good: Path, fmt: str, out: Path) -> Path | None:
        name = COLUMNS[fmt][role]
        if name is None:
            return None
        return _edit_table(good, out, lambda data: change(data[name]))
    return maker


def not_fits(good: Path, fmt: str, out: Path) -> Path:
    out.write_text("<html><body>404 Not Found</body></html>\n" * 20)
    return out


def empty(good: Path, fmt: str, out: Path) -> Path:
    out.write_bytes(b"")
    return out


def truncated_data(good: Path, fmt: str, out: Path) -> Path:
    data = good.read_bytes()
    out.write_bytes(data[: int(len(data) * 0.6)])
    return out


def truncated_header(good: Path, fmt: str, out: Path) -> Path:
    with fits.open(good) as hdul:
        start = hdul.fileinfo(1)["hdrLoc"]
    out.write_bytes(good.read_bytes()[: start + 1000])
    return out


def flipped_header(good: Path, fmt: str, out: Path) -> Path:
    data = bytearray(good.read_bytes())
    with fits.open(good) as hdul:
        start = hdul.fileinfo(1)["hdrLoc"]
    for i in range(start, start + 240):  # XTENSION, BITPIX, NAXIS cards of extension 1
        data[i] ^= 0xFF
    out.write_bytes(bytes(data))
    return out


def _flip_time_bytes(col: np.ndarray) -> None:
    values = np.array(col, dtype=">f8")
    raw = values.view(np.uint8).reshape(col.size, 8)
    raw[col.size // 2 : col.size // 2 + 3, 0] ^= 0x7F  # the sign/exponent byte of big-endian doubles
    col[:] = values


def unknown_format(good: Path, fmt: str, out: Path) -> Path:
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros((4, 4)))]).writeto(out)
    return out


def unknown_mission(good: Path, fmt: str, out: Path) -> Path | None:
    if fmt not in ("kepler-lc", "tess-lc", "kepler-tpf", "tess-tpf"):
        return None
    shutil.copy(good, out)
    with fits.open(out, mode="update") as hdul:
        hdul[0].header["TELESCOP"] = "HST"
        hdul[0].header["MISSION"] = "HST"
    return out


def drop_flux(good: Path, fmt: str, out: Path) -> Path:
    name = COLUMNS[fmt][1]
    with fits.open(good) as hdul:
        cols = [c for c in hdul[1].columns if c.name != name]
        table = fits.BinTableHDU.from_columns(cols, header=hdul[1].header, name=hdul[1].name)
        fits.HDUList([hdul[0].copy(), table, *[h.copy() for h in hdul[2:]]]).writeto(out)
    return out


def few_cadences(good: Path, fmt: str, out: Path) -> Path:
    with fits.open(good) as hdul:
        table = fits.BinTableHDU(hdul[1].data[:5], header=hdul[1].header, name=hdul[1].name)
        fits.HDUList([hdul[0].copy(), table, *[h.copy() for h in hdul[2:]]]).writeto(out)
    return out


def _set(value: float) -> Callable[[np.ndarray], None]:
    def change(col: np.ndarray) -> None:
        col[...] = value
    return change


def _zero_some(col: np.ndarray) -> None:
    col[::2] = 0.0  # some errors zero, the others positive: a broken column


def _duplicate(col: np.ndarray) -> None:
    col[5] = col[4]


def _swap(col: np.ndarray) -> None:
    col[5], col[6] = col[6], col[5]


def _flag_all(col: np.ndarray) -> None:
    col[...] = 1  # attitude tweak (Kepler/TESS) or MOVING (K2SFF): in the default bitmask


CASES: dict[str, tuple[Maker, str, tuple[str, ...]]] = {
    "not_fits": (not_fits, "FileFormatError", ("not a FITS file",)),
    "empty": (empty, "FileFormatError", ("empty",)),
    "truncated_data": (truncated_data, "FileFormatError", ("truncated",)),
    "truncated_header": (truncated_header, "FileFormatError", ("truncated",)),
    "flipped_header": (flipped_header, "FileFormatError", ("corrupted",)),
    "flipped_time_bytes": (_column_edit(0, _flip_time_bytes), "DataValidationError", ("not sorted", "corrupted")),
    "unknown_format": (unknown_format, "FileFormatError", ("unknown format",)),
    "unknown_mission": (unknown_mission, "FileFormatError", ("unknown mission", "HST")),
    "no_flux_column": (drop_flux, "FileFormatError", ("flux", "column")),
    "nan_flux": (_column_edit(1, _set(np.nan)), "DataValidationError", ("no usable cadence",)),
    "all_flagged": (_column_edit(3, _flag_all), "DataValidationError", ("no usable cadence", "flagged")),
    "zero_errors": (_column_edit(2, _zero_some), "DataValidationError", ("zero or negative",
                                                                            "--flux-err-column none")),
    "negative_errors": (_column_edit(2, _set(-1.0)), "DataValidationError", ("zero or negative",)),
    "duplicated_times": (_column_edit(0, _duplicate), "DataValidationError", ("duplicated",)),
    "unsorted_times": (_column_edit(0, _swap), "DataValidationError", ("not sorted",)),
    "few_cadences": (few_cadences, "DataValidationError", ("only 5", "at least")),
}


def empty_aperture(good: Path, fmt: str, out: Path) -> Path | None:
    """A pixel file whose APERTURE image is all zero and whose first pixel row was never collected."""
    if not fmt.endswith("tpf"):
        return None
    shutil.copy(good, out)
    with fits.open(out, mode="update") as hdul:
        hdul["APERTURE"].data[...] = 0
        hdul[1].data["FLUX"][:, 0, :] = np.nan
    return out


def wild_cadence(good: Path, fmt: str, out: Path) -> Path | None:
    """A light curve with a 1e30 fill value in one good cadence (the model clips it; not fatal)."""
    name = COLUMNS[fmt][1]
    if fmt.endswith("tpf"):
        return None

    def change(data: np.ndarray) -> None:
        flux = data[name]
        flux[len(flux) // 2] = 1e30
    return _edit_table(good, out, change)


#: damaged in a way a user wants handled, not refused: case -> (maker, what ``read`` must give).
#: An error column with no error in it (NaN or 0 on every cadence: lightkurve's K2SFF
#: ``flux_err``, juliet tables) is ignored with a warning, as if the file had none.
HANDLED: dict[str, tuple[Maker, str]] = {
    "all_zero_errors": (_column_edit(2, _set(0.0)), "estimated errors"),
    "all_nan_errors": (_column_edit(2, _set(np.nan)), "estimated errors"),
}


def write_text_cases(good_csv: Path, folder: Path) -> dict[str, tuple[Path, str, tuple[str, ...]]]:
    """The same failure modes for a CSV light curve (time, flux, flux_err)."""
    header, *rows = good_csv.read_text().splitlines()
    table = np.array([[float(v) for v in r.split(",")] for r in rows])

    def save(name: str, values: np.ndarray) -> Path:
        path = folder / f"bad_{name}.csv"
        np.savetxt(path, values, delimiter=",", header=header, comments="")
        return path

    dup = table.copy(); dup[5, 0] = dup[4, 0]
    swap = table.copy(); swap[[5, 6], 0] = swap[[6, 5], 0]
    zero = table.copy(); zero[::2, 2] = 0.0
    nan = table.copy(); nan[:, 1] = np.nan
    garbage = folder / "bad_binary.csv"
    garbage.write_bytes(bytes(range(256)) * 4)
    return {
        "duplicated_times": (save("dup", dup), "DataValidationError", ("duplicated",)),
        "unsorted_times": (save("unsorted", swap), "DataValidationError", ("not sorted",)),
        "zero_errors": (save("zero", zero), "DataValidationError", ("zero or negative",)),
        "nan_flux": (save("nan", nan), "DataValidationError", ("no usable cadence",)),
        "few_cadences": (save("few", table[:5]), "DataValidationError", ("only 5",)),
        "not_a_table": (garbage, "FileFormatError", ("cannot parse",)),
    }


def output_path_cases(folder: Path) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """Bad output paths for the commands that write: case -> (argv after the command's own
    arguments, words the one-line error must contain). ``folder`` gets the obstacles
    (an existing folder, an existing file)."""
    a_folder = folder / "existing_folder"
    a_folder.mkdir(exist_ok=True)
    a_file = folder / "existing_file.fits"
    a_file.write_text("already here")
    return {
        "out_is_a_folder": (["-o", str(a_folder), "--overwrite"], ("is a folder", "file name inside it")),
        "out_exists": (["-o", str(a_file)], ("already exists", "--overwrite")),
        "out_under_a_file": (["-o", str(a_file / "out.fits")], ("is a file, not a folder",)),
        "plot_bad_extension": (["-o", str(folder / "new.fits"), "--plot", str(folder / "fig.xyz")],
                               (".xyz is not a figure format", ".png")),
        "plot_no_extension": (["-o", str(folder / "new.fits"), "--plot", str(folder / "fig")],
                              ("no extension", ".png")),
        "plot_under_a_file": (["-o", str(folder / "new.fits"), "--plot", str(a_file / "fig.png")],
                              ("is a file, not a folder",)),
    }


def output_folder_cases(folder: Path) -> dict[str, tuple[list[str], tuple[str, ...]]]:
    """Bad output folders (``run``, ``batch``, ``simulate``, ``demo``): an existing file given as
    the folder, and a folder below a file."""
    a_file = folder / "existing_file"
    a_file.write_text("already here")
    return {
        "outdir_is_a_file": (["-o", str(a_file)], ("is a file", "give a folder")),
        "outdir_under_a_file": (["-o", str(a_file / "sub")], ("is a file, not a folder",)),
    }
