"""``halfsib basis``: build, write and reload an ELC basis from the command line (in-process)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from halfsib.io import read, write_lightcurve
from halfsib.regressors import ElcBasis
from test_regressors import make_set


@pytest.fixture
def basis_cli(monkeypatch):
    """``main(["basis", ...])`` whether or not the subcommand is registered in cli/__init__.py yet."""
    from halfsib import cli

    monkeypatch.setitem(cli.SUBCOMMANDS, "basis", "basis")
    return lambda *argv: cli.main(["basis", *map(str, argv)])


@pytest.fixture
def star_files(rng, tmp_path):
    folder = tmp_path / "stars"
    stars = make_set(rng, n_stars=12, n=400)
    for i, lc in enumerate(stars):
        channel = 10 if i < 7 else 11
        meta = dataclasses.replace(lc.meta, channel=channel, source=None)
        write_lightcurve(lc.replace(meta=meta), folder / f"star{i:02d}.fits")
    return folder


def test_basis_writes_a_loadable_file(basis_cli, star_files, tmp_path, capsys):
    out = tmp_path / "basis.fits"
    assert basis_cli(star_files, "-o", out, "--components", 5, "--folds", 3, "-q") == 0
    basis = ElcBasis.load(out)
    assert basis.stars.n_stars == 12 and basis.n_folds == 3 and basis.n_components == 5
    assert basis.season == "C13" and len(basis.cached) == 4  # all stars + each fold left out
    assert "12 stars" in capsys.readouterr().out
    group = basis.for_target(read(star_files / "star03.fits"))
    assert group.n_columns == 5 and np.all(np.isfinite(group.columns))
    assert basis_cli(star_files, "-o", out, "-q") == 1  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err


def test_basis_of_stars_without_motion_has_no_pointing_breaks_and_says_why(basis_cli, star_files, tmp_path, capsys):
    """K2 stars without centroids or arclength cannot be searched for pointing breaks: the basis
    is written without them (each target searches its own) and stderr says why."""
    out = tmp_path / "basis.fits"
    assert basis_cli(star_files, "-o", out, "--components", 5, "--folds", 3, "-q", "--break-stars", 3) == 0
    assert ElcBasis.load(out).pointing_breaks is None
    assert "no pointing breaks searched" in capsys.readouterr().err
    assert basis_cli(star_files, "-o", out, "-q", "--overwrite", "--no-breaks") == 0
    assert "pointing breaks" not in capsys.readouterr().err
    assert basis_cli(star_files, "-o", out, "-q", "--overwrite", "--break-stars", 0) == 1
    assert "--break-stars must be >= 1" in capsys.readouterr().err


def test_basis_same_channel_writes_one_file_per_detector(basis_cli, star_files, tmp_path):
    out = tmp_path / "c13.fits"
    assert basis_cli(star_files, "-o", out, "--same-channel", "--folds", 2, "-q") == 0
    assert sorted(p.name for p in tmp_path.glob("c13_*.fits")) == ["c13_ch10.fits", "c13_ch11.fits"]
    assert ElcBasis.load(tmp_path / "c13_ch11.fits").stars.n_stars == 5


def test_basis_reports_bad_input(basis_cli, star_files, tmp_path, capsys):
    (star_files / "broken.fits").write_bytes(b"SIMPLE  = T" + b" " * 100)
    assert basis_cli(star_files, "-o", tmp_path / "b.fits", "--folds", 2, "-q") == 0  # the broken file is skipped
    assert "broken.fits" in capsys.readouterr().err
    assert basis_cli(tmp_path / "nothing-here", "-o", tmp_path / "c.fits", "-q") == 1
    assert basis_cli(star_files, "-o", tmp_path / "d.fits", "--components", 0, "-q") == 1
    assert "--components" in capsys.readouterr().err


def test_basis_same_channel_with_lonely_stars_writes_nothing(basis_cli, rng, tmp_path, capsys):
    folder = tmp_path / "lonely"
    for i, lc in enumerate(make_set(rng, n_stars=3, n=300)):
        write_lightcurve(lc.replace(meta=dataclasses.replace(lc.meta, channel=20 + i, source=None)),
                         folder / f"s{i}.fits")
    assert basis_cli(folder, "-o", tmp_path / "x.fits", "--same-channel", "-q") == 1
    err = capsys.readouterr().err
    assert "ch20 has 1 star(s)" in err and "no basis was written" in err


def test_basis_help_has_examples(basis_cli, capsys):
    with pytest.raises(SystemExit):
        basis_cli("--help")
    text = capsys.readouterr().out
    assert "examples:" in text and "--same-channel" in text and "--folds" in text


def test_basis_names_the_odd_file_of_another_season(basis_cli, star_files, tmp_path, capsys):
    lc = read(star_files / "star03.fits")
    odd = dataclasses.replace(lc.meta, campaign=lc.meta.campaign + 1, source=None)
    write_lightcurve(lc.replace(meta=odd), star_files / "odd_one.fits")
    assert basis_cli(star_files, "-o", tmp_path / "b.fits", "-q") == 1
    err = capsys.readouterr().err
    assert "different seasons" in err and "(12 stars)" in err and "odd_one.fits" in err and "remove the odd" in err
