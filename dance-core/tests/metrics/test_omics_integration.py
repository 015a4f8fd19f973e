"""The GLUE integration metrics (dance.core.metrics.omics_integration; Cao & Gao 2022, Nat
Biotechnol 40:1458-1466): parity with the reference package scglue 0.4.1, behaviour at the
extremes, absent inputs and the overall score.

The ``REFERENCE`` values were printed by scglue itself::

    /work/scglue-venv/bin/python dance-core/tests/metrics/_make_scglue_reference.py

``synthetic`` below is a copy of that script's generator; ``FINGERPRINTS`` (printed by it too)
checks that both environments generate the same arrays.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dance.core.metrics import omics_integration as O
from dance.core.tasks.multiomics_integration import MultiomicsTruth


def synthetic(scenario: str) -> dict[str, np.ndarray]:
    """Embeddings of two modalities (mod2 shifted), their labels and unintegrated representations."""
    rng = np.random.default_rng(20220512)
    dims, n_types = 10, 5
    centres = rng.normal(0.0, 1.0, size=(n_types, dims))
    offset = rng.normal(0.0, 1.0, size=dims)
    if scenario == "shared":
        sizes1, sizes2 = (100, 80, 70, 50, 0), (90, 90, 60, 60, 0)
    else:
        sizes1, sizes2 = (100, 80, 70, 50, 0), (80, 70, 50, 30, 20)
    labels1 = np.repeat([f"type{t}" for t in range(n_types)], sizes1)
    labels2 = np.repeat([f"type{t}" for t in range(n_types)], sizes2)
    codes1 = np.repeat(np.arange(n_types), sizes1)
    codes2 = np.repeat(np.arange(n_types), sizes2)
    emb1 = centres[codes1] + rng.normal(size=(len(codes1), dims))
    emb2 = centres[codes2] + offset + rng.normal(size=(len(codes2), dims))
    projection1 = rng.normal(size=(dims, 12))
    projection2 = rng.normal(size=(dims, 8))
    rep1 = centres[codes1] @ projection1 + 2.0 * rng.normal(size=(len(codes1), 12))
    rep2 = centres[codes2] @ projection2 + 2.0 * rng.normal(size=(len(codes2), 8))
    return {"emb1": emb1, "emb2": emb2, "labels1": labels1, "labels2": labels2, "rep1": rep1, "rep2": rep2}


def fingerprint(data: dict[str, np.ndarray]) -> float:
    return float(sum(np.asarray(data[key]).sum() + np.abs(data[key]).sum() for key in ("emb1", "emb2", "rep1", "rep2")))


# printed by _make_scglue_reference.py with scglue 0.4.1 (scanpy 1.11.5, scikit-learn 1.6.1, NumPy 2.2.6)
FINGERPRINTS = {"shared": 22353.959820921667, "unshared": 28401.922072516598}
REFERENCE = {
    # 4 cell types in both modalities, 300 + 300 cells: SAS takes every cell in each repeat
    "shared": {
        "map": 0.8956773148148147,
        "cell_type_asw": 0.5823486925281508,
        "neighbor_conservation": 0.03436363636363637,
        "seurat_alignment_score": 0.3011111111111111,
        "omics_layer_asw": 0.7905208480915817,
        "graph_connectivity": 0.9980769230769231,
    },
    # 300 + 250 cells, type4 only in mod2: SAS subsamples mod1 (random_state=0), omics-layer ASW
    # scores type4 as 1 (scglue's handling of a one-modality type)
    "unshared": {
        "map": 0.8975813131313132,
        "cell_type_asw": 0.5829694490460264,
        "neighbor_conservation": 0.05036161616161616,
        "seurat_alignment_score": 0.2932,
        "omics_layer_asw": 0.8359051995697652,
        "graph_connectivity": 0.9986666666666666,
    },
}


def _truth_and_embeddings(scenario: str) -> tuple[MultiomicsTruth, tuple[np.ndarray, np.ndarray]]:
    data = synthetic(scenario)
    truth = MultiomicsTruth(None, data["labels1"], data["labels2"], representations=(data["rep1"], data["rep2"]))
    return truth, (data["emb1"], data["emb2"])


@pytest.mark.parametrize("scenario", sorted(REFERENCE))
def test_the_generated_data_are_those_scglue_scored(scenario):
    assert fingerprint(synthetic(scenario)) == pytest.approx(FINGERPRINTS[scenario], rel=1e-12)


@pytest.mark.parametrize("scenario", sorted(REFERENCE))
@pytest.mark.parametrize("name", sorted(REFERENCE["shared"]))
def test_metric_equals_scglue(scenario, name):
    # every metric is deterministic, SAS included: it draws its subsamples with scglue's
    # RandomState(0).choice calls, so the unequal-sized scenario matches exactly too
    truth, embeddings = _truth_and_embeddings(scenario)
    assert O._FUNCTIONS[name](truth, embeddings) == pytest.approx(REFERENCE[scenario][name], abs=1e-6)


@pytest.mark.parametrize("scenario", sorted(REFERENCE))
def test_overall_is_the_paper_weighting_of_the_reference_values(scenario):
    truth, embeddings = _truth_and_embeddings(scenario)
    ref = REFERENCE[scenario]
    bio = np.mean([ref[m] for m in O.BIO_METRICS])
    mixing = np.mean([ref[m] for m in O.MIXING_METRICS])
    assert O.glue_overall(truth, embeddings) == pytest.approx(0.6 * bio + 0.4 * mixing, abs=1e-6)


def test_metrics_are_registered_for_the_task_after_the_matching_metrics(make_registry):
    from dance.core.tasks.multiomics_integration import SPEC

    registry = make_registry()
    registered = {m.name: m for m in registry.metrics("multiomics_integration")}
    assert SPEC.metrics[:2] == ("foscttm", "label_transfer_accuracy")
    for name in (*O.BIO_METRICS, *O.MIXING_METRICS, "glue_overall"):
        assert name in SPEC.metrics and name in registered
        assert registered[name].higher_is_better
        assert "Cao & Gao (2022)" in registered[name].citation


# ---------------------------------------------------------------------- behaviour
def _blobs(mixed: bool, n_per: int = 40, n_types: int = 3, seed: int = 1):
    """Cell types as far-apart blobs; mod2 either drawn from the same blobs or shifted far away."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 50, size=(n_types, 6))
    shift = np.zeros(6) if mixed else np.full(6, 500.0)
    labels = np.repeat([f"t{t}" for t in range(n_types)], n_per)
    codes = np.repeat(np.arange(n_types), n_per)
    emb1 = centres[codes] + rng.normal(size=(len(codes), 6))
    emb2 = centres[codes] + shift + rng.normal(size=(len(codes), 6))
    return MultiomicsTruth(None, labels, labels.copy(), representations=(emb1, emb2 - shift)), (emb1, emb2)


def test_perfectly_mixed_separated_types_score_high_everywhere():
    truth, embeddings = _blobs(mixed=True)
    assert O.mean_average_precision(truth, embeddings) == 1.0
    assert O.cell_type_asw(truth, embeddings) > 0.95
    assert O.graph_connectivity(truth, embeddings) == 1.0
    assert O.seurat_alignment_score(truth, embeddings) > 0.8
    assert O.omics_layer_asw(truth, embeddings) > 0.9  # random modality labels: |silhouette| small
    # the representations are the embeddings themselves (mod2 unshifted): every neighbourhood kept
    assert O.neighbor_conservation(truth, embeddings) == 1.0


def test_unmixed_modalities_score_zero_on_mixing():
    truth, embeddings = _blobs(mixed=False)
    assert O.seurat_alignment_score(truth, embeddings) == 0.0
    assert O.omics_layer_asw(truth, embeddings) < 0.05
    # each cell type's graph splits into its two modalities: half of its cells are connected
    assert O.graph_connectivity(truth, embeddings) == pytest.approx(0.5)
    # biology within each modality is untouched
    assert O.neighbor_conservation(truth, embeddings) == 1.0


def test_unequal_modalities_subsample_deterministically():
    truth, (emb1, emb2) = _blobs(mixed=True)
    embeddings = (emb1, emb2[:70])
    truth = MultiomicsTruth(None, truth.labels1, truth.labels2[:70])
    first = O.seurat_alignment_score(truth, embeddings)
    O._LAST.clear()  # recomputed, not the cached value
    assert O.seurat_alignment_score(truth, embeddings) == first
    other_draws = [O.seurat_alignment_score(truth, embeddings, random_state=seed) for seed in range(1, 6)]
    assert all(0.0 <= v <= 1.0 for v in other_draws) and len(set(other_draws)) > 1  # the seed is used


def test_a_cell_type_in_one_modality_scores_one_on_omics_layer_asw():
    rng = np.random.default_rng(0)
    emb1, emb2 = rng.normal(size=(30, 4)), rng.normal(size=(20, 4)) + 100
    # 'a' is in both (far apart: 1 - |s| near 0); 'b' only in mod1, 'c' only in mod2: 1 each
    labels1 = np.array(["a"] * 10 + ["b"] * 20)
    labels2 = np.array(["a"] * 10 + ["c"] * 10)
    from sklearn.metrics import silhouette_samples

    silhouette_a = silhouette_samples(np.vstack([emb1[:10], emb2[:10]]), [0] * 10 + [1] * 10)
    expected = (np.mean(1 - np.abs(silhouette_a)) + 1 + 1) / 3
    assert O.omics_layer_asw(MultiomicsTruth(None, labels1, labels2), (emb1, emb2)) == pytest.approx(expected)


def test_absent_inputs_give_none():
    truth, embeddings = _blobs(mixed=True)
    unlabelled = MultiomicsTruth(np.arange(len(embeddings[0])), None, None)
    for fn in (O.mean_average_precision, O.cell_type_asw, O.omics_layer_asw, O.graph_connectivity):
        assert fn(unlabelled, embeddings) is None
    half_labelled = MultiomicsTruth(None, truth.labels1, None)
    assert O.mean_average_precision(half_labelled, embeddings) is None
    # neighbour conservation needs the unintegrated representations (absent by default)
    assert O.neighbor_conservation(unlabelled, embeddings) is None
    assert MultiomicsTruth(None, None, None).representations is None
    # SAS only needs the modalities
    assert O.seurat_alignment_score(unlabelled, embeddings) is not None
    # without labels or representations only SAS is left: no biology group, no overall
    assert O.glue_overall(unlabelled, embeddings) is None
    # a truth object of another shape (no attributes) is tolerated
    assert O.mean_average_precision(SimpleNamespace(), embeddings) is None


def test_overall_averages_the_metrics_it_can_compute():
    truth, embeddings = _blobs(mixed=False)
    no_reps = MultiomicsTruth(None, truth.labels1, truth.labels2)
    bio = np.mean([O.mean_average_precision(no_reps, embeddings), O.cell_type_asw(no_reps, embeddings)])
    mixing = np.mean(
        [O.seurat_alignment_score(no_reps, embeddings), O.omics_layer_asw(no_reps, embeddings), O.graph_connectivity(no_reps, embeddings)]
    )
    assert O.glue_overall(no_reps, embeddings) == pytest.approx(0.6 * bio + 0.4 * mixing)


def test_representations_of_the_wrong_size_are_refused():
    from dance.core.errors import DanceInputError

    truth, embeddings = _blobs(mixed=True)
    bad = MultiomicsTruth(None, truth.labels1, truth.labels2, representations=(embeddings[0], embeddings[1][:-1]))
    with pytest.raises(DanceInputError, match="mod2 has 119 rows for 120 cells"):
        O.neighbor_conservation(bad, embeddings)
    assert O.mean_average_precision(bad, embeddings) == 1.0  # the other metrics do not read them


def test_cached_values_follow_the_content_not_the_object():
    truth, (emb1, emb2) = _blobs(mixed=True)
    mixed = O.seurat_alignment_score(truth, (emb1, emb2))
    emb2 = emb2.copy()
    emb2 += 500.0  # same shapes, other content
    assert O.seurat_alignment_score(truth, (emb1, emb2)) == 0.0 != mixed
    # the same stacked cells split differently between the modalities are other inputs too
    stacked = np.vstack([emb1, emb2])
    assert O.seurat_alignment_score(truth, (stacked[:100], stacked[100:])) != O.seurat_alignment_score(
        truth, (stacked[:120], stacked[120:])
    )


def test_task_evaluation_reports_the_glue_metrics():
    from dance.core.keys import DataKeys
    from dance.core.tasks.multiomics_integration import MultiomicsIntegration

    truth, embeddings = _truth_and_embeddings("shared")
    metrics, absent = MultiomicsIntegration().evaluate_with_reasons(embeddings, truth, DataKeys())
    for name, value in REFERENCE["shared"].items():
        assert metrics[name] == pytest.approx(value, abs=1e-6)
    assert "glue_overall" in metrics and "foscttm" in absent  # unpaired: no FOSCTTM
