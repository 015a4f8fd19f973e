from __future__ import annotations

import numpy as np
import pytest
from figure_checks import read_png

from dance.core.keys import DataKeys
from dance.core.plotting.categorical import Colouring
from dance.core.plotting.embedding import expression_embedding, modality_panels, plot_umaps, umap_coordinates
from dance.core.testing import synthetic_data


def blobs(n: int = 90, dims: int = 6, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    groups = np.arange(n) % 3
    return (rng.normal(size=(n, dims)) + 8 * groups[:, None]).astype(np.float32), groups


def test_umap_is_deterministic_and_keeps_groups_apart():
    x, groups = blobs()
    first, second = umap_coordinates(x, seed=3), umap_coordinates(x, seed=3)
    np.testing.assert_array_equal(first, second)
    assert first.shape == (90, 2) and np.isfinite(first).all()
    centres = np.stack([first[groups == g].mean(axis=0) for g in range(3)])
    spread = max(np.linalg.norm(first[groups == g] - centres[g], axis=1).mean() for g in range(3))
    assert min(np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i + 1, 3)) > 2 * spread


@pytest.mark.parametrize("shape", [(2, 5), (3, 1), (6, 1), (8, 3)])
def test_umap_of_tiny_or_one_dimensional_embeddings(shape):
    coords = umap_coordinates(np.random.default_rng(0).normal(size=shape))
    assert coords.shape == (shape[0], 2) and np.isfinite(coords).all()


def test_umap_panels_per_embedding_and_colouring(tmp_path):
    x, groups = blobs()
    labels = np.array(["a", "b", "c"], dtype=object)[groups]
    batch = np.where(np.arange(90) % 2, "b1", "b2").astype(object)
    coords = plot_umaps(
        {"before": x, "after": x[:, ::-1]}, [Colouring("cell type", labels), Colouring("batch", batch)], tmp_path / "u.png", title="t"
    )
    assert set(coords) == {"before", "after"} and coords["after"].shape == (90, 2)
    image = read_png(tmp_path / "u.png")
    assert image.shape[0] > image.shape[1] / 2.5  # two rows of panels


def test_umap_without_anything_to_colour_by_or_with_one_class(tmp_path):
    x, _ = blobs(30)
    plot_umaps({"X": x}, [], tmp_path / "none.png")
    plot_umaps({"X": x}, [Colouring("one class", np.full(30, "only", dtype=object))], tmp_path / "one.png")
    read_png(tmp_path / "none.png", min_width=400)
    read_png(tmp_path / "one.png", min_width=400)


def test_forty_classes_widen_the_figure_for_their_legend(tmp_path):
    x, _ = blobs(120)
    few = np.array(["a", "b"], dtype=object)[np.arange(120) % 2]
    many = np.array([f"cell type {i}" for i in range(40)], dtype=object)[np.arange(120) % 40]
    plot_umaps({"X": x}, [Colouring("few", few)], tmp_path / "few.png")
    plot_umaps({"X": x}, [Colouring("many", many)], tmp_path / "many.png")
    assert read_png(tmp_path / "many.png").shape[1] > read_png(tmp_path / "few.png").shape[1] + 200


def test_modality_panels_colour_each_modality_by_its_labels():
    panels = modality_panels((2, 3), (np.array(["T", "B"]), None), ("rna", "atac"))
    assert [p.title for p in panels] == ["modality", "cell type, rna cells"]
    assert panels[0].values.tolist() == ["rna", "rna", "atac", "atac", "atac"]
    assert panels[1].values.tolist() == ["T", "B", None, None, None] and panels[1].missing == "atac cells"
    both = modality_panels((1, 1), (np.array(["T"]), np.array(["B"])), ("rna", "atac"))
    assert both[2].values.tolist() == [None, "B"] and both[1].colours == both[2].colours


def test_expression_embedding_is_a_pca_of_the_cells():
    data = synthetic_data("clustering")
    embedding = expression_embedding(data, DataKeys(), seed=0)
    assert embedding.shape[0] == data.n_obs and 2 <= embedding.shape[1] <= 50
