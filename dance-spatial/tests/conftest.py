"""Shared setup of dance-spatial's tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Run torch on one intra-op thread. The test models are tiny (a few hundred spots), where a second
    thread saves nothing, and on a loaded 2-core machine two spinning OpenMP threads per process made
    STAGATE's unit test 40x slower (8 s instead of 0.2 s for 30 epochs)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of dance-spatial
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
