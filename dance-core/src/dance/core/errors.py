"""Exceptions raised by dance.

Every error a user can trigger with bad input derives from :class:`DanceError`, so the
command line can print one clear message (and exit non-zero) instead of a traceback.
Messages name the offending field or name and say what was expected.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ChecksumMismatchError",
    "DanceError",
    "DanceInputError",
    "DataFileMissingError",
    "DeviceUnavailableError",
    "DuplicateNameError",
    "NotFittedError",
    "TargetImportError",
    "UnknownNameError",
    "did_you_mean",
]


class DanceError(Exception):
    """Base class of every error dance raises on purpose."""

    def __str__(self) -> str:  # KeyError subclasses would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class DanceInputError(DanceError, ValueError):
    """The user's data (or a parameter) does not meet a task or model contract.

    Parameters
    ----------
    message
        The whole message, which names the field and what was expected.
    field
        The offending field, written as the user would address it
        (``"obs['cell_type']"``, ``"X"``, ``"mod2.obs_names"``, ``"param 'n_neighbors'"``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownNameError(DanceError, KeyError):
    """A task, model, dataset, transform or metric name is not registered."""

    def __init__(self, kind: str, name: str, candidates: Iterable[str], *, hint: str = "") -> None:
        candidates = sorted(set(candidates))
        self.kind = kind
        self.name = name
        self.suggestions = did_you_mean(name, candidates)
        message = f"unknown {kind} '{name}'"
        if self.suggestions:
            message += "; did you mean " + " or ".join(f"'{s}'" for s in self.suggestions) + "?"
        elif candidates:
            shown = ", ".join(candidates[:20]) + (", ..." if len(candidates) > 20 else "")
            message += f"; available: {shown}"
        else:
            message += f"; no {kind} is registered"
        if hint:
            message += f" ({hint})"
        super().__init__(message)


class DuplicateNameError(DanceError):
    """Two plugins registered the same name for the same kind of entry."""


class TargetImportError(DanceError, ImportError):
    """A registered ``module:attr`` target could not be imported."""


class DataFileMissingError(DanceError, FileNotFoundError):
    """A dataset file is neither available locally nor downloadable."""


class ChecksumMismatchError(DanceError):
    """A dataset file does not have the sha256 its spec declares."""


class DeviceUnavailableError(DanceError):
    """The requested compute device is not available on this machine."""


class NotFittedError(DanceError, AttributeError):
    """``predict`` or ``score`` was called before ``fit``."""


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Return up to ``n`` registered names close to ``name`` (case-insensitive)."""
    candidates = list(candidates)
    lowered = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[m] for m in matches]


class MetricNotComputableError(DanceError):
    """The data lack what a metric needs (cell-cycle genes, a pseudotime, several batches); the
    message is the reason, reported with the results in place of a value."""
