"""FITS header cards in the Kepler/K2 and TESS archive conventions, for simulated files.

Keyword names, meanings and placement follow the real products (primary header: target
and detector; extension 1: time system, cadence and per-column pixel WCS; extension 2:
aperture), so readers that rely on them (lightkurve, halfsib.io) treat the files like
archive products. Every file also carries ``SIMDATA = T`` and halfsib provenance.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .campaign import Campaign

__all__ = ["primary_cards", "time_cards", "pixel_wcs_cards", "aperture_wcs_cards", "provenance_history"]

Card = tuple[str, Any, str]

#: Detector location written for K2 (a channel on module 14, right of the boresight, where
#: the default patch sits) and TESS.
_K2_DETECTOR = {"CHANNEL": (45, "CCD channel"), "MODULE": (14, "CCD module"), "OUTPUT": (1, "CCD output")}
_TESS_DETECTOR = {"CAMERA": (1, "Camera number"), "CCD": (1, "CCD chip number")}

CREATORS = {
    ("k2", "tpf"): "TargetPixelExporterPipelineModule",
    ("tess", "tpf"): "TargetPixelExporterPipelineModule",
    ("k2", "lc"): "FluxExporter2PipelineModule",
    ("tess", "lc"): "LightCurveExporterPipelineModule",
}


def _target_cards(camp: Campaign, i: int) -> list[Card]:
    mission = camp.config.mission
    ra, dec = camp.radec(camp.scene.col[i], camp.scene.row[i])
    ident = int(camp.ids[i])
    cards: list[Card] = [
        ("OBJECT", camp.object_name(i), "string version of target id"),
        ("KEPLERID", ident, "unique Kepler target identifier") if mission == "k2"
        else ("TICID", ident, "unique tess target identifier"),
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("RA_OBJ", round(float(ra), 7), "[deg] right ascension"),
        ("DEC_OBJ", round(float(dec), 7), "[deg] declination"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
    ]
    return cards


def primary_cards(camp: Campaign, i: int, kind: str) -> list[Card]:
    """Primary-header cards of target ``i``'s TPF (``kind="tpf"``) or LC (``"lc"``) file."""
    from .. import __version__

    config = camp.config
    spec = config.spec
    k2 = config.mission == "k2"
    creator = f"halfsib.simulate {__version__} {CREATORS[(config.mission, kind)]}"
    cards: list[Card] = [
        ("NEXTEND", 2, "number of standard extensions"),
        ("EXTNAME", "PRIMARY", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        ("SIMDATA", True, "file is based on simulated data"),
        ("ORIGIN", "halfsib", "institution responsible for creating this file"),
        ("DATE", _dt.date.today().isoformat(), "file creation date."),
        ("CREATOR", creator, "pipeline job and program used to produce this file"),
        ("PROCVER", f"halfsib-{__version__}", "SW version"),
        ("FILEVER", "6.1" if k2 else "1.0", "file format version"),
        ("TIMVERSN", "OGIP/93-003", "OGIP memo number for file format"),
        ("TELESCOP", spec.telescope, "telescope"),
        ("INSTRUME", spec.instrument, "detector type"),
    ]
    cards += _target_cards(camp, i)[:2]
    if k2:
        cards += [(k, v, c) for k, (v, c) in _K2_DETECTOR.items()]
        cards += [("CAMPAIGN", config.campaign, "Observing campaign number"),
                  ("OBSMODE", "long cadence", "observing mode"), ("MISSION", "K2", "Mission name")]
    else:
        cards += [("SECTOR", config.sector, "Observing sector")]
        cards += [(k, v, c) for k, (v, c) in _TESS_DETECTOR.items()]
        cards += [("MISSION", "TESS", "Mission name")]
        cards += _tstart_cards(camp)
    cards += _target_cards(camp, i)[2:]
    mag = round(float(camp.scene.mag[i]), 3)
    cards.append(("KEPMAG", mag, "[mag] Kepler magnitude (Kp)") if k2 else ("TESSMAG", mag, "[mag] TESS magnitude"))
    cards += [
        ("HSVERSN", __version__, "halfsib version that simulated this file"),
        ("SIMSEED", config.seed, "halfsib simulation seed"),
    ]
    return cards


def _tstart_cards(camp: Campaign) -> list[Card]:
    half = 0.5 * camp.timeline.timedel
    return [
        ("TSTART", float(camp.time[0] - half), "observation start time in BJD-BJDREF"),
        ("TSTOP", float(camp.time[-1] + half), "observation stop time in BJD-BJDREF"),
    ]


def time_cards(camp: Campaign, i: int) -> list[Card]:
    """Extension-1 cards: target, time system, cadence, noise and aperture statistics."""
    config, tl = camp.config, camp.timeline
    spec = config.spec
    k2 = config.mission == "k2"
    n_good = int((~tl.no_data).sum())
    deadc = tl.exposure / (tl.timedel * 86400.0)
    telapse = float(tl.time[-1] - tl.time[0] + tl.timedel)
    cards: list[Card] = [
        ("TELESCOP", spec.telescope, "telescope"),
        ("INSTRUME", spec.instrument, "detector type"),
        *_target_cards(camp, i),
        ("EXPOSURE", n_good * tl.exposure / 86400.0, "[d] time on source"),
        ("TIMEREF", "SOLARSYSTEM", "barycentric correction applied to times"),
        ("TASSIGN", "SPACECRAFT", "where time is assigned"),
        ("TIMESYS", "TDB", "time system is barycentric JD"),
        ("BJDREFI", spec.bjdref, "integer part of BJD reference date"),
        ("BJDREFF", 0.0, "fraction of the day in BJD reference date"),
        ("TIMEUNIT", "d", "time unit for TIME, TSTART and TSTOP"),
        ("TELAPSE", telapse, "[d] TSTOP - TSTART"),
        ("LIVETIME", telapse * deadc, "[d] TELAPSE multiplied by DEADC"),
        *_tstart_cards(camp),
        ("DEADC", round(deadc, 8), "deadtime correction"),
        ("TIMEPIXR", 0.5, "bin time beginning=0 middle=0.5 end=1"),
        ("TIERRELA", 5.78e-07 if k2 else 1.16e-05, "[d] relative time error"),
        ("INT_TIME", tl.frame_time, "[s] photon accumulation time per frame"),
        ("NUM_FRM", tl.n_reads, "number of frames per time stamp"),
        ("TIMEDEL", tl.timedel, "[d] time resolution of data"),
        ("BACKAPP", True, "background is subtracted"),
        ("DEADAPP", True, "deadtime applied"),
        ("VIGNAPP", True, "vignetting or collimator correction applied"),
    ]
    if k2:
        cards += [("GAIN", spec.gain, "[electrons/count] channel gain"),
                  ("READNOIS", spec.read_noise, "[electrons] read noise")]
    else:
        cards += [(f"GAIN{c}", spec.gain, "[electrons/count] CCD output gain") for c in "ABCD"]
        cards += [(f"READNOI{c}", spec.read_noise, "[electrons] read noise CCD output") for c in "ABCD"]
    cards += [
        ("NREADOUT", tl.n_reads, "number of read per cadence"),
        ("CROWDSAP", round(1.0 - float(camp.contamination[i]), 4), "Ratio of target flux to total flux in op. ap."),
        ("FLFRCSAP", round(float(camp.flux_fraction[i]), 4), "Frac. of target flux w/in the op. aperture"),
    ]
    return cards


def _wcs_values(camp: Campaign, i: int) -> dict[str, Any]:
    sc = camp.scene
    ra, dec = camp.radec(sc.col[i], sc.row[i])
    scale = camp.config.spec.pixel_scale / 3600.0
    return {
        "col0": int(sc.stamp_col0[i]), "row0": int(sc.stamp_row0[i]),
        "crpix1": float(sc.col[i] - sc.stamp_col0[i] + 1), "crpix2": float(sc.row[i] - sc.stamp_row0[i] + 1),
        "ra": float(ra), "dec": float(dec), "cdelt1": -scale, "cdelt2": scale,
    }


def pixel_wcs_cards(camp: Campaign, i: int, column: int) -> list[Card]:
    """Physical (CCD) and celestial WCS cards of TPF table column number ``column``."""
    w = _wcs_values(camp, i)
    n = column
    return [
        (f"WCSN{n}P", "PHYSICAL", "table column WCS name"),
        (f"WCAX{n}P", 2, "table column physical WCS dimensions"),
        (f"1CTY{n}P", "RAWX", "table column physical WCS axis 1 type, CCD col"),
        (f"2CTY{n}P", "RAWY", "table column physical WCS axis 2 type, CCD row"),
        (f"1CUN{n}P", "PIXEL", "table column physical WCS axis 1 unit"),
        (f"2CUN{n}P", "PIXEL", "table column physical WCS axis 2 unit"),
        (f"1CRV{n}P", w["col0"], "table column physical WCS ax 1 ref value"),
        (f"2CRV{n}P", w["row0"], "table column physical WCS ax 2 ref value"),
        (f"1CDL{n}P", 1.0, "table column physical WCS a1 step"),
        (f"2CDL{n}P", 1.0, "table column physical WCS a2 step"),
        (f"1CRP{n}P", 1, "table column physical WCS a1 reference"),
        (f"2CRP{n}P", 1, "table column physical WCS a2 reference"),
        (f"WCAX{n}", 2, "number of WCS axes"),
        (f"1CTYP{n}", "RA---TAN", "right ascension coordinate type"),
        (f"2CTYP{n}", "DEC--TAN", "declination coordinate type"),
        (f"1CRPX{n}", w["crpix1"], "[pixel] reference pixel along image axis 1"),
        (f"2CRPX{n}", w["crpix2"], "[pixel] reference pixel along image axis 2"),
        (f"1CRVL{n}", w["ra"], "[deg] right ascension at reference pixel"),
        (f"2CRVL{n}", w["dec"], "[deg] declination at reference pixel"),
        (f"1CUNI{n}", "deg", "physical unit in column dimension"),
        (f"2CUNI{n}", "deg", "physical unit in row dimension"),
        (f"1CDLT{n}", w["cdelt1"], "[deg] pixel scale in RA dimension"),
        (f"2CDLT{n}", w["cdelt2"], "[deg] pixel scale in DEC dimension"),
        (f"11PC{n}", 1.0, "linear transformation matrix element cos(th)"),
        (f"12PC{n}", 0.0, "linear transformation matrix element -sin(th)"),
        (f"21PC{n}", 0.0, "linear transformation matrix element sin(th)"),
        (f"22PC{n}", 1.0, "linear transformation matrix element cos(th)"),
    ]


def aperture_wcs_cards(camp: Campaign, i: int) -> list[Card]:
    """WCS cards of the APERTURE image extension (celestial + physical alternate 'P')."""
    w = _wcs_values(camp, i)
    ap = camp.apertures[i]
    return [
        ("INHERIT", True, "inherit the primary header"),
        ("EXTNAME", "APERTURE", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        ("TELESCOP", camp.config.spec.telescope, "telescope"),
        ("INSTRUME", camp.config.spec.instrument, "detector type"),
        *_target_cards(camp, i),
        ("WCSAXES", 2, "number of WCS axes"),
        ("CTYPE1", "RA---TAN", "right ascension coordinate type"),
        ("CTYPE2", "DEC--TAN", "declination coordinate type"),
        ("CRPIX1", w["crpix1"], "[pixel] reference pixel along image axis 1"),
        ("CRPIX2", w["crpix2"], "[pixel] reference pixel along image axis 2"),
        ("CRVAL1", w["ra"], "[deg] right ascension at reference pixel"),
        ("CRVAL2", w["dec"], "[deg] declination at reference pixel"),
        ("CUNIT1", "deg", "physical unit in column dimension"),
        ("CUNIT2", "deg", "physical unit in row dimension"),
        ("CDELT1", w["cdelt1"], "[deg] pixel scale in RA dimension"),
        ("CDELT2", w["cdelt2"], "[deg] pixel scale in Dec dimension"),
        ("PC1_1", 1.0, "linear transformation element cos(th)"),
        ("PC1_2", 0.0, "linear transformation element -sin(th)"),
        ("PC2_1", 0.0, "linear transformation element sin(th)"),
        ("PC2_2", 1.0, "linear transformation element cos(th)"),
        ("WCSNAMEP", "PHYSICAL", "name of world coordinate system alternate P"),
        ("WCSAXESP", 2, "number of WCS physical axes"),
        ("CTYPE1P", "RAWX", "physical WCS axis 1 type CCD col"),
        ("CUNIT1P", "PIXEL", "physical WCS axis 1 unit"),
        ("CRPIX1P", 1, "reference CCD column"),
        ("CRVAL1P", w["col0"], "value at reference CCD column"),
        ("CDELT1P", 1.0, "physical WCS axis 1 step"),
        ("CTYPE2P", "RAWY", "physical WCS axis 2 type CCD row"),
        ("CUNIT2P", "PIXEL", "physical WCS axis 2 units"),
        ("CRPIX2P", 1, "reference CCD row"),
        ("CRVAL2P", w["row0"], "value at reference CCD row"),
        ("CDELT2P", 1.0, "physical WCS axis 2 step"),
        ("NPIXSAP", int(ap.sum()), "Number of pixels in optimal aperture"),
        ("NPIXMISS", 0, "Number of op. aperture pixels not collected"),
    ]


def provenance_history(camp: Campaign) -> list[str]:
    """HISTORY lines: software, version, seed and the full configuration (JSON, wrapped)."""
    text = json.dumps(camp.provenance(), sort_keys=True, default=_jsonable)
    return ["halfsib.simulate provenance (JSON):"] + [text[k : k + 70] for k in range(0, len(text), 70)]


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
