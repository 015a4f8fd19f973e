"""Typer command classes whose ``--help`` shows no value placeholder after flags.

Typer 0.29 prints a type such as ``<bool>`` after every option, flags included (``--help
<bool>``), which reads as if the flag took a value. dance's own flags declare ``metavar=""``;
these classes do the same for the ``--help`` option Typer adds itself. They work with every Typer
version dance supports (the ones with their own copy of click and the older ones built on click).
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup

__all__ = ["FlagAwareCommand", "FlagAwareGroup"]


def _without_placeholder(option: Any) -> Any:
    if option is not None:
        option.metavar = ""
    return option


class FlagAwareCommand(TyperCommand):
    """A command whose ``--help`` flag is listed without a value placeholder."""

    def get_help_option(self, ctx: Any) -> Any:
        return _without_placeholder(super().get_help_option(ctx))


class FlagAwareGroup(TyperGroup):
    """A command group whose ``--help`` flag is listed without a value placeholder."""

    def get_help_option(self, ctx: Any) -> Any:
        return _without_placeholder(super().get_help_option(ctx))
