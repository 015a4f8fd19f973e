"""CellTypist: logistic regression cell-type classifiers with feature selection."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.transforms.pipeline import Step, step


class CellTypist(CellTypeAnnotationModel):
    """CellTypist (Dominguez Conde et al. 2022, Science 376:eabl5197).

    Logistic regression trained with stochastic gradient descent (log loss, L2 penalty
    ``alpha``; one-vs-rest, scikit-learn's SGDClassifier as CellTypist uses it) on log1p
    expression normalised to 10,000 counts per cell, with genes never expressed in training
    dropped, standardised with the training cells' mean and SD and clipped at 10. With
    ``feature_selection`` a first model is trained on all genes, the ``top_genes`` genes with the
    largest absolute coefficients of each class are kept, and the final model is retrained on
    their union (CellTypist's second pass). ``use_sgd=False`` trains an L-BFGS logistic regression
    (CellTypist's default solver) instead.
    Per-cell class probabilities are kept in ``probabilities_`` (written to
    ``obsm['celltypist_proba']``). With ``majority_voting``, cells are over-clustered (Leiden on
    the query's kNN graph, resolution growing with the number of cells as in CellTypist) and each
    over-cluster takes its majority prediction.
    """

    name = "celltypist"

    class Params(ModelParams):
        use_sgd: bool = Field(True, description="SGD logistic regression (else L-BFGS)")
        alpha: float = Field(1e-4, gt=0, description="L2 regularisation strength of the SGD classifier")
        C: float = Field(1.0, gt=0, description="inverse regularisation of the L-BFGS classifier")
        max_iter: int = Field(1000, ge=5, description="maximum epochs / iterations (CellTypist: 1000 below 50,000 cells)")
        feature_selection: bool = Field(True, description="retrain on the top genes of each class")
        top_genes: int = Field(300, ge=1, description="genes kept per class by feature selection")
        majority_voting: bool = Field(False, description="refine predictions by over-clustering majority vote")
        min_prop: float = Field(0.0, ge=0, le=1, description="minimum majority share for a voted label ('Heterogeneous' otherwise)")

    quick_params = {"max_iter": 20}

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("log_normalize", target_sum=1e4),)

    def _scaled(self, x: Any, genes: Any) -> np.ndarray:
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
        out = (x - self.mean_[genes]) / self.sd_[genes]
        return np.clip(out, None, 10.0)

    def _train(self, x: np.ndarray, y: np.ndarray) -> Any:
        from sklearn.linear_model import LogisticRegression, SGDClassifier

        if self.params.use_sgd:
            classifier = SGDClassifier(loss="log_loss", alpha=self.params.alpha, max_iter=self.params.max_iter, random_state=self.seed)
        else:
            classifier = LogisticRegression(C=self.params.C, max_iter=self.params.max_iter, random_state=self.seed)
        return classifier.fit(x, y)

    def _fit(self, data: Any) -> None:
        train = self.train_mask(data)
        x = data.X[train]
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
        y = data.obs[self.keys.label_key].astype(str).to_numpy()[train]
        self.mean_ = x.mean(axis=0)
        sd = x.std(axis=0)
        self.sd_ = np.where(sd > 0, sd, 1.0)
        expressed = np.flatnonzero((x != 0).any(axis=0))
        classifier = self._train(self._scaled(x[:, expressed], expressed), y)
        selected = expressed
        if self.params.feature_selection and len(expressed) > self.params.top_genes:
            top = np.argpartition(np.abs(classifier.coef_), -self.params.top_genes, axis=1)[:, -self.params.top_genes :]
            selected = expressed[np.unique(top.ravel())]
            classifier = self._train(self._scaled(x[:, selected], selected), y)
        self.classifier_ = classifier
        self.selected_ = selected
        self.genes_ = data.var_names.copy()
        self.notes_ = {"celltypist_features": len(selected)}

    def _predict(self, data: Any) -> Any:
        x = data[:, self.genes_].X
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)[:, self.selected_]
        scaled = self._scaled(x, self.selected_)
        proba = self.classifier_.predict_proba(scaled)
        classes = self.classifier_.classes_
        self.probabilities_ = pd.DataFrame(proba, index=data.obs_names, columns=classes)
        labels = classes[np.argmax(proba, axis=1)].astype(object)
        if self.params.majority_voting:
            labels = self._majority_vote(scaled, labels)
        return labels

    def _majority_vote(self, scaled: np.ndarray, labels: np.ndarray) -> np.ndarray:
        import anndata as ad
        import scanpy as sc

        from dance.core.community import communities

        n = scaled.shape[0]
        resolution = 5 if n < 5000 else 10 if n < 20000 else 15 if n < 40000 else 20 if n < 100000 else 25
        adata = ad.AnnData(np.zeros((n, 1), dtype=np.float32))
        adata.obsm["X_pca"] = sc.pp.pca(scaled.astype(np.float32), n_comps=min(50, n - 1, scaled.shape[1] - 1), random_state=self.seed)
        sc.pp.neighbors(adata, n_neighbors=min(10, n - 1), use_rep="X_pca", random_state=self.seed)
        clusters = communities(adata.obsp["connectivities"], method="leiden", resolution=resolution, seed=self.seed)
        voted = labels.copy()
        for cluster in np.unique(clusters):
            members = clusters == cluster
            values, counts = np.unique(labels[members], return_counts=True)
            share = counts.max() / members.sum()
            voted[members] = values[np.argmax(counts)] if share >= self.params.min_prop else "Heterogeneous"
        return voted
