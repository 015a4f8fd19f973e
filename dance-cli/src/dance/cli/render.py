"""Printing tables and JSON for the ``dance`` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

console = Console()
error_console = Console(stderr=True)


def print_json(value: Any) -> None:
    """JSON on stdout, undecorated, so it can be piped."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A table on stdout; cells are plain text (``[embedded]`` is shown, not read as rich markup).

    Names (models, datasets, metrics) are never cut inside a word: when the terminal is too narrow
    for every column's longest word (plus 3 characters of border and padding each), each row is
    printed as a block of ``column  value`` lines instead (:func:`_print_blocks`).
    """
    cells = [["" if v is None else str(v) for v in row] for row in rows]
    longest = [max((len(word) for row in [list(columns), *cells] for word in row[i].split()), default=0) for i in range(len(columns))]
    if sum(longest) + 3 * len(columns) + 1 > console.width:
        _print_blocks(title, columns, cells)
        return
    table = Table(title=Text(title) if title else None, title_justify="left", header_style="bold")
    for i, column in enumerate(columns):
        table.add_column(Text(column), no_wrap=i == 0, min_width=longest[i])
    for row in cells:
        table.add_row(*(Text(cell) for cell in row))
    console.print(table)


def _print_blocks(title: str | None, columns: Sequence[str], cells: Sequence[Sequence[str]]) -> None:
    """Rows as blocks: the first cell as a heading, then one ``column  value`` line per column.

    A two-column table (``field``/``value``, as ``dance info`` prints) becomes one ``field  value``
    list. Values wrap at the terminal width without cutting words, and continuation lines (wrapped
    or the value's own line breaks) stay indented under the value.
    """
    if title:
        console.print(title, highlight=False, markup=False)
    if len(columns) == 2:
        width = max((len(row[0]) for row in cells), default=0)
        for row in cells:
            _print_labelled(row[0], row[1], width, indent=0)
        return
    width = max(len(c) for c in columns[1:]) if len(columns) > 1 else 0
    for row in cells:
        console.print(Text("\n" + row[0], style="bold"), highlight=False)
        for column, value in zip(columns[1:], row[1:], strict=True):
            _print_labelled(column, value, width, indent=2)


def _print_labelled(label: str, value: str, width: int, *, indent: int) -> None:
    import textwrap

    lead = " " * indent + f"{label:<{width}}  "
    hanging = " " * len(lead)
    room = console.width - len(lead)
    if room < max((len(word) for word in value.split()), default=0):
        # a name longer than the room beside the label goes below it, never cut
        console.print(lead.rstrip(), highlight=False, markup=False, soft_wrap=True)
        lead = hanging = " " * (indent + 4)
        room = console.width - len(lead)
    lines: list[str] = []
    for paragraph in value.split("\n") or [""]:
        lines.extend(textwrap.wrap(paragraph, room, break_long_words=False, break_on_hyphens=False) or [""])
    for i, line in enumerate(lines):
        console.print((lead if i == 0 else hanging) + line, highlight=False, markup=False, soft_wrap=True)


def shorten_list(names: Sequence[str], limit: int = 3) -> str:
    """``a, b, c`` or, past ``limit`` names, ``a, b, c (+11 more)`` for narrow table cells."""
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} (+{len(names) - limit} more)"


def print_error(message: str) -> None:
    error_console.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, markup=True, soft_wrap=True)


def format_metric(value: float) -> str:
    return f"{value:.4f}"
