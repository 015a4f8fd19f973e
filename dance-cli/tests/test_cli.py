from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from dance.cli.app import main
from dance.cli.parsing import parse_pipeline_option, parse_set_options
from dance.core.errors import DanceInputError
from dance.core.testing import synthetic_data


def call(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_list_tasks_json(cli_registry, capsys):
    code, out, _ = call(capsys, "list", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 10
    clustering = next(r for r in rows if r["name"] == "clustering")
    assert clustering["models"] == ["farthest_first"] and clustering["metrics"] == ["ari", "nmi"]
    assert {"name", "task", "summary", "plugin"} <= set(clustering)


def test_list_models_json_has_the_documented_fields(cli_registry, capsys):
    code, out, _ = call(capsys, "list", "models", "--task", "clustering", "-f", "json")
    (row,) = json.loads(out)
    assert code == 0 and row["name"] == "farthest_first" and row["task"] == "clustering" and row["plugin"] == "cliplugin" and row["summary"]


def test_unknown_kind_and_format_exit_2_with_one_message(cli_registry, capsys):
    code, out, err = call(capsys, "list", "modles")
    assert code == 2 and "did you mean 'models'" in err and out == ""
    code, _, err = call(capsys, "list", "-f", "yaml")
    assert code == 2 and "unknown --format 'yaml'" in err


def test_info_shows_a_models_parameters(cli_registry, capsys):
    code, out, _ = call(capsys, "info", "farthest_first", "-f", "json")
    detail = json.loads(out)
    assert code == 0 and "n_clusters" in detail["parameters"] and detail["default pipeline"][0].startswith("log_normalize")


def test_plugins_lists_versions_and_registrations(cli_registry, capsys):
    code, out, _ = call(capsys, "plugins", "-f", "json")
    records = {r["name"]: r for r in json.loads(out)}
    assert code == 0 and records["core"]["status"] == "ok" and records["cliplugin"]["registered"]["model"] == ["farthest_first"]


def test_run_writes_results_and_leaves_the_input_untouched(cli_registry, capsys, tmp_path):
    path = tmp_path / "cells.h5ad"
    synthetic_data("clustering").write_h5ad(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    code, out, _ = call(capsys, "run", "clustering", "--data", str(path), "--out", str(tmp_path / "out"), "--seed", "1")
    assert code == 0, out
    assert "ari" in out and "nmi" in out
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["model"] == "farthest_first" and result["seed"] == 1 and set(result["metrics"]) == {"ari", "nmi"}
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_run_unknown_model_suggests(cli_registry, capsys, tmp_path):
    path = tmp_path / "cells.h5ad"
    synthetic_data("clustering").write_h5ad(path)
    code, _out, err = call(capsys, "run", "clustering", "-m", "farthest_frist", "--data", str(path))
    assert code == 2 and "unknown model 'farthest_frist'; did you mean 'farthest_first'?" in err
    assert err.count("\n") <= 3


def test_clustering_without_labels_runs_and_says_nothing_was_scored(cli_registry, capsys, tmp_path):
    path = tmp_path / "cells.h5ad"
    adata = synthetic_data("clustering")
    del adata.obs["cell_type"]
    adata.write_h5ad(path)
    code, out, _ = call(capsys, "run", "clustering", "--data", str(path), "--set", "n_clusters=3", "-o", str(tmp_path / "o"))
    assert code == 0 and "nothing to score" in out and "n_clusters_source: user" in out


def test_a_named_key_that_is_absent_is_an_error_listing_the_columns(cli_registry, capsys, tmp_path):
    path = tmp_path / "cells.h5ad"
    synthetic_data("clustering").write_h5ad(path)
    code, out, err = call(capsys, "run", "clustering", "--data", str(path), "--label-key", "celltype", "-o", str(tmp_path / "o"))
    assert code == 2 and out == ""
    assert "--label-key 'celltype': the input has no obs column 'celltype' (obs columns: cell_type" in " ".join(err.split())
    assert not (tmp_path / "o" / "result.json").exists()


def test_bad_set_option(cli_registry, capsys):
    code, _, err = call(capsys, "run", "clustering", "--set", "novalue")
    assert code == 2 and "--set expects key=value" in err


def test_extension_command_is_added_lazily(cli_registry, capsys):
    code, out, _ = call(capsys, "hello", "greet", "--name", "world")
    assert code == 0 and "hello world" in out


def test_version_lists_plugins(cli_registry, capsys):
    code, out, _ = call(capsys, "--version")
    assert code == 0 and out.startswith("dance ") and "cliplugin" in out


def test_parsing_helpers():
    assert parse_set_options(["n_neighbors=10", "hidden=[64, 32]", "name=abc", "flag=true"]) == {
        "n_neighbors": 10,
        "hidden": [64, 32],
        "name": "abc",
        "flag": True,
    }
    assert parse_pipeline_option("none") == [] and parse_pipeline_option(None) is None
    assert parse_pipeline_option('[{"transform": "log1p"}]') == [{"transform": "log1p"}]
    with pytest.raises(DanceInputError):
        parse_pipeline_option("{not json")


def test_listing_does_not_import_heavy_libraries():
    code = (
        "import json, sys\n"
        "from dance.cli.app import main\n"
        "try:\n    main(['list', '-f', 'json'])\nexcept SystemExit:\n    pass\n"
        "print(json.dumps([m for m in ('torch', 'scanpy', 'anndata', 'sklearn') if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
