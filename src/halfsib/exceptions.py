"""Typed errors and warnings raised by halfsib.

Every error a user can trigger with bad input derives from :class:`HalfsibError`,
so scripts can catch one class; the CLI turns these into a one-line message and a
non-zero exit status (tracebacks only with ``--traceback``).
"""

from __future__ import annotations

from numpy.linalg import LinAlgError

__all__ = [
    "HalfsibError",
    "DataValidationError",
    "FileFormatError",
    "ConfigurationError",
    "NotPositiveDefiniteError",
    "NotFittedError",
    "HalfsibWarning",
]


class HalfsibError(Exception):
    """Base class of every error halfsib raises on purpose."""


class DataValidationError(HalfsibError, ValueError):
    """Input data are unusable (NaN-only, unsorted, zero errors, too short, ...).

    Parameters
    ----------
    message : str
        What is wrong and what to do about it.
    source : str, optional
        The file (or object description) the data came from; prefixed to the message.
    """

    def __init__(self, message: str, source: str | None = None):
        self.source = source
        self.problem = message
        super().__init__(f"{source}: {message}" if source else message)


class FileFormatError(DataValidationError):
    """A file cannot be read: not FITS, truncated, corrupted, unknown format, missing column."""


class ConfigurationError(HalfsibError, ValueError):
    """A setting is out of range or inconsistent; the message names the setting."""


class NotPositiveDefiniteError(HalfsibError, LinAlgError):
    """A covariance or normal matrix that must be positive definite is not."""


class NotFittedError(HalfsibError, AttributeError):
    """A method that needs a fitted model was called before ``fit``."""


class HalfsibWarning(UserWarning):
    """Something was repaired or assumed; the message says what."""
