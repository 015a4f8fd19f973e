from __future__ import annotations

import io

import pytest
from rich.console import Console

from dance.cli import render

ROWS = [("cell_type_deconvolution", 5, "cerebellum_pseudospots", "mse, jsd"), ("clustering", 7, "pbmc4k_10x", "ari, nmi")]
COLUMNS = ["task", "models", "default dataset", "metrics"]


def printed(monkeypatch: pytest.MonkeyPatch, width: int) -> str:
    buffer = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=buffer, width=width, color_system=None))
    render.print_table("tasks", COLUMNS, ROWS)
    return buffer.getvalue()


@pytest.mark.parametrize("width", [40, 60, 120])
def test_tables_never_cut_a_name_at_any_terminal_width(monkeypatch, width):
    out = printed(monkeypatch, width)
    for name in ("cell_type_deconvolution", "cerebellum_pseudospots", "pbmc4k_10x", "default dataset"):
        assert name in out
    assert max(len(line) for line in out.splitlines()) <= width


def test_a_wide_terminal_gets_a_table_and_a_narrow_one_blocks(monkeypatch):
    assert "┃ task" in printed(monkeypatch, 120)
    narrow = printed(monkeypatch, 60).splitlines()
    assert "┃" not in "".join(narrow)
    assert "  default dataset  cerebellum_pseudospots" in narrow


def test_shorten_list_counts_what_it_leaves_out():
    assert render.shorten_list(["a", "b"]) == "a, b"
    assert render.shorten_list(["a", "b", "c", "d", "e"]) == "a, b, c (+2 more)"
