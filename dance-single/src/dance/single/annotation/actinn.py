"""ACTINN: automated cell-type identification with a fully connected neural network."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from dance.core.models.base import ModelParams
from dance.core.tasks.cell_type_annotation import CellTypeAnnotationModel
from dance.core.transforms.pipeline import Step, step
from dance.single.annotation.training_data import dense, genes_of, training_labels


class ACTINN(CellTypeAnnotationModel):
    """ACTINN (Ma & Pellegrini 2020, Bioinformatics 36:533-538).

    Expression is normalised to 10,000 counts per cell and log2(1 + x)-transformed (the
    pipeline's natural-log ``log_normalize`` divided by ln 2). As in ACTINN's ``scale_sets``,
    genes are filtered on all cells given to ``fit`` (training and query cells together): genes
    whose total expression or coefficient of variation lies below the 1st or above the 99th
    percentile are dropped. A fully connected network (``100 -> 50 -> 25`` ReLU hidden units,
    softmax output; Xavier-initialised) is trained on the training cells by Adam on the
    cross-entropy plus the L2 penalty ``l2 * sum(W ** 2) / 2`` of all weight matrices, in
    mini-batches of 128, with the learning rate decayed by 0.95 every 1,000 steps (staircase), as
    in ACTINN's code (``actinn_predict.py``: learning rate 1e-4, lambda 0.005).

    Deviation: ACTINN trains a fixed 50 epochs, which on a small training set (the 311 cells of
    ``bmmc_cite_gex``: 3 mini-batches per epoch) is only 150 optimiser steps and leaves the network
    far from converged. Training therefore runs at least ``min_steps`` optimiser steps (default
    6,000, i.e. 50 epochs of about 15,000 cells); on larger training sets ``epochs`` decides.

    Unknown labels: ACTINN is a closed-set classifier. Every cell gets the most probable training
    type; cells of types absent from training are necessarily errors. Per-cell softmax
    probabilities are kept in ``probabilities_``.
    """

    name = "actinn"

    class Params(ModelParams):
        hidden_dims: tuple[int, ...] = Field((100, 50, 25), min_length=1, description="hidden layer widths (ACTINN: 100, 50, 25)")
        learning_rate: float = Field(1e-4, gt=0, description="Adam's starting learning rate (ACTINN: 0.0001)")
        lr_decay: float = Field(0.95, gt=0, le=1, description="learning-rate factor applied every decay_steps steps (ACTINN: 0.95)")
        decay_steps: int = Field(1000, ge=1, description="optimiser steps between learning-rate decays (ACTINN: 1000)")
        l2: float = Field(0.005, ge=0, description="L2 penalty lambda on the weights (ACTINN: 0.005)")
        epochs: int = Field(50, ge=1, description="passes over the training cells (ACTINN: 50)")
        min_steps: int = Field(6000, ge=0, description="train at least this many optimiser steps (more epochs on small training sets)")
        batch_size: int = Field(128, ge=1, description="cells per mini-batch (ACTINN: 128)")
        filter_percentile: float = Field(1.0, ge=0, lt=50, description="drop genes below/above this percentile of total expression and CV")

    quick_params = {"epochs": 3, "min_steps": 0}

    def build_pipeline(self) -> tuple[Step, ...]:
        return (step("log_normalize", target_sum=1e4),)

    def _log2(self, data: Any) -> np.ndarray:
        return dense(data.X) / math.log(2.0)

    def _gene_filter(self, x: np.ndarray) -> np.ndarray:
        """ACTINN's filter: total expression, then CV, within the [q, 100 - q] percentiles."""
        q = self.params.filter_percentile
        keep = np.arange(x.shape[1])
        total = x.sum(axis=0)
        inside = (total >= np.percentile(total, q)) & (total <= np.percentile(total, 100 - q)) & (total > 0)
        keep = keep[inside]
        sub = x[:, keep]
        cv = sub.std(axis=0) / sub.mean(axis=0)
        inside = (cv >= np.percentile(cv, q)) & (cv <= np.percentile(cv, 100 - q))
        return keep[inside]

    def _fit(self, data: Any) -> None:
        import torch
        import torch.nn.functional as F

        from dance.nn.data import dense_tensor, torch_generator
        from dance.nn.trainer import Batch, OptimizerStep, Stage, Trainer
        from dance.single.annotation.actinn_module import ACTINNNet

        p = self.params
        device = self.device_
        # first: the trainer seeds torch (the network's initial weights); the shuffles come from
        # a CPU generator of the seed, so they are the same on every device
        trainer = Trainer(self.name, seed=self.seed, device=device, generator=torch_generator(self.seed))
        train, classes, codes = training_labels(self, data)
        x = self._log2(data)
        genes = self._gene_filter(x)
        features = dense_tensor(x[train][:, genes], device)
        targets = torch.as_tensor(codes, device=device)
        n = features.shape[0]

        net = ACTINNNet(len(genes), len(classes), p.hidden_dims).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=p.learning_rate)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: p.lr_decay ** (t // p.decay_steps))
        steps_per_epoch = math.ceil(n / p.batch_size)
        epochs = max(p.epochs, math.ceil(p.min_steps / steps_per_epoch))

        def loss(batch: Batch) -> dict[str, torch.Tensor]:
            index = batch.index.to(device)  # type: ignore[union-attr]  # shuffled minibatches: a tensor
            cross_entropy = F.cross_entropy(net(features[index]), targets[index])
            return {"loss": cross_entropy + p.l2 * net.weight_penalty(), "cross_entropy": cross_entropy}

        stage = Stage("train", epochs=epochs, n=n, batch_size=p.batch_size, steps=[OptimizerStep(optimizer, loss, scheduler=scheduler)])
        result = trainer.fit(stage, module=net)
        net.eval()
        self.net_ = net
        self.classes_ = classes
        self.genes_ = data.var_names[genes]
        self.training_history_ = trainer.history
        self.notes_ = {
            "actinn_genes": len(genes),
            "actinn_epochs": result.epochs,
            "actinn_steps": result.steps,
            "actinn_final_loss": result.final["loss"],
        }

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The type names, the genes the network reads (after ACTINN's filter) and its weights."""
        from dance.nn.persistence import module_arrays

        return {"classes": [str(c) for c in self.classes_], "genes": [str(g) for g in self.genes_]}, module_arrays(self.net_, "net")

    def _restore_state(self, values: dict[str, Any], arrays: dict[str, Any]) -> None:
        from dance.nn.persistence import load_module_arrays
        from dance.single.annotation.actinn_module import ACTINNNet

        self.classes_ = np.asarray(values["classes"], dtype=object)
        self.genes_ = pd.Index(values["genes"])
        net = ACTINNNet(len(self.genes_), len(self.classes_), self.params.hidden_dims)
        self.net_ = load_module_arrays(net, arrays, "net").to(self.device_).eval()

    def _predict(self, data: Any) -> Any:
        import torch

        from dance.nn.data import dense_tensor, predict_in_batches

        x = dense_tensor(dense(genes_of(data, self.genes_, "ACTINN")) / math.log(2.0), self.device_)
        logits = predict_in_batches(lambda index: self.net_(x[index.to(x.device)]), x.shape[0])
        proba = torch.softmax(logits, dim=1).cpu().numpy()
        self.probabilities_ = pd.DataFrame(proba, index=data.obs_names, columns=self.classes_)
        return self.classes_[proba.argmax(axis=1)]
