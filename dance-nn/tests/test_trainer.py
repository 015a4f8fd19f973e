"""The trainer: stages, minibatches, several optimisers, hooks, early stopping, warm-up,
divergence and determinism, each checked on a small model whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dance.nn.trainer import Batch, EarlyStopping, OptimizerStep, Stage, Trainer, TrainingDivergedError


def regression(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    w = torch.tensor([[1.5], [-2.0], [0.5]])
    return x, x @ w + 0.01 * torch.randn(n, 1, generator=g), w


def fit_linear(*, seed: int = 0, epochs: int = 30, batch_size: int | None = 32, **stage: object) -> tuple[Trainer, torch.nn.Linear]:
    x, y, _ = regression()
    trainer = Trainer("linear", seed=seed, progress=False)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

    def mse(batch: Batch) -> dict[str, torch.Tensor]:
        index = slice(None) if batch.index is None else batch.index
        return {"mse": torch.mean((model(x[index]) - y[index]) ** 2)}

    trainer.fit(
        Stage("train", epochs=epochs, n=len(x), batch_size=batch_size, steps=[OptimizerStep(optimizer, mse)], **stage), module=model
    )
    return trainer, model


def test_minibatch_training_fits_and_records_every_term_per_epoch():
    trainer, model = fit_linear()
    _, _, w = regression()
    assert torch.allclose(model.weight.detach().T, w, atol=0.05)
    losses = trainer.history["train"]["mse"]
    assert len(losses) == 30 and losses[-1] < 0.01 * losses[0]
    assert trainer.results["train"].steps == 30 * 7 and trainer.results["train"].epochs == 30


def test_full_batch_is_one_step_per_epoch():
    trainer, _ = fit_linear(batch_size=None, epochs=5)
    assert trainer.results["train"].steps == 5


def test_the_same_seed_gives_the_same_model():
    _, first = fit_linear(seed=4, epochs=3)
    _, second = fit_linear(seed=4, epochs=3)
    _, other = fit_linear(seed=5, epochs=3)
    assert torch.equal(first.weight, second.weight) and not torch.equal(first.weight, other.weight)


def test_unshuffled_batches_are_consecutive_slices():
    seen: list[object] = []
    trainer = Trainer("m", progress=False)
    p = torch.nn.Parameter(torch.zeros(1))

    def loss(batch: Batch) -> dict[str, torch.Tensor]:
        seen.append(batch.index)
        return {"loss": (p - 1) ** 2}

    trainer.fit(Stage("s", epochs=1, n=5, batch_size=2, shuffle=False, steps=[OptimizerStep(torch.optim.SGD([p], lr=0.1), loss)]))
    assert seen == [slice(0, 2), slice(2, 4), slice(4, 5)]


def test_optimisers_take_turns_on_every_batch():
    """An adversarial pair: a discriminator step, then the model's step, each with its own loss."""
    order: list[str] = []
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))

    def first(batch: Batch) -> dict[str, torch.Tensor]:
        order.append("discriminator")
        return {"loss": (a - 2) ** 2}

    def second(batch: Batch) -> dict[str, torch.Tensor]:
        order.append("model")
        return {"loss": (b + 3) ** 2}

    steps = [
        OptimizerStep(torch.optim.SGD([a], lr=0.2), first, name="disc"),
        OptimizerStep(torch.optim.SGD([b], lr=0.2), second, name="gen"),
    ]
    trainer = Trainer("gan", progress=False)
    trainer.fit(Stage("adversarial", epochs=40, n=4, batch_size=2, steps=steps))
    assert order[:4] == ["discriminator", "model", "discriminator", "model"]
    assert abs(a.item() - 2) < 1e-3 and abs(b.item() + 3) < 1e-3
    assert set(trainer.history["adversarial"]) == {"disc_loss", "gen_loss"}


def test_hooks_run_around_epochs_and_can_stop_a_stage():
    events: list[tuple[str, int]] = []
    p = torch.nn.Parameter(torch.zeros(1))
    step = OptimizerStep(torch.optim.SGD([p], lr=0.1), lambda batch: {"loss": (p - 1) ** 2})
    trainer = Trainer("m", progress=False)
    result = trainer.fit(
        Stage("s", epochs=10, n=1, steps=[step]),
        on_epoch_start=lambda epoch: events.append(("start", epoch)) or epoch == 3,
        on_epoch_end=lambda epoch, terms: events.append(("end", epoch)) and False,
    )
    assert events == [("start", 0), ("end", 0), ("start", 1), ("end", 1), ("start", 2), ("end", 2), ("start", 3)]
    assert result.epochs == 3 and result.stopped_early


def test_early_stopping_restores_the_best_weights():
    """Overfitting on purpose: 20 noisy rows, a wide model; validation loss turns up and training stops."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 30, generator=g)
    y = torch.randn(40, 1, generator=g)
    trainer = Trainer("overfit", seed=0, progress=False)
    model = torch.nn.Linear(30, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)

    def mse(batch: Batch) -> dict[str, torch.Tensor]:
        return {"mse": torch.mean((model(x[batch.index]) - y[batch.index]) ** 2)}

    stage = Stage(
        "train",
        epochs=300,
        n=40,
        batch_size=8,
        steps=[OptimizerStep(optimizer, mse)],
        early_stopping=EarlyStopping(0.25, "mse", patience=5),
    )
    result = trainer.fit(stage, module=model)
    validation = trainer.history["train"]["val_mse"]
    assert result.stopped_early and result.epochs < 300 and result.best_epoch == int(np.argmin(validation))
    with torch.no_grad():
        rows = torch.as_tensor(sorted(np.random.default_rng(0 + 7919).permutation(40)[:10]))
        restored = float(torch.mean((model(x[rows]) - y[rows]) ** 2))
    assert restored == pytest.approx(min(validation), rel=1e-5)


def test_kl_warmup_grows_linearly_to_one():
    weights: list[float] = []
    p = torch.nn.Parameter(torch.zeros(1))

    def loss(batch: Batch) -> dict[str, torch.Tensor]:
        weights.append(batch.kl_weight)
        return {"loss": p**2}

    Trainer("vae", progress=False).fit(
        Stage("s", epochs=6, n=1, kl_warmup_epochs=4, steps=[OptimizerStep(torch.optim.SGD([p], lr=0.1), loss)])
    )
    assert weights == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]


def test_gradient_clipping_and_step_schedules():
    p = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.SGD([p], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 0.5**t)
    step = OptimizerStep(optimizer, lambda batch: {"loss": torch.sum((p - 100.0) ** 2)}, scheduler=scheduler, clip_norm=1.0)
    Trainer("m", progress=False).fit(Stage("s", epochs=3, n=1, steps=[step]))
    # clipped unit steps, learning rates 1, 0.5, 0.25
    assert float(torch.linalg.norm(p)) == pytest.approx(1.75, rel=1e-5)


def test_a_loss_that_becomes_nan_stops_training_naming_model_stage_epoch_and_term():
    p = torch.nn.Parameter(torch.ones(1))

    def loss(batch: Batch) -> dict[str, torch.Tensor]:
        return {"reconstruction": p**2, "kl": torch.log(p - 1.0) if batch.epoch >= 2 else p * 0}

    with pytest.raises(TrainingDivergedError, match=r"mymodel: the loss term 'kl' became -inf in stage 'pretrain' at epoch 2"):
        Trainer("mymodel", progress=False).fit(Stage("pretrain", epochs=5, n=1, steps=[OptimizerStep(torch.optim.SGD([p], lr=0.0), loss)]))


def test_summed_and_per_step_averages():
    p = torch.nn.Parameter(torch.zeros(1))
    values = {"rows": [], "summed": [], "steps": []}
    for average in values:
        trainer = Trainer("m", progress=False)

        def loss(batch: Batch) -> dict[str, torch.Tensor]:
            return {"loss": p * 0 + float(batch.size)}

        trainer.fit(
            Stage(
                "s", epochs=1, n=5, batch_size=2, shuffle=False, average=average, steps=[OptimizerStep(torch.optim.SGD([p], lr=0.0), loss)]
            )
        )
        values[average] = trainer.history["s"]["loss"][0]
    # batch values 2, 2, 1: weighted by rows (4+4+1)/5, summed over rows (2+2+1)/5, per step (2+2+1)/3
    assert values == pytest.approx({"rows": 1.8, "summed": 1.0, "steps": 5 / 3})


def test_the_trainer_seeds_torch_even_when_torch_was_imported_late():
    Trainer("m", seed=11, progress=False)
    first = torch.rand(3)
    Trainer("m", seed=11, progress=False)
    assert torch.equal(first, torch.rand(3))


def test_a_hook_can_record_its_own_value_per_epoch():
    p = torch.nn.Parameter(torch.zeros(1))
    trainer = Trainer("m", progress=False)
    step = OptimizerStep(torch.optim.SGD([p], lr=0.1), lambda batch: {"loss": (p - 1) ** 2})
    trainer.fit(Stage("s", epochs=3, n=1, steps=[step]), on_epoch_end=lambda epoch, terms: trainer.record("distance", abs(1 - p.item())))
    assert len(trainer.history["s"]["distance"]) == len(trainer.history["s"]["loss"]) == 3
    with pytest.raises(RuntimeError, match="for hooks"):
        Trainer("m", progress=False).record("x", 1.0)


def test_validation_in_batches_gives_the_row_weighted_mean_of_the_whole_set():
    x, y, _ = regression()
    seen: list[int] = []
    histories = []
    for batch_size in (None, 7):
        trainer = Trainer("linear", seed=0, progress=False)
        model = torch.nn.Linear(3, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # frozen: both runs score the same weights

        def mse(batch: Batch, model: torch.nn.Linear = model) -> dict[str, torch.Tensor]:
            if not batch.training:
                seen.append(batch.size)
            return {"mse": torch.mean((model(x[batch.index]) - y[batch.index]) ** 2)}

        torch.manual_seed(0)
        with torch.no_grad():
            model.weight.fill_(0.1)
            model.bias.fill_(0.0)
        stage = Stage(
            "train",
            epochs=1,
            n=len(x),
            batch_size=32,
            steps=[OptimizerStep(optimizer, mse)],
            early_stopping=EarlyStopping(0.25, "mse", patience=5, batch_size=batch_size),
        )
        trainer.fit(stage, module=model)
        histories.append(trainer.history["train"]["val_mse"][0])
    assert seen[0] == 50 and max(seen[1:]) == 7 and sum(seen[1:]) == 50
    assert histories[1] == pytest.approx(histories[0], rel=1e-6)
