"""Checks shared by the readers: the file exists, and a clear error when it cannot be read."""

from __future__ import annotations

from pathlib import Path

from dance.core.errors import DanceInputError

__all__ = ["existing_path", "not_readable"]


def not_readable(path: Path, what: str, exc: BaseException) -> DanceInputError:
    """The error for a file that exists but is not a readable ``what`` file (names the cause)."""
    return DanceInputError(f"{path} is not a readable {what} file ({type(exc).__name__}: {str(exc)[:200]})", field=str(path))


def existing_path(path: str | Path) -> Path:
    """``path`` (user-expanded), or an error naming it when there is no such file or folder."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DanceInputError(f"{path}: no such file or folder", field=str(path))
    return path
