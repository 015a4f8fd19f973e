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


@pytest.mark.parametrize("width", [60, 160])
def test_cells_are_plain_text_not_rich_markup(monkeypatch, width):
    buffer = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=buffer, width=width, color_system=None))
    render.print_table(
        "dataset x", ["field", "value"], [("files", "clustering/pbmc.h5 [embedded] https://example.org/pbmc.h5"), ("x", "[bold]y[/bold]")]
    )
    out = buffer.getvalue()
    assert "[embedded]" in out and "[bold]y[/bold]" in out


def test_multi_line_values_stay_indented_under_their_value_in_a_narrow_terminal(monkeypatch):
    buffer = io.StringIO()
    monkeypatch.setattr(render, "console", Console(file=buffer, width=30, color_system=None))
    render.print_table("dataset x", ["field", "value"], [("tasks", "clustering\nimputation\ncell_type_annotation"), ("name", "pbmc4k_10x")])
    lines = buffer.getvalue().splitlines()
    assert lines[1:4] == ["tasks  clustering", "       imputation", "       cell_type_annotation"]
    assert lines[4] == "name   pbmc4k_10x" and max(len(line) for line in lines) <= 30
