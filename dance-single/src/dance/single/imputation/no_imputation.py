"""The ``no_imputation`` control: the masked counts as they are."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from dance.core.tasks.imputation import ImputationModel
from dance.core.transforms.pipeline import step


class NoImputation(ImputationModel):
    """Control: returns the counts it is given, so every held-out entry is imputed as 0.

    The floor every imputation method must beat on the held-out entries; its ``ari_imputed``
    equals ``ari_masked``. Learns nothing.
    """

    name = "no_imputation"

    default_pipeline = (step("select_counts"),)

    def _fit(self, data: Any) -> None:
        self.n_genes_ = data.n_vars

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"n_genes": int(self.n_genes_)}, {}

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.n_genes_ = int(values["n_genes"])

    def _predict(self, data: Any) -> Any:
        x = data.X
        return sp.csr_matrix(x, dtype=np.float32, copy=True) if sp.issparse(x) else np.array(x, dtype=np.float32)
