"""dance's scVI and scANVI against scvi-tools, on the same cells, genes and settings.

For each dataset and seed, both implementations train the same model -- 10 latent dimensions,
one hidden layer of 128 units, dropout 0.1, ZINB likelihood with one dispersion per gene, the
batch as the decoder's covariate, minibatches of 128, Adam (lr 1e-3, eps 0.01, weight decay
1e-6), KL warm-up over 400 epochs, scvi-tools' default number of epochs, every cell used for
training (no validation split) -- on the same highly variable genes. Compared:

* **reconstruction NLL per cell**: ``-log p(x | z, l, s)`` summed over genes, averaged over cells,
  with ``z`` at each cell's posterior mean and the observed library size (deterministic, so seed
  noise comes from training only);
* **scIB overall** of the latent space (dance's metrics for both, so only the embedding differs);
* fit seconds.

scANVI (``--models scanvi``, datasets with cell types only) starts, in both, from the scVI model
trained as above (``SCANVI.from_scvi_model``) and trains the scANVI epochs scvi-tools chooses after
pretraining (``min(10, max(2, round(scVI epochs / 3)))``), classification ratio 50. The labels of a
seeded half of the cells are replaced by ``Unknown``; also compared: the classifier's accuracy on
those hidden cells.

Needs ``scvi-tools`` in the interpreter that runs it (not a dependency of dance)::

    DANCE_DATA_DIR=../shared/data python -m benchmarks.scvi_parity --models scvi scanvi --seeds 0 1 2

Writes ``docs/benchmarks/scvi_parity.md`` and ``.csv`` (rows of a model not run now are kept).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import DOCS, bench_lock, format_mean_std, machine_description

N_TOP_GENES = 2000
HIDDEN_LABEL_FRACTION = 0.5
UNLABELLED = "Unknown"
#: the datasets each model is compared on (scANVI needs cell types)
DATASETS = {"scvi": ["bmmc_cite_gex", "kang_pbmc_stim"], "scanvi": ["bmmc_cite_gex"]}


def _inputs(dataset: str) -> tuple[Any, Any]:
    """The dataset's raw counts on its highly variable genes (chosen once, given to both), and the task's truth."""
    import scipy.sparse as sp

    from dance.core import load_dataset, registry
    from dance.core import validation as v
    from dance.core.keys import DataKeys
    from dance.single.batch_integration.scvi import select_genes

    adata = load_dataset(dataset, "batch_integration")
    keys = DataKeys(**registry.get_dataset(dataset).keys)
    counts = v.counts_matrix(adata, keys)
    batch = adata.obs[keys.batch_key].astype(str).to_numpy()
    genes = select_genes(counts, adata.var_names, batch, N_TOP_GENES)
    subset = adata[:, genes].copy()
    subset.X = sp.csr_matrix(v.counts_matrix(subset, keys), dtype=np.float32)
    subset.layers.clear()
    subset.obs["batch"] = adata.obs[keys.batch_key].astype(str).to_numpy()
    if keys.label_key in adata.obs:
        subset.obs["cell_type"] = adata.obs[keys.label_key].to_numpy()
    keys = DataKeys()
    contract = registry.contract("batch_integration")
    _, truth = contract.holdout(subset, keys, seed=0)
    return subset, truth


def _hidden_labels(adata: Any, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The labels both scANVIs see (a seeded half replaced by ``Unknown``) and which cells were hidden."""
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    hidden = np.zeros(adata.n_obs, dtype=bool)
    hidden[np.random.default_rng(seed).choice(adata.n_obs, int(HIDDEN_LABEL_FRACTION * adata.n_obs), replace=False)] = True
    return np.where(hidden, UNLABELLED, labels).astype(object), hidden


def _dance_fit(adata: Any, seed: int, model_name: str = "scvi") -> dict[str, Any]:
    import torch

    from dance.core import registry

    cls = registry.load_model(model_name, "batch_integration")
    data = adata
    if model_name == "scanvi":
        data = adata.copy()
        data.obs["cell_type"], hidden = _hidden_labels(adata, seed)
    started = time.perf_counter()
    model = cls({"n_top_genes": adata.n_vars}, seed=seed, device="cpu").fit(data)
    seconds = time.perf_counter() - started
    embedding = np.asarray(model.predict(data).embedding)
    module = model.module_.eval()
    x = torch.as_tensor(adata.X.toarray(), dtype=torch.float32)
    codes = pd.Categorical(adata.obs["batch"].astype(str), categories=list(model.batches_)).codes
    batch = torch.as_tensor(np.asarray(codes), dtype=torch.long)
    with torch.no_grad():
        inference = module.inference(x)
        generated = module.generative(inference["qz"].loc, inference["library"], batch)
        nll = float(module.reconstruction_loss(x, generated).mean())
        record = {"embedding": embedding, "reconstruction_nll": nll, "fit_seconds": seconds}
        if model_name == "scanvi":
            predicted = np.asarray(model.label_names_, dtype=object)[module.classify(x).argmax(dim=1).numpy()]
            truth = adata.obs["cell_type"].astype(str).to_numpy()
            record["hidden_label_accuracy"] = float(np.mean(predicted[hidden] == truth[hidden]))
    return record


def _scvi_tools_fit(adata: Any, seed: int, model_name: str = "scvi") -> dict[str, Any]:
    import scvi
    import torch

    from dance.single.batch_integration.scvi import default_max_epochs

    scvi.settings.seed = seed
    reference = adata.copy()
    if model_name == "scanvi":
        reference.obs["scanvi_label"], hidden = _hidden_labels(adata, seed)
        scvi.model.SCVI.setup_anndata(reference, batch_key="batch", labels_key="scanvi_label")
    else:
        scvi.model.SCVI.setup_anndata(reference, batch_key="batch")
    model = scvi.model.SCVI(reference, n_latent=10, n_hidden=128, n_layers=1, dropout_rate=0.1, gene_likelihood="zinb", dispersion="gene")
    epochs = default_max_epochs(adata.n_obs)
    settings = {
        "batch_size": 128,
        "train_size": 1.0,
        "accelerator": "cpu",
        "enable_progress_bar": False,
        "plan_kwargs": {"lr": 1e-3, "eps": 0.01, "weight_decay": 1e-6, "n_epochs_kl_warmup": 400},
    }
    started = time.perf_counter()
    model.train(max_epochs=epochs, early_stopping=False, **settings)
    if model_name == "scanvi":
        model = scvi.model.SCANVI.from_scvi_model(model, unlabeled_category=UNLABELLED)
        model.train(max_epochs=int(min(10, max(2, round(epochs / 3.0)))), **settings)
    seconds = time.perf_counter() - started
    embedding = model.get_latent_representation()
    module = model.module.eval()
    x = torch.as_tensor(reference.X.toarray(), dtype=torch.float32)
    batch = torch.as_tensor(reference.obs["_scvi_batch"].to_numpy(), dtype=torch.long).reshape(-1, 1)
    with torch.no_grad():
        inference = module.inference(x, batch)
        generated = module.generative(z=inference["qz"].loc, library=inference["library"], batch_index=batch)
        nll = float(-generated["px"].log_prob(x).sum(-1).mean())
    record = {"embedding": embedding, "reconstruction_nll": nll, "fit_seconds": seconds}
    if model_name == "scanvi":
        predicted = np.asarray(model.predict(), dtype=object)
        truth = adata.obs["cell_type"].astype(str).to_numpy()
        record["hidden_label_accuracy"] = float(np.mean(predicted[hidden] == truth[hidden]))
    return record


def _overall(embedding: np.ndarray, truth: Any) -> float:
    from dance.core import registry
    from dance.core.keys import DataKeys
    from dance.core.tasks.batch_integration import IntegrationOutput

    metrics = registry.contract("batch_integration").evaluate(
        IntegrationOutput(embedding=np.asarray(embedding, np.float32)), truth, DataKeys()
    )
    return float(metrics.get("overall", metrics.get("batch_correction", np.nan)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=sorted(DATASETS), default=sorted(DATASETS))
    parser.add_argument("--datasets", nargs="+", default=None, help="default: the model's datasets (DATASETS)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--notes", default="")
    args = parser.parse_args(argv)
    import scvi

    records = []
    for model_name in args.models:
        for dataset in args.datasets or DATASETS[model_name]:
            adata, truth = _inputs(dataset)
            for seed in args.seeds:
                for implementation, fit in (("dance", _dance_fit), ("scvi-tools", _scvi_tools_fit)):
                    with bench_lock():
                        fitted = fit(adata, seed, model_name)
                    record = {"model": model_name, "dataset": dataset, "cells": adata.n_obs, "genes": adata.n_vars, "seed": seed}
                    record.update(implementation=implementation, overall=_overall(fitted.pop("embedding"), truth), **fitted)
                    records.append(record)
                    print(record, flush=True)
    frame = pd.DataFrame(records)
    path = DOCS / "scvi_parity.csv"
    if path.is_file():  # keep the rows of the models not run now
        previous = pd.read_csv(path)
        if "model" not in previous:
            previous.insert(0, "model", "scvi")
        frame = pd.concat([previous[~previous["model"].isin(args.models)], frame], ignore_index=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    write_table(frame, scvi.__version__, args.notes)


def write_table(frame: pd.DataFrame, version: str, notes: str) -> None:
    """docs/benchmarks/scvi_parity.md from the rows of every model."""
    lines = [
        f"# scVI and scANVI: dance against scvi-tools {version}",
        "",
        "Same cells, same highly variable genes, same model and training settings (see `benchmarks/scvi_parity.py`);"
        " mean ± sd over seeds. Reconstruction NLL: `-log p(x | z, l, s)` per cell at the posterior"
        " mean of z with the observed library (lower is better). scIB overall: dance's metrics on each latent space."
        " scANVI: half of the cells' labels hidden (seeded), accuracy of the classifier on them.",
        "",
        "| model | dataset | cells x genes | seeds | implementation | reconstruction NLL per cell | scIB overall | hidden-label accuracy | fit s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def cell(group: pd.DataFrame, column: str) -> str:
        if column not in group or group[column].isna().all():
            return ""
        return format_mean_std(group[column].mean(), group[column].std(ddof=0))

    for (model_name, dataset, implementation), group in frame.groupby(["model", "dataset", "implementation"], sort=False):
        lines.append(
            f"| {model_name} | {dataset} | {group['cells'].iloc[0]} x {group['genes'].iloc[0]} | {len(group)} | {implementation} |"
            f" {cell(group, 'reconstruction_nll')} | {cell(group, 'overall')} | {cell(group, 'hidden_label_accuracy')} |"
            f" {group['fit_seconds'].mean():.1f} |"
        )
    lines += [
        "",
        f"Machine: {machine_description()}; generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by"
        f" `python -m benchmarks.scvi_parity`.{(' ' + notes) if notes else ''}",
    ]
    (DOCS / "scvi_parity.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
