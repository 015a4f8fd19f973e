"""Fingerprints, atomic records and the per-cell lock that a run's child process inherits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from dance.core.benchmark import expand_cells, make_config
from dance.core.benchmark.locks import is_locked, try_lock, unlock
from dance.core.benchmark.records import atomic_write_json, fingerprint, fingerprint_digest, read_result


def _cell(registry, data, **fields):
    config = make_config({"task": "clustering", "models": ["kmeans_test"], "datasets": [str(data)], **fields})
    (cell,) = expand_cells(config, registry)
    return cell


def test_the_fingerprint_follows_everything_a_result_depends_on(kit_registry, cells_file):
    base = fingerprint_digest(fingerprint(_cell(kit_registry, cells_file), kit_registry))
    assert fingerprint_digest(fingerprint(_cell(kit_registry, cells_file), kit_registry)) == base
    changed = [
        _cell(kit_registry, cells_file, params={"n_clusters": 4}),
        _cell(kit_registry, cells_file, seeds=[1]),
        _cell(kit_registry, cells_file, args=["--n-clusters-from-labels"]),
        _cell(kit_registry, cells_file, device="auto"),
    ]
    digests = {fingerprint_digest(fingerprint(c, kit_registry)) for c in changed}
    assert base not in digests and len(digests) == len(changed)
    value = fingerprint(_cell(kit_registry, cells_file), kit_registry)
    assert value["versions"]["dance-core"] and value["input"]["sha256"]
    time.sleep(0.01)
    cells_file.write_bytes(b"other content\n")  # the same file name, new content: a new fingerprint
    assert fingerprint_digest(fingerprint(_cell(kit_registry, cells_file), kit_registry)) != base


def test_records_are_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / "record.json"
    atomic_write_json(path, {"status": "ok"})

    def broken_dump(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(RuntimeError):
        atomic_write_json(path, {"status": "failed"})
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"status": "ok"}
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]  # no temporary file left behind


def test_a_truncated_result_counts_as_missing(tmp_path):
    complete = json.dumps({"task": "clustering", "metrics": {"ari": 0.5}})
    (tmp_path / "result.json").write_text(complete[:-5])
    assert read_result(tmp_path) is None
    (tmp_path / "result.json").write_text(complete)
    assert read_result(tmp_path)["metrics"] == {"ari": 0.5}


def test_the_lock_outlives_the_parent_in_the_child_it_passed_it_to(tmp_path):
    path = tmp_path / ".benchmark.lock"
    fd = try_lock(path)
    assert fd is not None and try_lock(path) is None and is_locked(path)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], pass_fds=(fd,))
    try:
        unlock(fd)  # the parent lets go (as a killed driver would): the child still holds the lock
        assert is_locked(path)
    finally:
        child.kill()
        child.wait()
    assert not is_locked(path)
    fd = try_lock(path)
    assert fd is not None
    unlock(fd)
    assert not os.path.exists(tmp_path / "missing.lock") and not is_locked(tmp_path / "missing.lock")
