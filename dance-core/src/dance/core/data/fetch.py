"""Finding, verifying and downloading dataset files.

A file is looked for, in order:

1. in the Python package that embeds it (small defaults ship inside the wheels);
2. in every folder of ``DANCE_DATA_DIR`` (``os.pathsep``-separated), at its relative path or
   by its bare file name;
3. in the user cache (``DANCE_CACHE_DIR``, default ``pooch.os_cache("dance")``);
4. downloaded from its URL with pooch into the cache.

Every file is checked against its sha256 before use (verified hashes are remembered in a small
JSON file keyed by path, size and modification time, so large files are hashed once). A download
goes to a temporary file that is renamed only once complete and verified, so a failed download
never leaves a partial file behind. Offline, the error names the missing file and how to
provide it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from dance.core.errors import ChecksumMismatchError, DataFileMissingError

if TYPE_CHECKING:
    from dance.core.specs import DataFile, DatasetSpec

__all__ = ["cache_dir", "data_dirs", "fetch_dataset", "file_status", "locate_file", "sha256_of"]

_MEMO_NAME = "verified-sha256.json"


def data_dirs() -> list[Path]:
    """Folders named by ``DANCE_DATA_DIR``, in order."""
    value = os.environ.get("DANCE_DATA_DIR", "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def cache_dir() -> Path:
    """Where downloads go: ``DANCE_CACHE_DIR`` or the platform's user cache folder."""
    value = os.environ.get("DANCE_CACHE_DIR")
    if value:
        return Path(value).expanduser()
    import pooch

    return Path(pooch.os_cache("dance"))


def sha256_of(path: Path, *, chunk: int = 1 << 20) -> str:
    """sha256 of a file, hashed in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _memo_path() -> Path:
    return cache_dir() / _MEMO_NAME


def _load_memo() -> dict[str, list]:
    try:
        return json.loads(_memo_path().read_text())
    except (OSError, ValueError):
        return {}


def _remember(path: Path, digest: str) -> None:
    memo = _load_memo()
    stat = path.stat()
    memo[str(path.resolve())] = [stat.st_size, stat.st_mtime_ns, digest]
    target = _memo_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=target.parent, delete=False, suffix=".tmp") as handle:
            json.dump(memo, handle)
        os.replace(handle.name, target)
    except OSError:
        pass  # the memo only saves time; a read-only cache is fine


def verified(path: Path, expected: str) -> bool:
    """True when ``path`` has sha256 ``expected`` (using the memo when size and mtime match)."""
    stat = path.stat()
    entry = _load_memo().get(str(path.resolve()))
    if entry and entry[0] == stat.st_size and entry[1] == stat.st_mtime_ns:
        return entry[2] == expected
    digest = sha256_of(path)
    _remember(path, digest)
    return digest == expected


_PINS_NAME = "pinned-sha256.json"


def _pins() -> dict[str, str]:
    try:
        return json.loads((cache_dir() / _PINS_NAME).read_text())
    except (OSError, ValueError):
        return {}


def _pin(file: DataFile, digest: str) -> None:
    pins = _pins()
    pins[file.path] = digest
    target = cache_dir() / _PINS_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=target.parent, delete=False, suffix=".tmp") as handle:
        json.dump(pins, handle, indent=1)
    os.replace(handle.name, target)


def expected_sha256(file: DataFile) -> str | None:
    """The declared sha256, or the one pinned at first use for files whose upstream publishes none."""
    return file.sha256 or _pins().get(file.path)


def _check(path: Path, file: DataFile, dataset: str, where: str) -> Path:
    expected = expected_sha256(file)
    if expected is None:  # first use of a file with no published hash: pin it
        _pin(file, sha256_of(path))
        return path
    if not verified(path, expected):
        pinned = "" if file.sha256 else f" (pinned at first use in {cache_dir() / _PINS_NAME})"
        raise ChecksumMismatchError(
            f"{dataset}: {path} ({where}) has sha256 {sha256_of(path)}, expected {expected}{pinned}; "
            "the file is corrupt or a different version: replace it with the original"
        )
    return path


def _package_folders(package: str) -> list[Path]:
    """Folders that may hold ``package``'s files, found without importing it.

    ``importlib.resources`` imports the package and its parents (``scanpy.datasets`` imports all of
    scanpy, 0.6 s), which made ``dance data list`` slow; a top-level package's spec names its
    folders without running any code.
    """
    import importlib.util
    import sys

    module = sys.modules.get(package)
    if module is not None:
        return [Path(p) for p in getattr(module, "__path__", [])]
    head, *rest = package.split(".")
    try:
        spec = importlib.util.find_spec(head)
    except (ImportError, ValueError):
        return []
    if spec is None or spec.submodule_search_locations is None:
        return []
    return [Path(location, *rest) for location in spec.submodule_search_locations]


def _embedded(file: DataFile) -> Path | None:
    if not file.package:
        return None
    for folder in _package_folders(file.package):
        candidate = folder / file.filename
        if candidate.is_file():
            return candidate
    try:  # packages installed through an import hook (some editable installs) have no plain folder
        candidate = resources.files(file.package).joinpath(file.filename)
    except ModuleNotFoundError:
        return None
    path = Path(str(candidate))
    return path if path.is_file() else None


def _local_candidates(file: DataFile) -> list[tuple[Path, str]]:
    found = []
    for folder in data_dirs():
        for candidate in (folder / file.path, folder / file.filename):
            if candidate.is_file():
                found.append((candidate, "DANCE_DATA_DIR"))
                break
    cached = cache_dir() / file.path
    if cached.is_file():
        found.append((cached, "cache"))
    return found


def file_status(spec: DatasetSpec) -> list[tuple[DataFile, str | None]]:
    """Where each file of ``spec`` would come from ('embedded', 'DANCE_DATA_DIR', 'cache'), or None.

    Looks only at what exists; no hashing, no download.
    """
    status = []
    for file in spec.files:
        if _embedded(file) is not None:
            status.append((file, "embedded"))
            continue
        local = _local_candidates(file)
        status.append((file, local[0][1] if local else None))
    return status


def locate_file(spec: DatasetSpec | str, file: DataFile, *, download: bool = True, progressbar: bool = False) -> Path:
    """The verified local path of one file of ``spec`` (a dataset spec, or the name of what
    needs the file), downloading it if allowed and needed."""
    name = spec if isinstance(spec, str) else f"dataset '{spec.name}'"
    mismatch: ChecksumMismatchError | None = None
    embedded = _embedded(file)
    if embedded is not None:
        try:
            return _check(embedded, file, name, f"embedded in {file.package}")
        except ChecksumMismatchError as exc:  # e.g. another package version embeds another file
            mismatch = exc
    for path, where in _local_candidates(file):
        return _check(path, file, name, where)
    if mismatch is not None and not (file.url and download):
        raise mismatch
    reason = "it has no download URL"
    if file.url and download:
        try:
            return _download(file, progressbar=progressbar)
        except ChecksumMismatchError:
            raise
        except Exception as exc:  # offline, HTTP error, ...
            reason = f"downloading {file.url} failed ({type(exc).__name__}: {str(exc)[:200]})"
    elif file.url:
        reason = "downloads are disabled"
    folders = ", ".join(map(str, data_dirs())) or "not set"
    origin = f" from {file.url}" if file.url else (f" (converted from {file.source})" if file.source else "")
    raise DataFileMissingError(
        f"{name} needs file '{file.path}' (sha256 {file.sha256 or 'unpublished upstream'}), which is not in DANCE_DATA_DIR ({folders}) "
        f"nor in the cache ({cache_dir()}), and {reason}. Get the file{origin} and either put it at "
        f"{cache_dir() / file.path} or set DANCE_DATA_DIR to a folder that holds '{file.path}'."
    )


def _download(file: DataFile, *, progressbar: bool) -> Path:
    import pooch

    target = cache_dir() / file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    expected = expected_sha256(file)
    try:
        # pooch writes to a temporary file and renames it only after the hash matched
        known = f"sha256:{expected}" if expected else None
        path = Path(pooch.retrieve(file.url, known_hash=known, fname=target.name, path=target.parent, progressbar=progressbar))
    except ValueError as exc:
        if "hash" in str(exc).lower():
            raise ChecksumMismatchError(f"download of {file.url} does not match sha256 {expected}: {exc}") from exc
        raise
    digest = sha256_of(path)
    if expected is None:
        _pin(file, digest)
    _remember(path, digest)
    return path


def fetch_dataset(spec: DatasetSpec, *, download: bool = True, progressbar: bool = False) -> dict[str, Path]:
    """Verified local paths of every file of ``spec``, keyed by the file's relative path."""
    return {file.path: locate_file(spec, file, download=download, progressbar=progressbar) for file in spec.files}
