"""The design matrix: named groups of regressor columns, each with its own prior scale.

Every regressor builder in :mod:`halfsib.regressors` returns a :class:`RegressorGroup`;
:func:`DesignMatrix.from_groups` stacks them. The model
(:mod:`halfsib.model`) gives each group one prior variance λ_g, fitted by maximising the
marginal likelihood, so a group's columns should share a natural scale. Columns are
standardised to unit RMS over the good cadences (``prior_scale`` is then the RMS flux
a typical column contributes, in the target's flux units).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .exceptions import ConfigurationError, DataValidationError

__all__ = ["RegressorGroup", "DesignMatrix"]


@dataclass(frozen=True, eq=False)
class RegressorGroup:
    """One named block of regressor columns on the target's cadence grid.

    Attributes
    ----------
    name : str
        Group name (``"elc"``, ``"cpm"``, ``"pld"``, ``"cbv"``, ``"motion"``, ``"spline"``...).
    columns : ndarray, shape (N, m)
        Finite everywhere (regressors are filled at cadences where their sources have no
        data; the model only uses the target's good cadences).
    prior_scale : float
        Initial prior standard deviation of each weight, target flux units per unit column.
    column_names : tuple of str
        One label per column.
    description : str
        How the group was built (for headers and plots).
    """

    name: str
    columns: NDArray[np.float64]
    prior_scale: float
    column_names: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        cols = np.asarray(self.columns, dtype=np.float64)
        if cols.ndim != 2:
            raise DataValidationError(f"regressor group {self.name!r}: columns must be 2-D (N, m), got {cols.shape}")
        if not np.all(np.isfinite(cols)):
            raise DataValidationError(f"regressor group {self.name!r} has NaN or infinite values; fill gaps first")
        if not (np.isfinite(self.prior_scale) and self.prior_scale > 0):
            raise ConfigurationError(f"regressor group {self.name!r}: prior_scale must be > 0, got {self.prior_scale}")
        object.__setattr__(self, "columns", np.ascontiguousarray(cols))
        if not self.column_names:
            object.__setattr__(self, "column_names", tuple(f"{self.name}{i}" for i in range(cols.shape[1])))
        if len(self.column_names) != cols.shape[1]:
            raise ConfigurationError(f"regressor group {self.name!r}: {len(self.column_names)} names for "
                                     f"{cols.shape[1]} columns")

    @property
    def n_columns(self) -> int:
        """Number of columns m."""
        return int(self.columns.shape[1])


@dataclass(frozen=True, eq=False)
class DesignMatrix:
    """Regressor groups stacked side by side: ``matrix`` (N, M) and the group of each column."""

    matrix: NDArray[np.float64]
    groups: Mapping[str, slice]
    prior_scales: Mapping[str, float]
    column_names: tuple[str, ...]
    descriptions: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_groups(cls, groups: Iterable[RegressorGroup], n_cadences: int | None = None) -> DesignMatrix:
        """Stack groups (names must be unique; empty groups are dropped).

        ``n_cadences`` is needed only when there is no group (a design with no columns).
        """
        groups = [g for g in groups if g.n_columns > 0]
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"regressor group names must be unique, got {names}")
        if groups:
            n = {g.columns.shape[0] for g in groups}
            if len(n) != 1:
                raise DataValidationError(f"regressor groups have different lengths {sorted(n)}")
            matrix = np.hstack([g.columns for g in groups])
        elif n_cadences is not None:
            matrix = np.zeros((int(n_cadences), 0))
        else:
            raise ConfigurationError("a design without regressor groups needs n_cadences")
        slices, start = {}, 0
        for g in groups:
            slices[g.name] = slice(start, start + g.n_columns)
            start += g.n_columns
        return cls(
            matrix=np.ascontiguousarray(matrix),
            groups=slices,
            prior_scales={g.name: float(g.prior_scale) for g in groups},
            column_names=tuple(c for g in groups for c in g.column_names),
            descriptions={g.name: g.description for g in groups},
        )

    @property
    def n_columns(self) -> int:
        """Total number of columns M."""
        return int(self.matrix.shape[1])

    @property
    def group_names(self) -> tuple[str, ...]:
        """Group names in column order."""
        return tuple(self.groups)

    def subset(self, names: Iterable[str]) -> DesignMatrix:
        """A design with only the named groups (for the flexibility ladder)."""
        keep = list(names)
        unknown = set(keep) - set(self.groups)
        if unknown:
            raise ConfigurationError(f"unknown regressor groups {sorted(unknown)}; have {list(self.groups)}")
        parts = [RegressorGroup(n, self.matrix[:, self.groups[n]], self.prior_scales[n],
                                self.column_names[self.groups[n]], self.descriptions.get(n, "")) for n in keep]
        return DesignMatrix.from_groups(parts, n_cadences=self.matrix.shape[0])

    def rows(self, index: NDArray[np.int64] | NDArray[np.bool_]) -> NDArray[np.float64]:
        """The matrix restricted to some cadences (e.g. the good ones)."""
        return np.ascontiguousarray(self.matrix[index])
