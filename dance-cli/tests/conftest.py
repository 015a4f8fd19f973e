from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def cli_registry(monkeypatch):
    """Point the CLI's registry at dance-core plus a test plugin (dance-cli alone has no models)."""
    from dance.core import registry
    from dance.core.plugins import module_sources

    sources = module_sources({"core": "dance.core._plugin"}, distribution="dance-core") + module_sources(
        {"cliplugin": "cli_plugin"}, distribution="cli-plugin"
    )
    monkeypatch.setattr(registry, "_sources", lambda: sources)
    registry.refresh()
    yield registry
    monkeypatch.undo()
    registry.refresh()
