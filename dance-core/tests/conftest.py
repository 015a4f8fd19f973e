from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def make_registry():
    """Build an isolated registry from plugin modules given by name -> module (core included)."""
    from dance.core.plugins import module_sources
    from dance.core.registry import Registry

    def build(plugins: dict | None = None, **kwargs):
        sources = module_sources({"core": "dance.core._plugin"}, distribution="dance-core")
        sources += module_sources(plugins or {})
        return Registry(sources, **kwargs)

    return build
