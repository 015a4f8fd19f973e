"""CellTypist: logistic regression cell-type classifiers with feature selection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.transforms.pipeline import Step, step
from dance.single.annotation.training_data import dense, genes_of, training_labels

if TYPE_CHECKING:
    from dance.nn.trainer import StageResult, Trainer


class CellTypist(CellTypeAnnotationModel):
    """CellTypist (Dominguez Conde et al. 2022, Science 376:eabl5197).

    Expression is normalised to 10,000 counts per cell and log1p-transformed; genes never
    expressed in the training cells are dropped; each gene is standardised with the training
    cells' mean and SD and clipped at 10 from above (CellTypist's ``StandardScaler`` and
    ``np.minimum(x, 10)``, applied identically to query cells). The classifier is a multinomial
    logistic regression (softmax over cell types, L2 penalty ``alpha * ||W||^2 / 2`` as in
    scikit-learn's SGD objective) trained by mini-batch stochastic gradient descent, CellTypist's
    mini-batch mode: ``epochs`` passes over the shuffled training cells in batches of
    ``batch_size``. With ``feature_selection`` (CellTypist's two-pass training), the ``top_genes``
    genes with the largest absolute coefficients of each class are kept and a new classifier is
    trained on their union. Each cell's predicted type is its most probable class; the class
    probabilities are kept in ``probabilities_`` (written to ``obsm['celltypist_proba']``).

    With ``majority_voting``, the query cells are over-clustered as CellTypist does (genes in at
    least 5 cells, 2,500 highly variable genes, scaling clipped at 10, 50 principal components,
    10-nearest-neighbour graph, Leiden at resolution 5, 10, 15, 20 or 25 as the query grows past
    5k, 20k, 40k and 100k cells) and every over-cluster takes its majority prediction
    ("Heterogeneous" when that majority is below ``min_prop``).

    Deviations: CellTypist trains one-vs-rest classifiers (scikit-learn's ``SGDClassifier``,
    per-sample updates, ``optimal`` learning-rate schedule) and reports per-class sigmoid
    probabilities. Here the classifier is the truly multinomial softmax regression in torch,
    with mini-batches, momentum 0.9 and the learning rate ``learning_rate / (1 + t)`` after ``t``
    epochs (``t`` fractional), starting from zero weights; its probabilities sum to 1 per cell.

    Unknown labels: closed-set. Each cell gets its most probable training type (CellTypist's
    "best match" mode); cells of types absent from training are errors (or "Heterogeneous" under
    majority voting).
    """

    name = "celltypist"

    class Params(ModelParams):
        alpha: float = Field(1e-4, ge=0, description="L2 regularisation strength (CellTypist's SGD default 1e-4)")
        learning_rate: float = Field(0.05, gt=0, description="starting SGD learning rate")
        momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum")
        epochs: int = Field(10, ge=1, description="passes over the training cells (CellTypist's mini-batch default: 10)")
        batch_size: int = Field(128, ge=1, description="training cells per SGD step")
        feature_selection: bool = Field(True, description="retrain on the top genes of each class (CellTypist's second pass)")
        top_genes: int = Field(300, ge=1, description="genes kept per class by feature selection (CellTypist: 300)")
        majority_voting: bool = Field(False, description="refine predictions by over-clustering majority vote")
        min_prop: float = Field(0.0, ge=0, le=1, description="minimum majority share for a voted label ('Heterogeneous' otherwise)")

    quick_params = {"epochs": 2}

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("log_normalize", target_sum=1e4),)

    def _scaled(self, x: np.ndarray, genes: np.ndarray) -> np.ndarray:
        out = (x - self.mean_[genes]) / self.sd_[genes]
        return np.minimum(out, 10.0).astype(np.float32)

    def _train(
        self, trainer: Trainer, x: np.ndarray, codes: np.ndarray, n_classes: int, stage: str
    ) -> tuple[np.ndarray, np.ndarray, StageResult]:
        """Multinomial logistic regression by mini-batch SGD; returns ``(coef, intercept, result)``."""
        import torch
        import torch.nn.functional as F

        from dance.nn.data import dense_tensor
        from dance.nn.trainer import Batch, OptimizerStep, Stage

        p = self.params
        device = self.device_
        features = dense_tensor(x, device)
        targets = torch.as_tensor(codes, device=device)
        linear = torch.nn.Linear(x.shape[1], n_classes).to(device)
        torch.nn.init.zeros_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        optimizer = torch.optim.SGD(linear.parameters(), lr=p.learning_rate, momentum=p.momentum)
        steps_per_epoch = -(-x.shape[0] // p.batch_size)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1.0 / (1.0 + t / steps_per_epoch))

        def loss(batch: Batch) -> dict[str, torch.Tensor]:
            index = batch.index.to(device)  # type: ignore[union-attr]  # shuffled minibatches: a tensor
            cross_entropy = F.cross_entropy(linear(features[index]), targets[index])
            return {"loss": cross_entropy + p.alpha / 2 * (linear.weight**2).sum(), "cross_entropy": cross_entropy}

        # each pass shuffles from the seed's start, as CellTypist's two independent fits do
        trainer.generator.manual_seed(self.seed)
        step = OptimizerStep(optimizer, loss, scheduler=scheduler)
        result = trainer.fit(Stage(stage, epochs=p.epochs, n=x.shape[0], batch_size=p.batch_size, steps=[step]), module=linear)
        return linear.weight.detach().cpu().numpy(), linear.bias.detach().cpu().numpy(), result

    def _fit(self, data: Any) -> None:
        from dance.nn.data import torch_generator
        from dance.nn.trainer import Trainer

        p = self.params
        # first: the trainer seeds torch; the shuffles come from a CPU generator of the seed
        trainer = Trainer(self.name, seed=self.seed, device=self.device_, generator=torch_generator(self.seed))
        train, classes, codes = training_labels(self, data)
        x = dense(data.X[train], np.float64)
        self.mean_ = x.mean(axis=0)
        sd = x.std(axis=0)
        self.sd_ = np.where(sd > 0, sd, 1.0)
        expressed = np.flatnonzero((x != 0).any(axis=0))
        coef, intercept, result = self._train(trainer, self._scaled(x[:, expressed], expressed), codes, len(classes), "train")
        selected = expressed
        if p.feature_selection and len(expressed) > p.top_genes:
            top = np.argpartition(np.abs(coef), -p.top_genes, axis=1)[:, -p.top_genes :]
            selected = expressed[np.unique(top.ravel())]
            coef, intercept, result = self._train(trainer, self._scaled(x[:, selected], selected), codes, len(classes), "second_pass")
        self.coef_, self.intercept_ = coef, intercept
        self.classes_ = classes
        self.selected_ = selected
        self.genes_ = data.var_names.copy()
        self.training_history_ = trainer.history
        self.notes_ = {
            "celltypist_features": len(selected),
            "celltypist_epochs": result.epochs,
            "celltypist_steps": result.steps,
            "celltypist_final_loss": result.final["loss"],
        }

    def decision_function(self, scaled: np.ndarray) -> np.ndarray:
        """Class scores (logits) of scaled expression over the selected genes."""
        return scaled.astype(np.float64) @ self.coef_.T.astype(np.float64) + self.intercept_

    def _predict(self, data: Any) -> Any:
        from scipy.special import softmax

        x = dense(genes_of(data, self.genes_, "CellTypist"), np.float64)[:, self.selected_]
        proba = softmax(self.decision_function(self._scaled(x, self.selected_)), axis=1)
        self.probabilities_ = pd.DataFrame(proba, index=data.obs_names, columns=self.classes_)
        labels = self.classes_[np.argmax(proba, axis=1)]
        if self.params.majority_voting:
            labels = self._majority_vote(data, labels)
        return labels

    def _majority_vote(self, data: Any, labels: np.ndarray) -> np.ndarray:
        """CellTypist's over-clustering of the query cells and majority vote per over-cluster."""
        import anndata as ad

        from dance.core.community import communities
        from dance.core.transforms.pipeline import apply_pipeline

        n = data.n_obs
        resolution = 5 if n < 5000 else 10 if n < 20000 else 15 if n < 40000 else 20 if n < 100000 else 25
        query = ad.AnnData(dense(data.X), obs=pd.DataFrame(index=data.obs_names), var=pd.DataFrame(index=data.var_names))
        steps = (
            step("filter_genes", min_cells=min(5, max(1, n // 2))),
            step("highly_variable_genes", n_top_genes=2500),
            step("scale", max_value=10.0),
            step("pca", n_comps=50),
            step("knn_graph", n_neighbors=10),
        )
        query = apply_pipeline(query, steps, keys=self.keys, seed=self.seed)
        clusters = communities(query.obsp["connectivities"], method="leiden", resolution=resolution, seed=self.seed)
        voted = labels.copy()
        for cluster in np.unique(clusters):
            members = clusters == cluster
            values, counts = np.unique(labels[members], return_counts=True)
            share = counts.max() / members.sum()
            voted[members] = values[np.argmax(counts)] if share >= self.params.min_prop else "Heterogeneous"
        self.notes_["celltypist_overclusters"] = len(np.unique(clusters))
        return voted
