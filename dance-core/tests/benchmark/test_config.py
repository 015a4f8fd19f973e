"""The grid: configs from Python and TOML, cells, folders and their ``dance run`` command lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dance.core.benchmark import expand_cells, load_config, make_config
from dance.core.errors import DanceInputError, UnknownNameError


def test_a_grid_is_models_x_datasets_x_seeds_x_parameter_sets(kit_registry, cells_file):
    config = make_config(
        {
            "task": "clustering",
            "models": ["kmeans_test", "random_test"],
            "datasets": [str(cells_file)],
            "seeds": [0, 1, 2],
            "params": {"n_clusters": 3},
            "param_sets": [{"name": "small", "params": {"n_neighbors": 5}}, {"name": "large", "params": {"n_neighbors": 30}}],
        }
    )
    cells = expand_cells(config, kit_registry)
    assert len(cells) == 2 * 3 * 2
    names = [c.folder_name for c in cells]
    assert len(set(names)) == len(names)
    assert "clustering-kmeans_test-cells-seed1-small" in names
    cell = next(c for c in cells if c.folder_name == "clustering-random_test-cells-seed2-large")
    assert cell.params == {"n_clusters": 3, "n_neighbors": 30} and cell.data == str(cells_file.resolve())
    # the folder names the cell's place in the grid, not its values: a new value reruns in place
    changed = make_config({**config.model_dump(), "params": {"n_clusters": 4}})
    assert [c.folder_name for c in expand_cells(changed, kit_registry)] == names


def test_the_command_line_of_a_cell(kit_registry, cells_file, tmp_path):
    config = make_config(
        {
            "task": "clustering",
            "models": [
                {"model": "kmeans_test", "label": "kmeans-fixed", "params": {"n_clusters": 5}, "args": ["--n-clusters-from-labels"]}
            ],
            "datasets": [str(cells_file)],
            "params": {"hidden": [64, 32]},
        }
    )
    (cell,) = expand_cells(config, kit_registry)
    assert cell.folder_name == "clustering-kmeans-fixed-cells-seed0"
    argv = cell.command(["dance"], tmp_path / cell.folder_name)
    assert argv[:5] == ["dance", "run", "clustering", "--model", "kmeans_test"]
    assert argv[argv.index("--data") + 1] == str(cells_file.resolve())
    assert argv[argv.index("--out") + 1] == str(tmp_path / cell.folder_name)
    assert "--no-plots" in argv and "--n-clusters-from-labels" in argv and argv[argv.index("--device") + 1] == "cpu"
    sets = [argv[i + 1] for i, a in enumerate(argv) if a == "--set"]
    assert sets == ["hidden=[64, 32]", "n_clusters=5"]


def test_bad_grids_fail_before_anything_runs(kit_registry, cells_file, tmp_path):
    with pytest.raises(UnknownNameError, match="kmeans_tset"):
        expand_cells(make_config({"task": "clustering", "models": ["kmeans_tset"], "datasets": [str(cells_file)]}), kit_registry)
    with pytest.raises(DanceInputError, match="does not exist"):
        expand_cells(make_config({"task": "clustering", "models": ["kmeans_test"], "datasets": [str(tmp_path / "no.h5ad")]}), kit_registry)
    twice = make_config({"task": "clustering", "models": ["kmeans_test", "kmeans_test"], "datasets": [str(cells_file)]})
    with pytest.raises(DanceInputError, match="share the folder"):
        expand_cells(twice, kit_registry)
    with pytest.raises(DanceInputError, match="seeds"):
        make_config({"task": "clustering", "seeds": []})
    with pytest.raises(DanceInputError, match="gpu-models"):
        expand_cells(
            make_config({"task": "clustering", "models": ["kmeans_test"], "datasets": [str(cells_file)], "gpu_models": ["other"]}),
            kit_registry,
        )


def test_all_models_and_gpu_models(kit_registry, cells_file):
    config = make_config({"task": "clustering", "models": "all", "datasets": [str(cells_file)], "gpu_models": ["random_test"]})
    cells = {c.model: c for c in expand_cells(config, kit_registry)}
    assert set(cells) == {"kmeans_test", "random_test", "mutating_test"}
    assert cells["random_test"].gpu and cells["random_test"].device == "cuda"
    assert not cells["kmeans_test"].gpu and cells["kmeans_test"].device == "cpu"


def test_a_toml_config(kit_registry, tmp_path, cells_file):
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs" / "known.h5ad").write_bytes(b"x")
    path = tmp_path / "grid.toml"
    path.write_text(
        """
title = "Clustering on test data"
task = "clustering"
seeds = [0, 1]
models = ["kmeans_test", { label = "random-k5", model = "random_test", params = { n_clusters = 5 } }]
datasets = [{ label = "known", data = "inputs/known.h5ad", args = ["--reveal-labels", "0.1"] }]
out = "runs"
retries = 1
metrics = ["ari"]

[params]
n_clusters = 3

[[reported]]
metric = "ari"
label = "paper"
values = { "kmeans_test/known" = 0.8 }
"""
    )
    config = load_config(path)
    assert config.name == "grid" and config.out == str(tmp_path / "runs") and config.retries == 1
    cells = expand_cells(config, kit_registry)
    assert len(cells) == 4
    random = next(c for c in cells if c.label == "random-k5")
    assert random.params == {"n_clusters": 5} and random.args == ("--reveal-labels", "0.1")
    assert random.data == str(tmp_path / "inputs" / "known.h5ad")
    assert load_config(path, seeds=[3]).seeds == [3]
    path.write_text('task = "clustering"\nseeds = "zero"\n')
    with pytest.raises(DanceInputError, match="seeds"):
        load_config(path)
    path.write_text("task = \n")
    with pytest.raises(DanceInputError, match="not valid TOML"):
        load_config(path)


ROOT = Path(__file__).resolve().parents[3]


def test_the_documented_config_and_the_repository_grids_are_valid(tmp_path):
    """Every TOML block of docs/benchmarking.md and every benchmarks/*.toml parses against the schema."""
    snippets = re.findall(r"```toml\n(.*?)\n```", (ROOT / "docs" / "benchmarking.md").read_text(), re.S)
    assert snippets
    for i, snippet in enumerate(snippets):
        path = tmp_path / f"snippet{i}.toml"
        path.write_text(snippet)
        config = load_config(path)
        assert config.task and config.seeds
    grids = sorted((ROOT / "benchmarks").glob("*.toml"))
    assert grids
    for path in grids:
        assert load_config(path).task
