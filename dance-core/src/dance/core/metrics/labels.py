"""Metrics comparing two labelings of the same cells: ``fn(y_true, y_pred) -> float``."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

__all__ = ["accuracy", "adjusted_rand_index", "macro_f1", "normalized_mutual_information"]


def _as_str(values: Any) -> np.ndarray:
    return np.asarray(values).astype(str)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of cells whose predicted label equals the true one."""
    return float(skm.accuracy_score(_as_str(y_true), _as_str(y_pred)))


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """F1 score averaged over the true classes with equal weight (macro average).

    Predicted labels that are not true classes (e.g. ``"unknown"``) count as errors but do not
    add a class of their own to the average.
    """
    y_true, y_pred = _as_str(y_true), _as_str(y_pred)
    return float(skm.f1_score(y_true, y_pred, labels=np.unique(y_true), average="macro", zero_division=0))


def adjusted_rand_index(y_true: Any, y_pred: Any) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) between two partitions."""
    return float(skm.adjusted_rand_score(_as_str(y_true), _as_str(y_pred)))


def normalized_mutual_information(y_true: Any, y_pred: Any) -> float:
    """Normalised mutual information (arithmetic mean normalisation) between two partitions."""
    return float(skm.normalized_mutual_info_score(_as_str(y_true), _as_str(y_pred)))
