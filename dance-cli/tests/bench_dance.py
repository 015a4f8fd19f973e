"""``python bench_dance.py ARGS`` = ``dance ARGS`` with the CLI tests' plugin (``cli_plugin``) registered
instead of the installed plugins: what ``dance benchmark``'s cells run in these tests (through
``DANCE_BENCHMARK_COMMAND``), since dance-cli alone has no models."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from dance.cli.app import main
from dance.core import registry
from dance.core.plugins import module_sources

SOURCES = module_sources({"core": "dance.core._plugin"}, distribution="dance-core") + module_sources(
    {"cliplugin": "cli_plugin"}, distribution="cli-plugin"
)

if __name__ == "__main__":
    registry._sources = lambda: SOURCES
    registry.refresh()
    main(sys.argv[1:])
