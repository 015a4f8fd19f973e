"""The one training loop of dance's deep models.

A model describes *what* to optimise -- its module, its optimisers and the loss of a minibatch --
and the :class:`Trainer` does the rest the same way for every model: seeding, the device, full
batch or seeded minibatches, several optimisers in turn (a discriminator step, then the model),
stages with their own epochs and learning rates (pretraining, then training), learning-rate
schedules per step or per epoch, a validation split with early stopping that restores the best
weights, KL warm-up, gradient clipping, per-epoch hooks for algorithms that update state between
epochs (DEC's target distribution, scDCC's constraints), a clear error when a loss stops being
finite, a progress bar, and the history of every loss term per epoch.

::

    trainer = Trainer("scdeepcluster", seed=0, device="cpu")
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, amsgrad=True)

    def zinb(batch):
        mean, disp, pi = module.reconstruct(x[batch.index], trainer.generator)
        return {"zinb": zinb_loss(counts[batch.index], mean, disp, pi, scale_factor=sf[batch.index])}

    trainer.fit(Stage("pretrain", epochs=200, n=n_cells, batch_size=256, steps=[OptimizerStep(optimizer, zinb)]), module=module)
    trainer.history["pretrain"]["zinb"]      # mean per epoch

Why a small trainer of our own and not PyTorch Lightning: measured in docs/developing-models.md
(import time and per-epoch overhead on a full-batch model of 4,000 cells).
"""

from __future__ import annotations

import copy
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from dance.core.errors import DanceError

__all__ = ["Batch", "EarlyStopping", "OptimizerStep", "Stage", "Trainer", "TrainingDivergedError", "progress_enabled"]

LossTerms = Mapping[str, torch.Tensor]


class TrainingDivergedError(DanceError):
    """A loss term became NaN or infinite: training stopped (the message names model, stage, epoch and term)."""


def progress_enabled() -> bool:
    """Progress bars are drawn on a terminal and not when ``DANCE_QUIET=1`` (``dance run --quiet``)."""
    if os.environ.get("DANCE_QUIET", "") not in ("", "0"):
        return False
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


@dataclass
class Batch:
    """One optimisation step's view of the data.

    ``index`` selects the rows of this minibatch (a tensor of row numbers, a ``slice`` for
    unshuffled minibatches, or ``None`` for the full batch); ``size`` is its number of rows.
    ``kl_weight`` is the KL warm-up factor of the epoch (1 without warm-up).
    """

    index: torch.Tensor | slice | None
    size: int
    epoch: int
    step: int
    kl_weight: float = 1.0
    training: bool = True


@dataclass
class OptimizerStep:
    """One optimiser and the loss it minimises on every batch.

    ``loss(batch)`` returns the loss terms of the batch as scalar tensors; the optimiser minimises
    the term named ``"loss"`` if there is one, else the sum of the terms. Every term is recorded
    in the history. ``scheduler`` (if any) is stepped after each optimiser step; ``clip_norm``
    clips the gradient norm of the optimiser's parameters before the step.
    """

    optimizer: torch.optim.Optimizer
    loss: Callable[[Batch], LossTerms]
    scheduler: Any | None = None
    clip_norm: float | None = None
    name: str = ""


@dataclass
class EarlyStopping:
    """Hold out a seeded ``fraction`` of the rows, score them after every epoch and stop when the
    monitored term has not improved by ``min_delta`` for ``patience`` epochs; with ``restore_best``
    the module gets the weights of its best epoch back. ``batch_size`` scores the held-out rows in
    batches of that many (each term the row-weighted mean of the batches' values, as scglue
    validates), for losses whose whole-set evaluation would not fit in memory; None: one batch."""

    fraction: float = 0.1
    monitor: str = "loss"
    patience: int = 10
    min_delta: float = 0.0
    restore_best: bool = True
    min_rows: int = 1
    batch_size: int | None = None


@dataclass
class Stage:
    """A training stage: its epochs, the optimisers stepped on each batch, and how batches are made.

    Parameters
    ----------
    name
        Recorded in the history and in error messages (``"pretrain"``, ``"train"``, ``"cluster"``).
    epochs
        Passes over the data.
    steps
        The optimisers with their losses, applied in this order on every batch.
    n
        Number of rows (cells) the batches index.
    batch_size
        Rows per optimiser step; None: the full batch (one step per epoch).
    shuffle
        Seeded random minibatches; False: consecutive slices in row order.
    min_batch_size
        Minibatches with fewer rows are skipped (batch normalisation needs several).
    kl_warmup_epochs
        Linear KL warm-up: ``batch.kl_weight = min(1, epoch / kl_warmup_epochs)`` (scvi-tools).
    early_stopping
        Validation split and early stopping (None: train all epochs on all rows).
    epoch_schedulers
        Learning-rate schedulers stepped after every epoch.
    average
        How the epoch's value of a term is made from the batches' values: ``"rows"`` (the terms
        are means over the batch's rows: weighted by batch size), ``"summed"`` (the terms are sums
        over the batch's rows: total over rows) or ``"steps"`` (plain mean over steps).
    """

    name: str
    epochs: int
    steps: Sequence[OptimizerStep]
    n: int
    batch_size: int | None = None
    shuffle: bool = True
    min_batch_size: int = 1
    kl_warmup_epochs: int | None = None
    early_stopping: EarlyStopping | None = None
    epoch_schedulers: Sequence[Any] = ()
    average: Literal["rows", "summed", "steps"] = "rows"


@dataclass
class StageResult:
    """What a stage did: epochs run, optimiser steps, whether a hook or early stopping ended it,
    and the last epoch's mean of every term."""

    epochs: int = 0
    steps: int = 0
    stopped_early: bool = False
    best_epoch: int | None = None
    final: dict[str, float] = field(default_factory=dict)


class Trainer:
    """Trains a model's module through one or more :class:`Stage` s.

    Parameters
    ----------
    model
        The model's name, for the progress bar and error messages.
    seed
        Seeds Python, NumPy and torch (done here, after torch is imported, so the first fit of a
        fresh process is seeded like every later one) and the trainer's own generator.
    device
        Where the tensors live; chosen once by the model (``model.device_``).
    generator
        The generator of minibatch orders (and of anything the model draws with
        ``trainer.generator``); a seeded one on ``device`` by default.
    progress
        Draw a progress bar; by default on a terminal unless ``DANCE_QUIET=1``.
    """

    def __init__(
        self,
        model: str,
        *,
        seed: int = 0,
        device: str | torch.device = "cpu",
        generator: torch.Generator | None = None,
        progress: bool | None = None,
    ) -> None:
        from dance.core.seeding import seed_everything

        seed_everything(seed)
        self.model = model
        self.seed = int(seed)
        self.device = torch.device(device)
        self.generator = generator if generator is not None else torch.Generator(device=self.device).manual_seed(self.seed)
        self.progress = progress_enabled() if progress is None else progress
        self.history: dict[str, dict[str, list[float]]] = {}
        self.results: dict[str, StageResult] = {}

    # ------------------------------------------------------------------ the loop
    def fit(
        self,
        stage: Stage,
        *,
        module: torch.nn.Module | Sequence[torch.nn.Module] | None = None,
        on_epoch_start: Callable[[int], bool | None] | None = None,
        on_epoch_end: Callable[[int, dict[str, float]], bool | None] | None = None,
    ) -> StageResult:
        """Run ``stage``; returns what it did (the per-epoch history is in :attr:`history`).

        ``module`` (one or several) is switched to training mode for the optimiser steps and to
        evaluation mode for validation; early stopping saves and restores its weights.
        ``on_epoch_start(epoch)`` and ``on_epoch_end(epoch, terms)`` run around each epoch;
        returning True stops the stage.
        """
        modules = [] if module is None else [module] if isinstance(module, torch.nn.Module) else list(module)
        history = self.history.setdefault(stage.name, {})
        self._current_stage = stage.name
        result = StageResult()
        self.results[stage.name] = result
        train_rows, validation_rows = self._split(stage)
        stopper = _Stopper(stage.early_stopping, modules) if stage.early_stopping is not None else None
        bar = self._bar(stage)
        try:
            for epoch in range(stage.epochs):
                if on_epoch_start is not None and on_epoch_start(epoch):
                    result.stopped_early = True
                    break
                terms = self._epoch(stage, epoch, train_rows, modules, result)
                if validation_rows is not None:
                    terms.update({f"val_{k}": v for k, v in self._validate(stage, epoch, validation_rows, modules).items()})
                for key, value in terms.items():
                    history.setdefault(key, []).append(value)
                result.epochs = epoch + 1
                result.final = terms
                for scheduler in stage.epoch_schedulers:
                    scheduler.step()
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in list(terms.items())[:4]}, refresh=False)
                if stopper is not None and stopper.update(epoch, terms):
                    result.stopped_early = True
                    break
                if on_epoch_end is not None and on_epoch_end(epoch, terms):
                    result.stopped_early = True
                    break
        finally:
            if bar is not None:
                bar.close()
        if stopper is not None:
            result.best_epoch = stopper.finish()
        return result

    def record(self, term: str, value: float) -> None:
        """Add a value of ``term`` for the current epoch of the stage being fitted (from a hook:
        a validation loss on rows the model chooses itself, a convergence measure), so it is kept
        and drawn with the loss terms."""
        stage = getattr(self, "_current_stage", None)
        if stage is None:
            raise RuntimeError("Trainer.record is for hooks of a stage being fitted")
        self.history[stage].setdefault(term, []).append(float(value))

    def run_epoch(self, stage: Stage, epoch: int, *, module: torch.nn.Module | Sequence[torch.nn.Module] | None = None) -> dict[str, float]:
        """One pass of ``stage`` (no history, no hooks): for an algorithm that interleaves a second
        kind of update inside another stage's epochs (scDCC's constraint passes after each
        clustering epoch). Returns the epoch's mean of every term."""
        modules = [] if module is None else [module] if isinstance(module, torch.nn.Module) else list(module)
        return self._epoch(stage, epoch, None, modules, StageResult())

    # ------------------------------------------------------------------ internals
    def _epoch(
        self, stage: Stage, epoch: int, rows: torch.Tensor | None, modules: list[torch.nn.Module], result: StageResult
    ) -> dict[str, float]:
        for m in modules:
            m.train()
        kl_weight = 1.0 if not stage.kl_warmup_epochs else min(1.0, epoch / stage.kl_warmup_epochs)
        totals: dict[str, float] = {}
        weight = 0.0
        for index, size in self._batches(stage, rows):
            if size < stage.min_batch_size:
                continue
            batch = Batch(index=index, size=size, epoch=epoch, step=result.steps, kl_weight=kl_weight)
            for step in stage.steps:
                terms = step.loss(batch)
                objective = terms["loss"] if "loss" in terms else sum(terms.values())
                values = {key: float(value.detach()) for key, value in terms.items()}
                # checked before the step, so a diverging batch never writes NaN into the weights
                self._check_finite(stage, epoch, values, step=result.steps)
                step.optimizer.zero_grad()
                objective.backward()
                if step.clip_norm is not None:
                    parameters = [p for group in step.optimizer.param_groups for p in group["params"]]
                    torch.nn.utils.clip_grad_norm_(parameters, step.clip_norm)
                step.optimizer.step()
                if step.scheduler is not None:
                    step.scheduler.step()
                share = float(size) if stage.average == "rows" else 1.0
                for key, value in values.items():
                    name = f"{step.name}_{key}" if step.name else key
                    totals[name] = totals.get(name, 0.0) + value * share
            weight += 1.0 if stage.average == "steps" else float(size)
            result.steps += 1
        means = {key: value / weight for key, value in totals.items()} if weight else {}
        self._check_finite(stage, epoch, means)
        return means

    def _batches(self, stage: Stage, rows: torch.Tensor | None) -> Iterator[tuple[torch.Tensor | slice | None, int]]:
        n = stage.n if rows is None else len(rows)
        if stage.batch_size is None:
            yield (None if rows is None else rows), n
            return
        if stage.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
            if rows is not None:
                order = rows[order.to(rows.device)]
            for start in range(0, n, stage.batch_size):
                index = order[start : start + stage.batch_size]
                yield index, len(index)
        else:
            for start in range(0, n, stage.batch_size):
                stop = min(start + stage.batch_size, n)
                yield (slice(start, stop) if rows is None else rows[start:stop]), stop - start

    def _split(self, stage: Stage) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        rule = stage.early_stopping
        if rule is None or rule.fraction <= 0:
            return None, None
        # a NumPy generator of its own, so the split does not move the minibatch orders
        rng = np.random.default_rng(self.seed + 7919)
        order = rng.permutation(stage.n)
        n_validation = max(rule.min_rows, round(rule.fraction * stage.n))
        if n_validation >= stage.n:
            raise DanceError(f"{self.model}: early stopping holds out {n_validation} of {stage.n} rows; nothing is left to train on")
        device = self.generator.device
        return torch.as_tensor(np.sort(order[n_validation:]), device=device), torch.as_tensor(np.sort(order[:n_validation]), device=device)

    @torch.no_grad()
    def _validate(self, stage: Stage, epoch: int, rows: torch.Tensor, modules: list[torch.nn.Module]) -> dict[str, float]:
        for m in modules:
            m.eval()
        size = stage.early_stopping.batch_size if stage.early_stopping is not None else None
        chunks = [rows] if not size else list(torch.split(rows, size))
        sums: dict[str, float] = {}
        for chunk in chunks:
            batch = Batch(index=chunk, size=len(chunk), epoch=epoch, step=-1, training=False)
            for step in stage.steps:
                for key, value in step.loss(batch).items():
                    name = f"{step.name}_{key}" if step.name else key
                    sums[name] = sums.get(name, 0.0) + float(value.detach()) * len(chunk)
        terms = {key: value / len(rows) for key, value in sums.items()}
        self._check_finite(stage, epoch, {f"val_{k}": v for k, v in terms.items()})
        return terms

    def _check_finite(self, stage: Stage, epoch: int, terms: Mapping[str, float], *, step: int | None = None) -> None:
        for key, value in terms.items():
            if not math.isfinite(value):
                where = f"at epoch {epoch}" + (f" (optimiser step {step})" if step is not None else "")
                raise TrainingDivergedError(
                    f"{self.model}: the loss term '{key}' became {value} in stage '{stage.name}' {where}; "
                    "training stopped (lower the learning rate, or check the input for extreme values)"
                )

    def _bar(self, stage: Stage) -> Any:
        if not self.progress or stage.epochs <= 0:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=stage.epochs, desc=f"{self.model} {stage.name}", unit="epoch", leave=False, file=sys.stderr)


class _Stopper:
    """Early stopping's bookkeeping: the best monitored value, its epoch and weights."""

    def __init__(self, rule: EarlyStopping, modules: list[torch.nn.Module]) -> None:
        self.rule, self.modules = rule, modules
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_states: list[dict[str, Any]] | None = None
        self.waited = 0

    def update(self, epoch: int, terms: Mapping[str, float]) -> bool:
        key = f"val_{self.rule.monitor}"
        if key not in terms:
            raise DanceError(f"early stopping monitors '{self.rule.monitor}', which the loss does not return (terms: {sorted(terms)})")
        value = terms[key]
        if value < self.best - self.rule.min_delta:
            self.best, self.best_epoch, self.waited = value, epoch, 0
            if self.rule.restore_best:
                self.best_states = [copy.deepcopy(m.state_dict()) for m in self.modules]
            return False
        self.waited += 1
        return self.waited >= self.rule.patience

    def finish(self) -> int | None:
        if self.rule.restore_best and self.best_states is not None:
            for m, state in zip(self.modules, self.best_states, strict=True):
                m.load_state_dict(state)
        return self.best_epoch
