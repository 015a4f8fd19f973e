"""Mini-batch training of cell classifiers, shared by the annotation models (ACTINN, CellTypist,
scDeepsort).

A model supplies the loss of one mini-batch of training-cell indices; this module owns the
seeded shuffling, the optimiser steps, the per-step learning-rate schedule, early stopping and the
progress bar, so every classifier trains the same way and stays deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dance.nn.data import dense_tensor, predict_in_batches

__all__ = ["dense_tensor", "predict_in_batches", "train_minibatch"]


def train_minibatch(
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    n: int,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    scheduler: Any | None = None,
    end_of_epoch: Callable[[int], bool] | None = None,
    summed: bool = False,
    desc: str = "training",
) -> dict[str, Any]:
    """Train for ``epochs`` passes over ``n`` samples in shuffled mini-batches.

    Parameters
    ----------
    batch_loss
        ``batch_loss(indices)`` returns the (scalar) loss of the samples at ``indices`` (a CPU
        ``int64`` tensor), regularisation included.
    optimizer
        The optimiser of the model's parameters.
    n
        Number of training samples.
    epochs
        Passes over the data.
    batch_size
        Samples per optimiser step (the last batch of an epoch may be smaller).
    generator
        Seeded generator of the shuffles (determinism).
    scheduler
        A learning-rate scheduler stepped after every optimiser step (``None``: constant rate).
    end_of_epoch
        Called with the epoch number after each epoch; returning ``True`` stops training.
    summed
        Whether ``batch_loss`` sums over the batch (else it averages); only for the reported loss.
    desc
        Label of the progress bar (shown on a terminal only).

    Returns
    -------
    dict
        ``epochs`` run, optimiser ``steps`` taken and the mean loss per sample over the last
        epoch (``final_loss``), for ``notes_``.
    """
    from tqdm.auto import tqdm

    steps = 0
    epoch_loss = float("nan")
    epochs_run = 0
    bar = tqdm(range(epochs), desc=desc, disable=None, leave=False)
    for epoch in bar:
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            loss = batch_loss(index)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            steps += 1
            total += float(loss.detach()) * (1 if summed else len(index))
        epoch_loss = total / max(n, 1)
        epochs_run = epoch + 1
        bar.set_postfix(loss=f"{epoch_loss:.4f}", refresh=False)
        if end_of_epoch is not None and end_of_epoch(epoch):
            break
    bar.close()
    return {"epochs": epochs_run, "steps": steps, "final_loss": epoch_loss}
