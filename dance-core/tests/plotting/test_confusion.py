from __future__ import annotations

import numpy as np
from figure_checks import read_png

from dance.core.plotting.confusion import confusion_table, plot_class_counts, plot_confusion_matrix


def test_confusion_rows_are_true_classes_and_sum_to_one():
    fractions, rows, columns, counts = confusion_table(["a", "a", "b", "b"], ["a", "b", "b", "unknown"])
    assert rows == ["a", "b"] and columns == ["a", "b", "unknown"]
    np.testing.assert_allclose(fractions, [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    assert counts.tolist() == [2, 2]


def test_a_perfect_annotation_is_the_identity():
    labels = ["x", "y", "z", "y"]
    fractions, *_ = confusion_table(labels, labels)
    np.testing.assert_array_equal(fractions, np.eye(3))


def test_confusion_figure_with_one_class_and_with_many(tmp_path):
    plot_confusion_matrix(["only"] * 5, ["only"] * 4 + ["other"], tmp_path / "one.png", title="accuracy 0.8")
    small = read_png(tmp_path / "one.png")
    rng = np.random.default_rng(0)
    types = np.array([f"cell type number {i}" for i in range(41)])
    y_true = types[rng.integers(0, 41, 800)]
    y_pred = np.where(rng.random(800) < 0.7, y_true, types[rng.integers(0, 41, 800)])
    plot_confusion_matrix(y_true, y_pred, tmp_path / "many.png", title="accuracy 0.7")
    many = read_png(tmp_path / "many.png")
    assert many.shape[0] > small.shape[0] and many.shape[1] > small.shape[1]


def test_confusion_figure_without_cells(tmp_path):
    plot_confusion_matrix([], [], tmp_path / "empty.png", title="nothing")
    assert (tmp_path / "empty.png").is_file()


def test_class_counts_without_truth(tmp_path):
    plot_class_counts(["B", "T", "T", "NK", "T"], tmp_path / "counts.png", title="no truth")
    read_png(tmp_path / "counts.png")
