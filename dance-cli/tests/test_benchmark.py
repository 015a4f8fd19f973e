"""``dance benchmark``: the grid from options or a TOML file, the real ``dance run`` per cell (with the
tests' plugin, through ``DANCE_BENCHMARK_COMMAND``), resume, the GPU check and the report."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dance.cli.app import main
from dance.cli.benchmark_command import _sweeps, spread_multi_values
from dance.core.testing import synthetic_data

BENCH_DANCE = Path(__file__).with_name("bench_dance.py")


def call(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def cells(tmp_path) -> Path:
    path = tmp_path / "cells.h5ad"
    synthetic_data("clustering").write_h5ad(path)
    return path


@pytest.fixture
def bench_command(monkeypatch):
    """Cells run ``bench_dance.py`` (``dance`` with the tests' plugin) instead of ``python -m dance.cli``."""
    monkeypatch.setenv("DANCE_BENCHMARK_COMMAND", shlex.join([sys.executable, str(BENCH_DANCE)]))


def test_several_values_follow_one_flag():
    args = ["--models", "a", "b,c", "--seeds", "0", "1", "2", "--jobs", "2", "--datasets", "x", "report", "dir"]
    assert spread_multi_values(args) == [
        *("--models", "a", "--models", "b,c"),
        *("--seeds", "0", "--seeds", "1", "--seeds", "2"),
        *("--jobs", "2", "--datasets", "x", "report", "dir"),
    ]


def test_sweeps_are_parameter_sets():
    assert _sweeps(["resolution=0.5,1.0"]) == [
        {"name": "resolution=0.5", "params": {"resolution": 0.5}},
        {"name": "resolution=1.0", "params": {"resolution": 1.0}},
    ]
    combined = _sweeps(["k=[3,4]", "metric=cosine,euclidean"])
    assert len(combined) == 4 and combined[0] == {"name": "k=3_metric=cosine", "params": {"k": 3, "metric": "cosine"}}


def test_a_dry_run_lists_the_grid(cli_registry, capsys, cells, tmp_path):
    args = ["benchmark", "--task", "clustering", "--models", "farthest_first", "--datasets", str(cells), "--seeds", "0", "1", "2"]
    code, out, _ = call(capsys, *args, "--sweep", "n_clusters=3,4", "--out", str(tmp_path / "runs"), "--dry-run", "-f", "json")
    assert code == 0, out
    planned = json.loads(out)
    assert len(planned) == 6 and {p["state"] for p in planned} == {"todo"}
    assert Path(planned[0]["folder"]).name == "clustering-farthest_first-cells-seed0-n_clusters=3"
    assert planned[-1]["cell"]["params"] == {"n_clusters": 4} and planned[-1]["cell"]["seed"] == 2


def test_a_config_file_with_options_overriding_it(cli_registry, capsys, cells, tmp_path):
    config = tmp_path / "grid.toml"
    config.write_text(
        f'task = "clustering"\nseeds = [0, 1]\nout = "runs"\n'
        f'models = [{{ label = "ff-k4", model = "farthest_first", params = {{ n_clusters = 4 }} }}, "farthest_first"]\n'
        f'datasets = ["{cells}"]\n'
    )
    code, out, _ = call(capsys, "benchmark", "--config", str(config), "--models", "ff-k4", "--seeds", "5", "--dry-run", "-f", "json")
    assert code == 0, out
    (cell,) = json.loads(out)
    assert cell["folder"] == str(tmp_path / "runs" / "clustering-ff-k4-cells-seed5") and cell["cell"]["params"] == {"n_clusters": 4}


def test_bad_grids_exit_2_with_one_line(cli_registry, capsys, cells):
    code, out, err = call(capsys, "benchmark", "--models", "farthest_first")
    assert code == 2 and err.startswith("error: give the grid") and err.count("\n") == 1 and out == ""
    code, _, err = call(capsys, "benchmark", "--task", "clustering", "--models", "farthest_frist", "--datasets", str(cells), "--dry-run")
    assert code == 2 and "did you mean 'farthest_first'" in err


def test_a_gpu_model_without_a_gpu_worker_exits_2_in_under_5_seconds(cells, tmp_path):
    pytest.importorskip("distributed")
    started = time.monotonic()
    grid = ["--task", "clustering", "--models", "farthest_first", "--datasets", str(cells), "--gpu-models", "farthest_first"]
    completed = subprocess.run(
        [sys.executable, str(BENCH_DANCE), "benchmark", *grid, "--jobs", "2", "--out", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("error: model(s) farthest_first need a GPU") and completed.stderr.count("\n") == 1
    assert elapsed < 5, f"took {elapsed:.1f} s"


@pytest.mark.slow
def test_a_six_run_grid_of_real_runs_resumes_and_reports(cli_registry, bench_command, capsys, cells, tmp_path):
    """6 fresh ``dance run`` processes (farthest_first on synthetic cells, 2 at once), then nothing
    to do on a rerun, then the report."""
    pytest.importorskip("distributed")
    out = tmp_path / "runs"
    args = ["benchmark", "--task", "clustering", "--models", "farthest_first", "--datasets", str(cells), "--seeds", "0", "1", "2"]
    args += ["--sweep", "n_clusters=3,4", "--jobs", "2", "--out", str(out)]
    code, stdout, err = call(capsys, *args, "-f", "json")
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["ran"] == 6 and summary["failed"] == 0 and summary["concurrency"] == 2, err
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/result.json")}
    assert len(results) == 6
    k4 = results["clustering-farthest_first-cells-seed1-n_clusters=4"]
    assert k4["params"]["n_clusters"] == 4 and k4["seed"] == 1 and set(k4["metrics"]) == {"ari", "nmi"}
    records = [json.loads(p.read_text()) for p in out.glob("*/benchmark_record.json")]
    assert len(records) == 6 and {r["status"] for r in records} == {"ok"} and {r["attempts"] for r in records} == {1}
    assert err.count(": ok (ari") == 6  # not a terminal: one line per finished cell

    code, stdout, _ = call(capsys, *args)
    assert code == 0 and "6 cells: 0 ran, 6 skipped" in " ".join(stdout.split())

    code, stdout, _ = call(capsys, "benchmark", "report", str(out))
    assert code == 0
    assert {Path(line).name for line in stdout.split()} == {"runs.csv", "clustering.md", "clustering.csv", "clustering.png"}
    table = (out / "report" / "clustering.md").read_text()
    assert "| farthest_first | n_clusters=3 | cells | 3 |" in table and "| parameters |" in table
