"""Printing tables and JSON for the ``dance`` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
error_console = Console(stderr=True)


def print_json(value: Any) -> None:
    """JSON on stdout, undecorated, so it can be piped."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    # names (models, datasets, metrics) must not be cut inside a word: when the terminal is too
    # narrow for every column's longest word (plus 3 characters of border and padding each), each
    # row is printed as a block of "column: value" lines instead of a table
    longest = [max((len(word) for row in [list(columns), *cells] for word in row[i].split()), default=0) for i in range(len(columns))]
    if sum(longest) + 3 * len(columns) + 1 > console.width:
        _print_blocks(title, columns, cells)
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    for i, column in enumerate(columns):
        table.add_column(column, no_wrap=i == 0, min_width=longest[i])
    for row in cells:
        table.add_row(*row)
    console.print(table)


def _print_blocks(title: str | None, columns: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
    if title:
        console.print(title, highlight=False, markup=False)
    width = max(len(c) for c in columns[1:]) if len(columns) > 1 else 0
    for row in cells:
        console.print(f"\n[bold]{escape(row[0])}[/bold]", highlight=False)
        for column, value in zip(columns[1:], row[1:], strict=True):
            console.print(f"  {column:<{width}}  {value}", highlight=False, markup=False)


def shorten_list(names: Sequence[str], limit: int = 3) -> str:
    """``a, b, c`` or, past ``limit`` names, ``a, b, c (+11 more)`` for narrow table cells."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} (+{len(names) - limit} more)"


def print_error(message: str) -> None:
    error_console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


def format_metric(value: float) -> str:
    return f"{value:.4f}"
