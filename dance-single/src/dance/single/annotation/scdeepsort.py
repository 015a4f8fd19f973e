"""scDeepsort: cell-type annotation with a weighted graph neural network on the cell-gene graph."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.transforms.pipeline import Step, step
from dance.single.annotation.training_data import genes_of, training_labels


class ScDeepsort(CellTypeAnnotationModel):
    """scDeepsort (Shao et al. 2021, Nucleic Acids Res 49:e122), trained from scratch.

    Cells and genes are the nodes of a weighted bipartite graph whose edges are the non-zero
    log-normalised expression values (Seurat's ``NormalizeData``: 10,000 counts per cell,
    natural log1p, as scDeepsort's ``pre-process.R``), rescaled so that the in-edge weights of
    every node average 1, plus a self loop of weight 1 on every node. Gene nodes start from a PCA
    of the genes over the training cells (``dim_in`` = 400 components, capped by the data's size);
    cell nodes start from the expression-weighted average of their genes' PCA features (the cell's
    expression divided by its total, times the gene features). One weighted graph aggregator layer
    (:mod:`dance.single.annotation.scdeepsort_module`: mean of ``beta_g``-weighted gene messages
    and the ``alpha``-weighted self loop, learnable per-gene confidences ``beta`` and self-loop
    confidences ``alpha``; DANCE appendix eq. 13) maps to 200 hidden units with ReLU and a linear
    head to the cell types. Training cells send messages to genes, query cells only receive from
    them, so query cells are simply added to the graph at inference.

    Training follows scDeepsort's ``run_internal.py``: Adam (learning rate 1e-3, weight decay
    5e-4), summed cross-entropy over mini-batches of 500 training cells, dropout 0.1 on the node
    states, up to 300 epochs, stopping early once every training cell is classified correctly and
    confidently (top probability at least ``unsure_rate / n_types``).

    Deviations: on a small training set 300 epochs are few optimiser steps (the 311 training
    cells of ``bmmc_cite_gex`` fit in one mini-batch: 300 steps, and training stops before every
    training cell is right), so the epoch limit is raised to allow at least ``min_steps``
    optimiser steps (default 2,000, about what 300 epochs give on the paper's Mouse Cell Atlas
    training sets); the early stop still ends training once the training cells are fitted. No DGL (torch
    sparse products give the same full-neighbourhood aggregation as its neighbour sampler with
    unlimited fan-out); the graph's edge weights are built here from the log-normalised ``X``
    rather than by the ``cell_gene_graph`` transform, whose weights are count proportions and
    which needs raw counts.

    Unknown labels: closed-set, as DANCE evaluates scDeepsort. Every cell gets its most probable
    training type. scDeepsort's "unsure" flag (top probability below ``unsure_rate / n_types``,
    default 2 / n_types) is reported in ``unsure_`` and the notes but does not change the
    prediction. Per-cell probabilities are kept in ``probabilities_``.
    """

    name = "scdeepsort"

    class Params(ModelParams):
        dim_in: int = Field(400, ge=2, description="PCA components of the gene and cell node features (scDeepsort: 400)")
        dim_hidden: int = Field(200, ge=1, description="hidden units of the aggregator layer (scDeepsort: 200)")
        n_layers: int = Field(1, ge=1, le=4, description="graph aggregator layers (scDeepsort: 1)")
        dropout: float = Field(0.1, ge=0, lt=1, description="dropout on node states (scDeepsort: 0.1)")
        learning_rate: float = Field(1e-3, gt=0, description="Adam learning rate (scDeepsort: 1e-3)")
        weight_decay: float = Field(5e-4, ge=0, description="Adam weight decay (scDeepsort: 5e-4)")
        epochs: int = Field(300, ge=1, description="maximum epochs (scDeepsort: 300)")
        min_steps: int = Field(2000, ge=0, description="allow at least this many optimiser steps (more epochs on small training sets)")
        batch_size: int = Field(500, ge=1, description="training cells per mini-batch (scDeepsort: 500)")
        stop_at_perfect_train: bool = Field(True, description="stop once every training cell is confidently right (scDeepsort)")
        unsure_rate: float = Field(2.0, ge=0, description="'unsure' when the top probability is below unsure_rate / n_types")

    quick_params = {"epochs": 3, "min_steps": 0, "dim_in": 16, "dim_hidden": 16}

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("log_normalize", target_sum=1e4),)

    @staticmethod
    def _expression(matrix: Any) -> sp.csr_matrix:
        x = sp.csr_matrix(matrix, dtype=np.float64)
        x.data = np.clip(x.data, 0, None)
        x.eliminate_zeros()
        return x

    def _cell_features(self, x: sp.csr_matrix) -> np.ndarray:
        totals = np.asarray(x.sum(axis=1)).ravel()
        return np.asarray(sp.diags(1.0 / (totals + 1e-6)) @ x @ self.gene_features_, dtype=np.float32)

    def _fit(self, data: Any) -> None:
        import torch
        import torch.nn.functional as F

        from dance.nn.data import torch_generator
        from dance.nn.trainer import Batch, OptimizerStep, Stage, Trainer
        from dance.single.annotation.scdeepsort_module import ScDeepsortNet, cell_gene_operators, sparse_rows

        p = self.params
        device = self.device_
        # first: the trainer seeds torch (initial weights, dropout); the shuffles come from a CPU
        # generator of the seed (the minibatch rows also index the scipy operators)
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed))
        train, classes, codes = training_labels(self, data)
        x = self._expression(data.X)
        train_idx = np.flatnonzero(train)
        x_train = x[train_idx]
        n_comps = int(max(1, min(p.dim_in, x.shape[1] - 1, len(train_idx) - 1)))
        self.gene_features_, explained = gene_pca(x_train, n_comps)
        operators = cell_gene_operators(x_train, np.ones(len(train_idx), dtype=bool))

        genes = torch.as_tensor(self.gene_features_, dtype=torch.float32, device=device)
        cells = torch.as_tensor(self._cell_features(x_train), device=device)
        cell_self = torch.as_tensor(operators.cell_self, device=device)
        targets = torch.as_tensor(codes, device=device)
        deep = p.n_layers > 1
        context: dict[str, Any] = {}
        if deep:
            context = {
                "train_cells": (cells, sparse_rows(operators.to_cell, None, device), cell_self),
                "to_gene": sparse_rows(operators.to_gene, None, device),
                "gene_self": torch.as_tensor(operators.gene_self, device=device),
            }

        net = ScDeepsortNet(x.shape[1], n_comps, p.dim_hidden, len(classes), n_layers=p.n_layers, dropout=p.dropout).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay)

        def logits_of(index: np.ndarray) -> torch.Tensor:
            rows = torch.as_tensor(index, device=device)
            return net(genes, cells[rows], sparse_rows(operators.to_cell, index, device), cell_self[rows], **context)

        def loss(batch: Batch) -> dict[str, torch.Tensor]:
            index: torch.Tensor = batch.index  # type: ignore[assignment]  # shuffled minibatches: a CPU tensor
            # summed over the batch, as scDeepsort's run_internal.py
            return {"loss": F.cross_entropy(logits_of(index.numpy()), targets[index.to(device)], reduction="sum")}

        threshold = p.unsure_rate / len(classes)
        accuracy: list[float] = []

        def perfect_on_training_cells(epoch: int, terms: dict[str, float]) -> bool:
            if not p.stop_at_perfect_train:
                return False
            net.eval()  # the trainer switches back to training mode for the next epoch
            with torch.no_grad():
                proba = torch.softmax(logits_of(np.arange(len(train_idx))), dim=1)
            top, best = proba.max(dim=1)
            accuracy.append(float(((best == targets) & (top >= threshold)).float().mean()))
            return accuracy[-1] == 1.0

        steps_per_epoch = -(-len(train_idx) // p.batch_size)
        stage = Stage(
            "train",
            epochs=max(p.epochs, -(-p.min_steps // steps_per_epoch)),
            n=len(train_idx),
            batch_size=p.batch_size,
            average="summed",
            steps=[OptimizerStep(optimizer, loss)],
        )
        result = trainer.fit(stage, module=net, on_epoch_end=perfect_on_training_cells)
        net.eval()
        self.net_ = net
        self.classes_ = classes
        self.genes_ = data.var_names.copy()
        self._context = context
        self.training_history_ = trainer.history
        self.notes_ = {
            "scdeepsort_pca_components": n_comps,
            "scdeepsort_pca_explained_variance": explained,
            "scdeepsort_epochs": result.epochs,
            "scdeepsort_steps": result.steps,
            "scdeepsort_final_loss": result.final["loss"],
        }
        if accuracy:
            self.notes_["scdeepsort_train_accuracy"] = accuracy[-1]

    def _predict(self, data: Any) -> Any:
        import torch

        from dance.nn.data import predict_in_batches
        from dance.single.annotation.scdeepsort_module import mean_operator, sparse_rows

        device = self.device_
        x = self._expression(genes_of(data, self.genes_, "scDeepsort"))
        to_cell, cell_self = mean_operator(x)
        genes = torch.as_tensor(self.gene_features_, dtype=torch.float32, device=device)
        cells = torch.as_tensor(self._cell_features(x), device=device)
        cell_self_t = torch.as_tensor(cell_self, device=device)

        def forward(index: torch.Tensor) -> torch.Tensor:
            rows = index.numpy()
            return self.net_(
                genes, cells[index.to(device)], sparse_rows(to_cell, rows, device), cell_self_t[index.to(device)], **self._context
            )

        self.net_.eval()
        proba = torch.softmax(predict_in_batches(forward, x.shape[0]), dim=1).cpu().numpy()
        self.probabilities_ = pd.DataFrame(proba, index=data.obs_names, columns=self.classes_)
        self.unsure_ = proba.max(axis=1) < self.params.unsure_rate / len(self.classes_)
        self.notes_["scdeepsort_unsure_fraction"] = float(self.unsure_.mean()) if len(self.unsure_) else 0.0
        return self.classes_[proba.argmax(axis=1)]


def gene_pca(x: sp.csr_matrix, n_comps: int) -> tuple[np.ndarray, float]:
    """PCA scores of the genes (samples) over the cells (features) of ``x`` (cells x genes).

    Exact PCA through the eigendecomposition of the smaller Gram matrix of the gene-centred
    matrix (genes x genes or cells x cells), which is much faster than a randomised SVD for 400
    components; signs are fixed so that each component's largest loading is positive. Returns the
    genes x ``n_comps`` scores and the fraction of variance they explain.
    """
    import torch

    m = sp.csr_matrix(x.T, dtype=np.float64)  # genes x cells
    n_genes, n_cells = m.shape
    mean = np.asarray(m.mean(axis=0)).ravel()  # per-cell mean over genes (the features' means)
    ones = np.ones(n_genes)
    if n_genes <= n_cells:
        gram = np.asarray((m @ m.T).todense())
        projected = m @ mean  # M m
        gram -= projected[:, None] + projected[None, :]
        gram += mean @ mean
    else:
        dense_m = m.toarray() - ones[:, None] * mean[None, :]
        gram = dense_m.T @ dense_m
    size = gram.shape[0]
    k = int(min(n_comps, size))
    values, vectors = torch.linalg.eigh(torch.from_numpy(gram))  # ascending; LAPACK syevd
    values = np.clip(values.numpy()[::-1][:k], 0, None)
    vectors = np.ascontiguousarray(vectors.numpy()[:, ::-1][:, :k])
    if n_genes <= n_cells:
        scores = vectors * np.sqrt(values)
    else:
        scores = (m @ vectors) - np.outer(ones, mean @ vectors)
    signs = np.sign(scores[np.abs(scores).argmax(axis=0), np.arange(k)])
    scores *= np.where(signs == 0, 1.0, signs)
    total = float(np.trace(gram))
    return scores, float(values.sum() / total) if total > 0 else 0.0
