"""Reference-to-query annotation: combining the two inputs, and running on them."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from annotation_helpers import centroid_plugin

from dance.core.data.reference_query import MIN_SHARED_GENES, combine_reference_query
from dance.core.errors import DanceInputError
from dance.core.keys import DataKeys
from dance.core.runner import run
from dance.core.testing import synthetic_data

KEYS = DataKeys()


@pytest.fixture
def registry(make_registry):
    return make_registry({"annotationplugin": centroid_plugin()})


def reference_and_query(seed: int = 0):
    """120 labelled reference cells and 60 query cells of the same three types, raw counts."""
    adata = synthetic_data("cell_type_annotation", seed=seed, n_cells=180)
    return adata[:120].copy(), adata[120:].copy()


def snapshot(adata):
    return adata.obs.copy(), np.array(adata.X, copy=True), list(adata.var_names), dict(adata.layers)


def unchanged(adata, before) -> bool:
    obs, x, genes, layers = before
    return (
        adata.obs.equals(obs)
        and np.array_equal(np.asarray(adata.X), x)
        and list(adata.var_names) == genes
        and set(adata.layers) == set(layers)
    )


def test_reference_cells_train_query_cells_test_over_the_shared_genes():
    reference, query = reference_and_query()
    # the query lacks 10 of the reference's genes, has 5 of its own and lists genes in another order
    query = query[:, list(reversed(query.var_names[10:]))].copy()
    extra = query[:, :5].copy()
    extra.var_names = [f"query_only_{j}" for j in range(5)]
    import anndata as ad

    query = ad.concat([query, extra], axis=1, merge="first")
    query.obs["donor"] = "d2"
    before = snapshot(reference), snapshot(query)
    combined, rows, notes = combine_reference_query(reference, query, KEYS)

    assert list(combined.var_names) == list(reference.var_names[10:])  # the reference's order
    assert combined.n_obs == 180 and rows.sum() == 60 and not rows[:120].any()
    assert list(combined.obs_names[rows]) == list(query.obs_names)
    assert (combined.obs["split"].astype(str).to_numpy() == np.where(rows, "test", "train")).all()
    assert list(combined.obs["cell_type"][~rows].astype(str)) == list(reference.obs["cell_type"].astype(str))
    assert list(combined.obs["cell_type"][rows].astype(str)) == list(query.obs["cell_type"].astype(str))
    # values follow the gene names, not the positions
    gene = reference.var_names[40]
    assert np.array_equal(np.asarray(combined[rows, gene].X).ravel(), np.asarray(query[:, gene].X).ravel())
    assert "donor" in combined.obs.columns
    assert notes["genes"].startswith(f"{reference.n_vars - 10} genes shared") and "10 reference-only and 5 query-only" in notes["genes"]
    assert "metrics" not in notes
    assert unchanged(reference, before[0]) and unchanged(query, before[1])


def test_a_query_without_labels_is_annotated_and_not_scored():
    reference, query = reference_and_query()
    del query.obs["cell_type"]
    combined, rows, notes = combine_reference_query(reference, query, KEYS)
    assert combined.obs["cell_type"][rows].isna().all() and combined.obs["cell_type"][~rows].notna().all()
    assert "nothing is scored" in notes["metrics"]


def test_clashing_cell_names_are_made_unique_and_the_query_keeps_its_own():
    reference, query = reference_and_query()
    reference.obs_names = [f"cell_{i}" for i in range(reference.n_obs)]
    query.obs_names = [f"cell_{i}" for i in range(query.n_obs)]  # 60 clashes
    combined, rows, notes = combine_reference_query(reference, query, KEYS)
    assert combined.obs_names.is_unique
    assert list(combined.obs_names[rows]) == list(query.obs_names)
    assert combined.obs_names[0] == "cell_0-reference" and combined.obs_names[119] == "cell_119"
    assert notes["cell_names"].startswith("60 reference cell name(s)")


def test_too_few_shared_genes_says_how_many_and_how_to_fix():
    reference, query = reference_and_query()
    query.var_names = [f"ENSG{j:011d}" if j >= 20 else name for j, name in enumerate(query.var_names)]
    with pytest.raises(
        DanceInputError, match=rf"share 20 gene name\(s\); at least {MIN_SHARED_GENES}.*gene symbols or both Ensembl IDs"
    ) as info:
        combine_reference_query(reference, query, KEYS)
    assert info.value.field == "var_names"


def test_reference_without_labels_names_the_field_and_the_option():
    reference, query = reference_and_query()
    reference.obs = reference.obs.rename(columns={"cell_type": "celltype"})
    with pytest.raises(DanceInputError, match=r"reference has no obs\['cell_type'\].*celltype.*--label-key") as info:
        combine_reference_query(reference, query, KEYS)
    assert info.value.field == "reference.obs['cell_type']"
    combined, _, _ = combine_reference_query(reference, query.copy(), DataKeys(label_key="celltype"))
    assert combined.obs["celltype"].notna().sum() == 120  # the query has no 'celltype': unlabelled


def test_reference_with_one_cell_type_is_refused():
    reference, query = reference_and_query()
    reference.obs["cell_type"] = "T cell"
    with pytest.raises(DanceInputError, match=r"1 labelled cell type\(s\); annotation needs at least 2"):
        combine_reference_query(reference, query, KEYS)


def test_duplicated_gene_names_are_refused():
    reference, query = reference_and_query()
    query.var_names = [query.var_names[0], *query.var_names[:-1]]
    with pytest.raises(DanceInputError, match=r"query has 1 duplicated gene name.*var_names_make_unique") as info:
        combine_reference_query(reference, query, KEYS)
    assert info.value.field == "query.var_names"


def log_normalised(adata):
    out = adata.copy()
    x = np.asarray(out.X, dtype=np.float64)
    out.X = np.log1p(x / x.sum(axis=1, keepdims=True) * 1e4).astype(np.float32)
    return out


def test_raw_counts_next_to_normalised_values_is_refused_naming_each_file():
    reference, query = reference_and_query()
    query = log_normalised(query)
    before = snapshot(query)
    with pytest.raises(
        DanceInputError, match=r"the ref holds raw counts in X and the query holds normalised values in X.*same scale"
    ) as info:
        combine_reference_query(reference, query, KEYS, names=("ref", "query"))
    assert "the query has no raw counts in layers['counts']" in str(info.value) and info.value.field == "X"
    assert unchanged(query, before)


def test_raw_counts_in_a_layer_put_both_files_on_the_count_scale():
    reference, query = reference_and_query()
    counts = np.asarray(query.X).copy()
    query = log_normalised(query)
    query.layers["counts"] = counts
    combined, rows, notes = combine_reference_query(reference, query, KEYS)
    assert np.array_equal(np.asarray(combined.X)[rows], counts) and "counts" in combined.layers
    assert "both taken from their raw counts" in notes["expression"]


def test_both_normalised_is_accepted():
    reference, query = reference_and_query()
    combined, _, notes = combine_reference_query(log_normalised(reference), log_normalised(query), KEYS)
    assert "expression" not in notes and "counts" not in combined.layers


def test_a_counts_layer_of_one_file_is_kept_only_when_the_other_has_counts_too():
    reference, query = reference_and_query()
    reference.layers["counts"] = np.asarray(reference.X).copy()
    combined, _, notes = combine_reference_query(reference, query, KEYS)  # the query's X holds counts
    assert "counts" in combined.layers and np.array_equal(np.asarray(combined.layers["counts"]), np.asarray(combined.X))
    normalised_reference = log_normalised(reference)
    combined, _, notes = combine_reference_query(normalised_reference, log_normalised(query), KEYS)
    assert "counts" not in combined.layers and "not used: the other file has no raw counts" in notes["counts"]
    plain, _, _ = combine_reference_query(reference_and_query()[0], query, KEYS)
    assert "counts" not in plain.layers  # counts in X of both: no layer is invented


def test_run_trains_on_the_reference_and_writes_the_query_annotated(registry, tmp_path):
    reference, query = reference_and_query()
    query.obs_names = [f"q{i}" for i in range(query.n_obs)]
    before = snapshot(reference), snapshot(query)
    result = run("cell_type_annotation", data=query, reference=reference, out=tmp_path / "run", registry=registry)
    assert result.metrics["accuracy"] > 0.9  # three well separated synthetic types
    output = result.adata
    assert list(output.obs_names) == list(query.obs_names)
    assert (output.obs["split"].astype(str) == "test").all() and output.obs["centroid_test_pred"].notna().all()
    assert output.obsm["centroid_test_proba"].shape == (60, 3)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["notes"]["reference_query"] == "120 reference cells trained on, 60 query cells annotated"
    assert unchanged(reference, before[0]) and unchanged(query, before[1])


def test_run_on_an_unlabelled_query_says_nothing_was_scored(registry):
    reference, query = reference_and_query()
    del query.obs["cell_type"]
    result = run("cell_type_annotation", data=query, reference=reference, write=False, registry=registry)
    assert result.metrics == {} and "nothing is scored" in result.notes["metrics"]
    assert result.adata.n_obs == 60


def test_run_writes_the_label_and_split_columns_the_user_named(registry):
    reference, query = reference_and_query()
    for adata in (reference, query):
        adata.obs = adata.obs.rename(columns={"cell_type": "celltype"})
    result = run(
        "cell_type_annotation",
        data=query,
        reference=reference,
        keys={"label_key": "celltype", "split_key": "fold"},
        write=False,
        registry=registry,
    )
    assert result.metrics["accuracy"] > 0.9
    assert (result.adata.obs["fold"].astype(str) == "test").all() and "split" not in result.adata.obs.columns


@pytest.mark.parametrize(
    ("task", "option", "fragment", "field"),
    [
        ("clustering", "reference", "--reference applies to cell_type_annotation", "--reference"),
        ("cell_type_annotation", "data2", "--data2 is the second modality", "--data2"),
        ("cell_type_annotation", "solution", "--solution applies to the NeurIPS 2021 task layouts", "--solution"),
        ("cell_type_annotation", "modalities", "--mod1/--mod2 choose the two modalities", "--mod1"),
    ],
)
def test_options_a_task_does_not_take_are_refused(make_registry, task, option, fragment, field):
    from dance.core.data.inputs import resolve_input

    registry = make_registry()
    value = ("rna", None) if option == "modalities" else synthetic_data(task)
    with pytest.raises(DanceInputError, match=fragment) as info:
        resolve_input(registry.get_task(task), synthetic_data(task), registry=registry, **{option: value})
    assert info.value.field == field


def test_a_reference_needs_data_as_well(make_registry):
    from dance.core.data.inputs import resolve_input

    registry = make_registry()
    with pytest.raises(DanceInputError, match="--reference: pass --data as well"):
        resolve_input(registry.get_task("cell_type_annotation"), None, reference=synthetic_data("cell_type_annotation"), registry=registry)


def test_query_columns_survive_and_reference_only_columns_are_left_out():
    reference, query = reference_and_query()
    reference.obs["lab"] = "A"
    query.obs["quality"] = np.linspace(0, 1, query.n_obs)
    combined, rows, _ = combine_reference_query(reference, query, KEYS)
    assert "lab" not in combined.obs.columns
    assert np.allclose(combined.obs["quality"][rows].to_numpy(dtype=float), query.obs["quality"].to_numpy())
    assert pd.isna(combined.obs["quality"][~rows]).all()
