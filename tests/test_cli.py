"""The command line: help, version, start-up cost, error handling."""

from __future__ import annotations

import subprocess
import sys

import pytest

from halfsib import __version__
from halfsib.cli import SUBCOMMANDS, build_parser, main


def test_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_each_subcommand_has_teaching_help(capsys):
    for name in SUBCOMMANDS:
        with pytest.raises(SystemExit):
            main([name, "--help"])
        out = capsys.readouterr().out
        assert "example" in out.lower(), name


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert __version__ in capsys.readouterr().out


def test_no_command_prints_help_and_returns_usage_status(capsys):
    assert main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_building_the_parser_imports_nothing_heavy():
    code = ("import sys; from halfsib.cli import build_parser; build_parser(); "
            "heavy = [m for m in ('numpy', 'astropy', 'lightkurve', 'numba', 'celerite2', 'matplotlib', 'scipy') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_errors_are_one_line_without_traceback(tmp_path, capsys):
    bad = tmp_path / "x.fits"
    bad.write_text("nope")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "not a FITS file" in err and "Traceback" not in err


def test_parser_is_reusable_for_docs():
    parser = build_parser()
    assert parser.prog == "halfsib"


def test_stellar_density_option_sets_the_prior_and_the_vetting_density(tmp_path, capsys):
    from halfsib.cli.run import _config
    from halfsib.vet.photometric import SOLAR_DENSITY

    args = build_parser().parse_args(["run", "star.fits", "-o", str(tmp_path), "--stellar-density", "3.2", "0.5"])
    config = _config(args)
    assert config.fit.stellar_density == (3.2, 0.5)
    assert config.stellar_density == pytest.approx(2.2 / SOLAR_DENSITY)  # rho - 2 sigma, in solar units
    plain = _config(build_parser().parse_args(["run", "star.fits", "-o", str(tmp_path)]))
    assert plain.fit.stellar_density is None and plain.stellar_density is None
    assert main(["run", "star.fits", "-o", str(tmp_path), "--stellar-density", "3.2", "-1"]) == 1
    assert "--stellar-density 3.2 -1.0" in capsys.readouterr().err
    assert main(["fit", "star.fits", "-o", str(tmp_path / "f.ecsv"), "--period", "3", "--t0", "1", "--duration",
                 "2", "--depth", "500", "--stellar-density", "0", "0.1"]) == 1
    assert "g/cm3" in capsys.readouterr().err


# ------------------------------------------------------------ output paths, checked before any work
from helpers.corrupt import output_folder_cases, output_path_cases  # noqa: E402

OUTPUT_FILE_CASES = ("out_is_a_folder", "out_exists", "out_under_a_file", "plot_bad_extension",
                     "plot_no_extension", "plot_under_a_file")


@pytest.mark.parametrize("command", ["detrend", "search", "fit"])
@pytest.mark.parametrize("case", OUTPUT_FILE_CASES)
def test_bad_output_paths_are_refused_before_the_target_is_read(command, case, tmp_path, capsys):
    """The target does not exist: an error about the output proves the check comes first."""
    argv, words = output_path_cases(tmp_path)[case]
    if command in ("search", "fit"):
        argv = [a[: -len(".fits")] + ".ecsv" if a.endswith(("new.fits", "/out.fits")) else a for a in argv]
    extra = ["--period", "3", "--t0", "1", "--duration", "2", "--depth", "500"] if command == "fit" else []
    assert main([command, str(tmp_path / "no_such_target.fits"), *argv, *extra]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "no_such_target" not in err, err
    assert all(w in err for w in words), err


@pytest.mark.parametrize("command", ["run", "batch", "simulate", "demo"])
@pytest.mark.parametrize("case", ["outdir_is_a_file", "outdir_under_a_file"])
def test_bad_output_folders_are_refused_before_any_work(command, case, tmp_path, capsys):
    argv, words = output_folder_cases(tmp_path)[case]
    target = [str(tmp_path / "no_such_target.fits")] if command in ("run", "batch") else []
    assert main([command, *target, *argv]) not in (0, None)  # batch: 101 (nothing was run)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "no_such_target" not in err, err
    assert all(w in err for w in words), err


def test_a_folder_that_refuses_new_files_is_named_before_the_fit(tmp_path, capsys, monkeypatch):
    """As root, permissions do not stop writes; the probe's refusal is simulated."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    assert main(["detrend", str(tmp_path / "no_such_target.fits"), "-o", str(tmp_path / "out.fits")]) == 1
    err = capsys.readouterr().err
    assert f"cannot write into {tmp_path} (Permission denied)" in err and "Traceback" not in err


def test_detrend_refuses_two_holdout_schemes_naming_both_flags(tmp_path, capsys):
    import numpy as np

    t = 2000.0 + 0.0204 * np.arange(600)
    rows = "\n".join(f"{a:.6f},{1.0 + 1e-3 * np.sin(a):.7f},0.001" for a in t)
    (tmp_path / "lc.csv").write_text("time,flux,flux_err\n" + rows + "\n")
    args = ["detrend", str(tmp_path / "lc.csv"), "--holdout", "3", "--holdout-hours", "12", "-o",
            str(tmp_path / "out.fits")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "--holdout K and --holdout-hours H" in err and "Traceback" not in err
    assert not (tmp_path / "out.fits").exists()


def test_a_disk_error_while_writing_is_one_line_naming_the_file(tmp_path, capsys, monkeypatch):
    """ENOSPC (or any OSError) from the operating system: no traceback, the file named, no
    partial output left."""
    import errno

    from halfsib.cli import info

    def full_disk(args):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out.fits"))

    monkeypatch.setattr(info, "run", full_disk)
    assert main(["info", "whatever.fits"]) == 1
    err = capsys.readouterr().err
    assert "out.fits: No space left on device" in err and "free disk space" in err and "Traceback" not in err


def test_quality_bitmask_option_is_checked(capsys, tmp_path):
    assert main(["info", str(tmp_path / "x.fits"), "--quality-bitmask", "bogus"]) == 1
    err = capsys.readouterr().err
    assert "--quality-bitmask) 'bogus': use 'default'" in err and "corrupted" not in err


def test_flux_err_column_none_estimates_the_noise(tmp_path, capsys):
    import numpy as np

    rng = np.random.default_rng(3)
    t = 2000.0 + 0.0204 * np.arange(600)
    f = 1.0 + 1e-3 * np.sin(t) + 2e-4 * rng.standard_normal(t.size)
    rows = "\n".join(f"{a:.6f},{b:.7f},0.5" for a, b in zip(t, f))  # errors 2500x too large
    (tmp_path / "lc.csv").write_text("time,flux,flux_err\n" + rows + "\n")
    args = ["detrend", str(tmp_path / "lc.csv"), "--kernel", "none", "-q"]
    assert main([*args, "-o", str(tmp_path / "given.fits")]) == 0
    assert main([*args, "--flux-err-column", "none", "-o", str(tmp_path / "estimated.fits")]) == 0
    from astropy.io import fits

    given = fits.getdata(tmp_path / "given.fits", 1)["FLUX_ERR"]
    estimated = fits.getdata(tmp_path / "estimated.fits", 1)["FLUX_ERR"]
    assert np.median(given) > 0.1 and 1e-4 < np.median(estimated) < 1e-3  # the white noise is 2e-4


def test_detrend_finds_and_masks_a_transit_and_says_so(tmp_path, capsys):
    """``halfsib detrend`` searches its fit, masks what it finds, refits, and prints and records
    it; ``--no-find-transits`` skips that."""
    import json

    import numpy as np
    from astropy.io import fits

    from halfsib.io import write_lightcurve
    from halfsib.transit import TransitParams, transit_flux
    from test_pipeline import _half_siblings

    target, others = _half_siblings(np.random.default_rng(3), n=1500)
    params = TransitParams(period=4.1, t0=1326.3, rp_over_rs=0.055, a_over_rs=11.0, b=0.2, q1=0.4, q2=0.3)
    target = target.replace(flux=target.flux * transit_flux(target.time, params, 1 / 48, 5))
    paths = [write_lightcurve(s, tmp_path / f"star{i}.fits") for i, s in enumerate([target, *others])]
    out = tmp_path / "d.fits"
    args = ["detrend", str(paths[0]), "--others", *map(str, paths[1:]), "-o", str(out)]
    assert main(args) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if "transit found and masked" in x)
    assert abs(float(line.split("P = ")[1].split()[0]) - 4.1) < 0.01, line
    assert fits.getdata(out, 1)["MASKED"].sum() > 0
    recorded = json.loads(fits.getheader(out, 0)["HSCONFIG"])["transits_masked"]
    assert abs(float(recorded.split("P=")[1].split()[0]) - 4.1) < 0.01, recorded
    assert main([*args, "--overwrite", "--no-find-transits"]) == 0
    assert "transit found" not in capsys.readouterr().out and fits.getdata(out, 1)["MASKED"].sum() == 0
