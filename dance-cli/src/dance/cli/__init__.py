"""dance-cli: the ``dance`` command (Typer)."""

from dance.cli.app import app, main

__all__ = ["app", "main"]
