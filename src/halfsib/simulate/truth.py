"""Truth tables of a simulated campaign (astropy Tables with units and provenance)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ..transit import transit_duration

if TYPE_CHECKING:  # pragma: no cover
    from astropy.table import Table

    from .campaign import Campaign

__all__ = ["truth_table", "bodies_table"]


def _meta(camp: Campaign, description: str) -> dict[str, Any]:
    time_system = "BKJD = BJD_TDB - 2454833" if camp.config.mission == "k2" else "BTJD = BJD_TDB - 2457000"
    return {"description": description, "time_system": time_system, "mission": camp.config.mission.upper(),
            **camp.provenance()}


def _mask_missing(table: Table) -> Table:
    """NaN marks "not applicable" (no spots, not an EB...): store it as a masked value, never as NaN."""
    from astropy.table import MaskedColumn

    for name in table.colnames:
        col = table[name]
        if col.dtype.kind == "f" and np.isnan(np.asarray(col)).any():
            table[name] = MaskedColumn(col, mask=np.isnan(np.asarray(col)), unit=col.unit,
                                       description=col.description)
    return table


def _eb_columns(camp: Campaign) -> dict[str, np.ndarray]:
    n = camp.n_stars
    cols = {name: np.full(n, np.nan) for name in ("eb_period", "eb_t0", "eb_k", "eb_b", "eb_sb_ratio", "eb_depth",
                                                   "eb_depth_secondary")}
    for body in camp.astro.bodies:
        if body.kind != "eb":
            continue
        p = body.params
        for name, value in (("eb_period", p.period), ("eb_t0", p.t0), ("eb_k", p.rp_over_rs), ("eb_b", p.b),
                            ("eb_sb_ratio", body.sb_ratio), ("eb_depth", body.depth),
                            ("eb_depth_secondary", body.depth_secondary)):
            cols[name][body.star] = value
    return cols


def truth_table(camp: Campaign) -> Table:
    """One row per target star.

    Columns (units in the table): ``star_id``, ``object``, ``tpf_file``, ``lc_file``,
    ``column``/``row`` (CCD position at zero pointing offset) [pixel], ``focal_x``/
    ``focal_y`` (from the boresight) [pixel], ``ra``/``dec`` [deg], ``mag`` (Kp or T),
    ``flux`` [e-/s], ``saturated``, variability (``var_kind``, ``var_sigma``,
    ``gran_sigma``, ``gran_rho`` [d], ``rot_sigma``, ``rot_period`` [d], ``rot_q0``,
    ``rot_dq``, ``rot_f``), EB truth (``is_eb``, ``eb_neighbour_id``, ``eb_period`` [d],
    ``eb_t0`` [d], ``eb_k``, ``eb_b``, ``eb_sb_ratio``, ``eb_depth``,
    ``eb_depth_secondary``), aperture (``n_aperture_pixels``, ``contamination``,
    ``flux_fraction``), ``n_planets``, stamp geometry and ``roll_amplitude`` (peak-to-peak
    image motion) [pixel].
    """
    import astropy.units as u
    from astropy.table import Table

    sc, var = camp.scene, camp.astro.variability
    names = [camp.file_names(i) for i in range(camp.n_stars)]
    ra, dec = camp.radec(sc.col, sc.row)
    fx, fy = sc.focal(sc.col, sc.row)
    neighbour_id = np.where(sc.eb_neighbour >= 0, sc.ids[np.clip(sc.eb_neighbour, 0, None)], -1)
    motion = [camp.motion(i) for i in range(camp.n_stars)]
    amplitude = np.array([np.hypot(np.ptp(dc), np.ptp(dr)) for dc, dr in motion])
    t = Table(meta=_meta(camp, "halfsib simulated campaign: truth per target star"))
    t["star_id"] = sc.ids
    t["object"] = [camp.object_name(i) for i in range(camp.n_stars)]
    t["tpf_file"] = [f"tpf/{a}" for a, _ in names]
    t["lc_file"] = [f"lc/{b}" for _, b in names]
    t["column"], t["row"] = sc.col * u.pix, sc.row * u.pix
    t["focal_x"], t["focal_y"] = fx * u.pix, fy * u.pix
    t["ra"], t["dec"] = ra * u.deg, dec * u.deg
    t["mag"] = sc.mag * u.mag
    t["flux"] = sc.flux * u.electron / u.s
    t["saturated"] = camp.saturated
    t["var_kind"] = var.kind
    t["var_sigma"] = var.total_sigma()
    t["gran_sigma"], t["gran_rho"] = var.gran_sigma, var.gran_rho * u.day
    t["rot_sigma"], t["rot_period"] = var.rot_sigma, var.rot_period * u.day
    t["rot_q0"], t["rot_dq"], t["rot_f"] = var.rot_q0, var.rot_dq, var.rot_f
    t["is_eb"] = sc.is_eb
    t["eb_neighbour_id"] = neighbour_id
    for name, values in _eb_columns(camp).items():
        t[name] = values * (u.day if name in ("eb_period", "eb_t0") else 1)
    t["n_aperture_pixels"] = [int(a.sum()) for a in camp.apertures]
    t["contamination"] = camp.contamination
    t["flux_fraction"] = camp.flux_fraction
    t["n_planets"] = camp.astro.n_planets(camp.n_stars)
    t["stamp_col0"], t["stamp_row0"] = sc.stamp_col0, sc.stamp_row0
    t["stamp_nx"], t["stamp_ny"] = sc.stamp_nx, sc.stamp_ny
    t["roll_amplitude"] = amplitude * u.pix
    for name, text in _DESCRIPTIONS.items():
        t[name].description = text
    return _mask_missing(t)


_DESCRIPTIONS = {
    "column": "CCD column of the star at zero pointing offset (pixel centres on integers)",
    "row": "CCD row of the star at zero pointing offset",
    "focal_x": "focal-plane x from the boresight (roll axis), along columns",
    "focal_y": "focal-plane y from the boresight, along rows",
    "mag": "Kepler (Kp) or TESS (T) magnitude",
    "flux": "total detected flux of the star (all pixels)",
    "var_sigma": "standard deviation of the GP variability, relative flux",
    "gran_sigma": "granulation-like SHO term (Q=1/sqrt 2) standard deviation, relative flux",
    "gran_rho": "granulation-like SHO term undamped period",
    "rot_sigma": "celerite2 RotationTerm standard deviation, relative flux (NaN: no spots)",
    "eb_neighbour_id": "target the EB was placed 2-4 pixels from (-1: none)",
    "eb_k": "radius ratio R2/R1",
    "eb_depth": "primary eclipse depth at mid-eclipse, fraction of the EB's flux",
    "contamination": "fraction of the mean star light in the aperture from other stars",
    "flux_fraction": "fraction of the target's light inside its aperture",
    "roll_amplitude": "peak-to-peak image motion of the star over the campaign",
}


def _n_events(camp: Campaign, params) -> int:
    """Events (transits/primary eclipses) with at least one cadence with data within T14/2."""
    time = camp.time
    good = ~camp.timeline.no_data
    half = 0.5 * max(transit_duration(params), camp.timeline.timedel)
    epochs = np.arange(np.ceil((time[0] - half - params.t0) / params.period),
                       np.floor((time[-1] + half - params.t0) / params.period) + 1)
    mids = params.t0 + epochs * params.period
    idx = np.searchsorted(time[good], mids - half)
    ends = np.searchsorted(time[good], mids + half, side="right")
    return int(np.sum(ends > idx))


def bodies_table(camp: Campaign) -> Table:
    """One row per injected planet or eclipsing companion.

    Columns: ``star_id``, ``object``, ``kind`` ("planet"/"eb"), ``period`` [d], ``t0`` [d,
    BKJD/BTJD], ``rp_over_rs``, ``a_over_rs``, ``b``, ``inclination`` [deg], ``q1``,
    ``q2``, ``u1``, ``u2``, ``ecc``, ``omega`` [deg], ``duration`` (T14) [h], ``depth``
    and ``depth_secondary`` [ppm], ``sb_ratio`` (EB surface-brightness ratio) and
    ``n_events`` (transits with data).
    """
    import astropy.units as u
    from astropy.table import Table

    rows = []
    for body in camp.astro.bodies:
        p = body.params
        u1, u2 = p.u
        rows.append((int(camp.ids[body.star]), camp.object_name(body.star), body.kind, p.period, p.t0, p.rp_over_rs,
                     p.a_over_rs, p.b, p.inclination, p.q1, p.q2, u1, u2, p.ecc, p.omega,
                     24.0 * transit_duration(p), 1e6 * body.depth, 1e6 * body.depth_secondary, body.sb_ratio,
                     _n_events(camp, p)))
    names = ("star_id", "object", "kind", "period", "t0", "rp_over_rs", "a_over_rs", "b", "inclination", "q1", "q2",
             "u1", "u2", "ecc", "omega", "duration", "depth", "depth_secondary", "sb_ratio", "n_events")
    dtypes = ("i8", "U20", "U6", *(["f8"] * 16), "i8")
    t = Table(rows=rows or None, names=names, dtype=dtypes,
              meta=_meta(camp, "halfsib simulated campaign: one row per transiting planet or eclipsing companion"))
    for name, unit in (("period", u.day), ("t0", u.day), ("inclination", u.deg), ("omega", u.deg),
                       ("duration", u.hour), ("depth", u.dimensionless_unscaled * 1e-6),
                       ("depth_secondary", u.dimensionless_unscaled * 1e-6)):
        t[name].unit = unit
    t["depth"].unit = t["depth_secondary"].unit = "ppm"
    t["t0"].description = "mid-transit (primary eclipse) time, same system as the files' TIME column"
    t["depth"].description = "depth at mid-event without exposure smearing, in ppm of the star's flux"
    t["sb_ratio"].description = "EB: surface-brightness ratio companion/primary (NaN for planets)"
    return _mask_missing(t)
