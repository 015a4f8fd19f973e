"""benchmarks.multimodal: a written single-seed table can be extended by new runs."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def multimodal(monkeypatch):
    """``benchmarks.multimodal`` as ``python -m`` from the repository root imports it."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.multimodal")


def _table(tmp_path, seeds=1):
    path = tmp_path / "multimodal.csv"
    pd.DataFrame(
        [
            {
                "model": "mean",
                "dataset": "d:GEX2ADT",
                "seeds": seeds,
                "rmse_mean": 0.9,
                "rmse_std": 0.0,
                "fit_seconds_mean": 1.0,
                "peak_memory_mb_max": 400.0,
                "task": "modality_prediction",
            },
            {
                "model": "babel",
                "dataset": "d:GEX2ADT",
                "seeds": seeds,
                "rmse_mean": 0.5,
                "rmse_std": 0.0,
                "fit_seconds_mean": 30.0,
                "peak_memory_mb_max": 600.0,
                "task": "modality_prediction",
            },
        ]
    ).to_csv(path, index=False)
    return path


def test_a_new_run_replaces_the_tables_run_of_the_same_seed(tmp_path, multimodal):
    old = multimodal.records_from_table(_table(tmp_path))
    assert old["metric_rmse"].tolist() == [0.9, 0.5] and (old["seed"] == 0).all()
    new = pd.DataFrame(
        [
            {
                "task": "modality_prediction",
                "model": "babel",
                "dataset": "d:GEX2ADT",
                "seed": 0,
                "status": "ok",
                "metric_rmse": 0.4,
                "fit_seconds": 20.0,
                "peak_memory_mb": 500.0,
            }
        ]
    )
    merged = multimodal.merge_runs(old, new)
    assert sorted(zip(merged["model"], merged["metric_rmse"], strict=True)) == [("babel", 0.4), ("mean", 0.9)]


def test_rows_over_several_seeds_are_refused(tmp_path, multimodal):
    with pytest.raises(SystemExit, match="several seeds"):
        multimodal.records_from_table(_table(tmp_path, seeds=3))
