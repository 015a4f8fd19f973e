"""Metrics comparing true and predicted values: ``fn(y_true, y_pred) -> float``."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["mean_squared_error", "pearson_correlation", "pearson_per_feature", "root_mean_squared_error"]


def _dense(values: Any) -> np.ndarray:
    return np.asarray(values.toarray() if sp.issparse(values) else values, dtype=np.float64)


def mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """Mean squared difference over all entries."""
    return float(np.mean((_dense(y_true) - _dense(y_pred)) ** 2))


def root_mean_squared_error(y_true: Any, y_pred: Any) -> float:
    """Square root of the mean squared difference over all entries."""
    return float(np.sqrt(mean_squared_error(y_true, y_pred)))


def pearson_correlation(y_true: Any, y_pred: Any) -> float:
    """Pearson correlation of the flattened values (0 when either side is constant)."""
    a, b = _dense(y_true).ravel(), _dense(y_pred).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def pearson_per_feature(y_true: Any, y_pred: Any) -> float:
    """Pearson correlation of each feature (column) between true and predicted values over the
    cells, averaged over the features where both sides vary (the NeurIPS 2021 challenge's
    per-feature correlation). Not computable when no feature varies on both sides (a constant
    prediction such as the per-feature mean)."""
    from dance.core.errors import MetricNotComputableError

    a, b = _dense(y_true), _dense(y_pred)
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    norm = np.sqrt((a**2).sum(axis=0) * (b**2).sum(axis=0))
    varies = norm > 0
    if not varies.any():
        raise MetricNotComputableError(
            "no feature varies across the test cells in both the truth and the prediction (a constant prediction)"
        )
    return float(np.mean((a * b).sum(axis=0)[varies] / norm[varies]))
