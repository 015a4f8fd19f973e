"""Linear SVM annotation baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.transforms.pipeline import Step, step


class SVM(CellTypeAnnotationModel):
    """Linear support vector machine on log-normalised, scaled highly variable genes.

    The linear SVM is the strongest simple baseline in cell-type annotation benchmarks
    (Abdelaal et al. 2019, Genome Biol 20:194) and DANCE's reference baseline. One-vs-rest
    squared hinge loss (scikit-learn's LinearSVC / liblinear, Fan et al. 2008, JMLR 9:1871).
    """

    name = "svm"

    class Params(ModelParams):
        C: float = Field(1.0, gt=0, description="inverse regularisation strength")
        n_top_genes: int = Field(2000, ge=10, description="highly variable genes used as features")
        max_iter: int = Field(5000, ge=100)
        dual: bool = Field(True, description="solve the dual problem (liblinear's coordinate descent; the primal is far slower here)")

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("log_normalize"), step("highly_variable_genes", n_top_genes=self.params.n_top_genes), step("scale", max_value=10.0))

    def _fit(self, data: Any) -> None:
        from sklearn.svm import LinearSVC

        train = self.train_mask(data)
        x = np.asarray(data.X[train])
        y = data.obs[self.keys.label_key].astype(str).to_numpy()[train]
        # scikit-learn's dual="auto" picks the primal solver when cells outnumber genes; on PBMC 4K
        # (3,400 training cells x 2,000 scaled genes) the primal did not converge in 1,000 iterations
        # (231 s) while the dual converged in 235 (8 s), with the same accuracy (0.85 vs 0.84)
        classifier = LinearSVC(C=self.params.C, max_iter=self.params.max_iter, dual=self.params.dual, random_state=self.seed)
        self.classifier_ = classifier.fit(x, y)
        self.genes_ = data.var_names.copy()

    def _predict(self, data: Any) -> Any:
        x = np.asarray(data[:, self.genes_].X)
        return self.classifier_.predict(x)
