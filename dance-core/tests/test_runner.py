from __future__ import annotations

import hashlib
import json

import anndata as ad
import pytest
from helpers import kmeans_plugin

from dance.core.errors import DanceInputError
from dance.core.runner import run
from dance.core.testing import synthetic_data


@pytest.fixture
def registry(make_registry):
    return make_registry({"testplugin": kmeans_plugin()})


def test_run_on_in_memory_data_records_everything(registry, tmp_path):
    data = synthetic_data("clustering")
    result = run("clustering", data=data, seed=3, out=tmp_path / "run", registry=registry, n_clusters="labels")
    assert result.model == "kmeans_test" and result.seed == 3 and result.device == "cpu"
    assert set(result.metrics) == {"ari", "nmi"} and result.metrics["ari"] > 0.8
    assert result.params["n_clusters"] == 3 and result.notes["n_clusters_source"] == "labels"
    assert result.adata.obs["kmeans_test_pred"].nunique() == 3 and set(result.adatas) == {"output"}
    assert [s["transform"] for s in result.pipeline] == ["log_normalize", "pca"]
    assert result.fit_seconds > 0 and result.peak_memory_mb > 0 and len(result.dataset_checksum) == 64
    assert "dance-core" in result.versions and "numpy" in result.versions
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["metrics"] == result.metrics
    output = ad.read_h5ad(tmp_path / "run" / "output.h5ad")
    assert "kmeans_test_pred" in output.obs and "cell_type" in output.obs
    assert (tmp_path / "run" / "metrics.csv").read_text().startswith("metric,value\nari,")


def test_run_is_deterministic_under_a_seed(registry):
    data = synthetic_data("clustering")
    first = run("clustering", data=data, seed=5, write=False, registry=registry)
    second = run("clustering", data=data, seed=5, write=False, registry=registry)
    assert first.metrics == second.metrics and first.dataset_checksum == second.dataset_checksum


def test_run_from_a_file_leaves_it_untouched(registry, tmp_path):
    path = tmp_path / "input.h5ad"
    synthetic_data("clustering").write_h5ad(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    result = run("clustering", data=str(path), out=tmp_path / "out", registry=registry)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert str(path) in result.input


def test_run_refuses_to_overwrite_its_input(registry, tmp_path):
    path = tmp_path / "output.h5ad"
    synthetic_data("clustering").write_h5ad(path)
    with pytest.raises(DanceInputError, match="refusing to overwrite input file"):
        run("clustering", data=str(path), out=tmp_path, registry=registry)


def test_unknown_parameter_is_refused_with_a_suggestion(registry):
    with pytest.raises(DanceInputError, match=r"unknown parameter 'n_cluster'.*did you mean 'n_clusters'"):
        run("clustering", data=synthetic_data("clustering"), params={"n_cluster": 3}, write=False, registry=registry)


def test_bad_input_is_refused_before_fitting(registry):
    data = synthetic_data("clustering")
    data.X[0, 0] = float("nan")
    with pytest.raises(DanceInputError, match="NaN"):
        run("clustering", data=data, write=False, registry=registry)


def test_the_registry_given_to_run_supplies_its_metrics_and_transforms(make_registry, tmp_path):
    from helpers import isolated_plugin

    from dance.core.registry import registry as global_registry

    isolated = make_registry({"isolated": isolated_plugin()})
    result = run("clustering", "marked_kmeans_test", synthetic_data("clustering"), registry=isolated, write=False)
    assert result.metrics["half"] == 0.5 and {"ari", "nmi"} <= set(result.metrics)
    assert "half" not in {m.name for m in global_registry.metrics("clustering")}


def test_a_run_checks_its_input_once(registry, monkeypatch):
    contract = registry.contract("clustering")
    calls = []
    original_check = contract.check
    monkeypatch.setattr(contract, "check", lambda *a, **k: calls.append(k.get("stage")) or original_check(*a, **k))
    run("clustering", data=synthetic_data("clustering"), write=False, registry=registry)
    assert calls == ["evaluate"]


def test_reveal_labels_shows_a_seeded_fraction_and_scores_the_rest_too(make_registry):
    from helpers import plugin_module

    from dance.core.keys import DataKeys

    def dance_register_models(register):
        register(name="known_labels_test", task="clustering", target="helpers:KnownLabelsKMeans", summary="s", citation="MacQueen (1967)")

    registry = make_registry({"reveal": plugin_module("reveal", dance_register_models=dance_register_models)})
    data = synthetic_data("clustering")
    result = run("clustering", "known_labels_test", data, reveal_labels=0.2, n_clusters="labels", write=False, registry=registry)
    assert {"ari", "nmi", "ari_unrevealed", "nmi_unrevealed"} <= set(result.metrics)
    assert result.notes["revealed_labels"].startswith(f"{round(0.2 * data.n_obs)} of {data.n_obs} labels shown")
    assert "cell_type" in data.obs  # the user's data keeps its labels
    again = run("clustering", "known_labels_test", data, reveal_labels=0.2, n_clusters="labels", write=False, registry=registry)
    assert again.metrics == result.metrics
    with pytest.raises(DanceInputError, match="task 'imputation' has no hidden labels to reveal"):
        registry.contract("imputation").reveal_labels(synthetic_data("imputation"), None, DataKeys(), fraction=0.1, seed=0)
    with pytest.raises(DanceInputError, match="between 0 and 1"):
        run("clustering", "known_labels_test", data, reveal_labels=1.5, write=False, registry=registry)


def test_a_joint_embedding_that_trains_on_labels_sees_half_and_is_scored_on_the_other_half(make_registry):
    from helpers import plugin_module

    from dance.core.keys import DataKeys

    def dance_register_models(register):
        register(
            name="labelled_embedding_test",
            task="joint_embedding",
            target="helpers:LabelledJointEmbedding",
            summary="s",
            citation="Lance et al. (2022)",
        )

    registry = make_registry({"labelled": plugin_module("labelled", dance_register_models=dance_register_models)})
    data = synthetic_data("joint_embedding")
    n = data.mod1.n_obs
    result = run("joint_embedding", "labelled_embedding_test", data, write=False, registry=registry)
    half = round(0.5 * n)
    assert result.notes["revealed_labels"] == (
        f"the cell types of {half} of {n} cells shown to the model in obs['known_cell_type']; metrics over the other {n - half} cells"
    )
    assert "cell_type" in data.mod1.obs  # the user's data keep their labels
    # the same model scored by hand on the unrevealed cells only gives the run's metrics
    contract = registry.contract("joint_embedding")
    view, truth = contract.holdout(data, DataKeys(), seed=0)
    contract.reveal_labels(view, truth, DataKeys(), fraction=0.5, seed=0)
    model = registry.load_model("labelled_embedding_test", "joint_embedding")(seed=0, registry=registry).fit(view)
    assert not model.visible_labels_ and sum(v is not None and v == v for v in model.known_) == half
    hidden = truth.subset(~truth.revealed)
    assert len(hidden) == n - half
    by_hand = contract.evaluate(model.predict(view), hidden, DataKeys(), model=model)
    assert by_hand["nmi"] == pytest.approx(result.metrics["nmi"]) and by_hand["asw_label"] == pytest.approx(result.metrics["asw_label"])
    # --reveal-labels overrides the model's fraction
    assert (
        run("joint_embedding", "labelled_embedding_test", data, reveal_labels=0.2, write=False, registry=registry)
        .notes["revealed_labels"]
        .startswith(f"the cell types of {round(0.2 * n)} of {n} cells")
    )
    with pytest.raises(DanceInputError, match="leaves no cell to score"):
        run("joint_embedding", "labelled_embedding_test", data, reveal_labels=0.9999, write=False, registry=registry)


def test_the_model_sees_only_the_revealed_labels():
    from helpers import KnownLabelsKMeans

    from dance.core.keys import DataKeys
    from dance.core.tasks.clustering import Clustering

    contract, keys = Clustering(), DataKeys()
    data = synthetic_data("clustering")
    view, truth = contract.holdout(data, keys, seed=0)
    contract.reveal_labels(view, truth, keys, fraction=0.25, seed=0)
    model = KnownLabelsKMeans(n_clusters=3).fit(view)
    assert "cell_type" not in model.seen_columns_ and "known_cell_type" in model.seen_columns_
    assert model.known_.sum() == round(0.25 * data.n_obs) and truth.revealed.sum() == model.known_.sum()


def test_a_models_training_history_goes_into_the_result_and_a_figure(make_registry, tmp_path):
    from helpers import plugin_module

    def dance_register_models(register):
        register(name="history_test", task="clustering", target="helpers:HistoryKMeans", summary="s", citation="MacQueen (1967)")

    registry = make_registry({"history": plugin_module("history", dance_register_models=dance_register_models), "k": kmeans_plugin()})
    result = run("clustering", "history_test", synthetic_data("clustering"), out=tmp_path / "run", registry=registry)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["training"] == {"pretrain": {"zinb": [3.0, 1.0, 0.4]}, "train": {"loss": [2.0, 1.5], "val_loss": [2.2, 1.9]}}
    assert result.outputs["training"].endswith("training.png") and (tmp_path / "run" / "training.png").stat().st_size > 5_000
    plain = run("clustering", "kmeans_test", synthetic_data("clustering"), out=tmp_path / "plain", registry=registry)
    assert plain.training == {} and "training" not in plain.outputs


def test_a_datasets_model_params_apply_unless_the_user_sets_them(make_registry, tmp_path, monkeypatch):
    from helpers import demo_dataset_plugin

    file = tmp_path / "data" / "demo" / "demo.h5ad"
    file.parent.mkdir(parents=True)
    synthetic_data("clustering").write_h5ad(file)
    monkeypatch.setenv("DANCE_DATA_DIR", str(tmp_path / "data"))
    plugins = {
        "testplugin": kmeans_plugin(),
        "demo": demo_dataset_plugin(hashlib.sha256(file.read_bytes()).hexdigest(), {"kmeans_test": {"n_clusters": 2}}),
    }
    registry = make_registry(plugins)
    result = run("clustering", "kmeans_test", "demo_test", registry=registry, write=False)
    assert result.params["n_clusters"] == 2 and result.notes["params_from_dataset"] == {"n_clusters": 2}
    mine = run("clustering", "kmeans_test", "demo_test", params={"n_clusters": 4}, registry=registry, write=False)
    assert mine.params["n_clusters"] == 4 and "params_from_dataset" not in mine.notes
