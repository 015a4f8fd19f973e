from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE_DANCE = Path(__file__).with_name("fake_dance.py")


@pytest.fixture
def kit_registry(make_registry):
    """dance-core's tasks plus the kit's test models (kmeans_test, random_test, mutating_test)."""
    return make_registry({"kit": "kit_plugins"})


@pytest.fixture
def fake_dance() -> list[str]:
    """How the driver calls the stand-in for ``dance`` (see fake_dance.py)."""
    return [sys.executable, str(FAKE_DANCE)]


@pytest.fixture
def cells_file(tmp_path) -> Path:
    """A small input file (the fake never reads it; its sha256 enters the fingerprint)."""
    path = tmp_path / "cells.h5ad"
    path.write_bytes(b"not really an h5ad file\n")
    return path
