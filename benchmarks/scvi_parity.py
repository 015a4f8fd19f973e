"""dance's scVI against scvi-tools, on the same cells, genes and settings.

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

Needs ``scvi-tools`` in the interpreter that runs it (not a dependency of dance)::

    DANCE_DATA_DIR=../shared/data python -m benchmarks.scvi_parity --datasets bmmc_cite_gex kang_pbmc_stim --seeds 0 1 2

Writes ``docs/benchmarks/scvi_parity.md`` and ``.csv``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import DOCS, bench_lock, format_mean_std, machine_description

N_TOP_GENES = 2000


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


def _dance_fit(adata: Any, seed: int) -> tuple[np.ndarray, float, float]:
    import torch

    from dance.core import registry

    cls = registry.load_model("scvi", "batch_integration")
    started = time.perf_counter()
    model = cls({"n_top_genes": adata.n_vars}, seed=seed, device="cpu").fit(adata)
    seconds = time.perf_counter() - started
    embedding = np.asarray(model.predict(adata).embedding)
    module = model.module_.eval()
    x = torch.as_tensor(adata.X.toarray(), dtype=torch.float32)
    codes = pd.Categorical(adata.obs["batch"].astype(str), categories=list(model.batches_)).codes
    batch = torch.as_tensor(np.asarray(codes), dtype=torch.long)
    with torch.no_grad():
        inference = module.inference(x)
        generated = module.generative(inference["qz"].loc, inference["library"], batch)
        nll = float(module.reconstruction_loss(x, generated).mean())
    return embedding, nll, seconds


def _scvi_tools_fit(adata: Any, seed: int) -> tuple[np.ndarray, float, float]:
    import scvi
    import torch

    from dance.single.batch_integration.scvi import default_max_epochs

    scvi.settings.seed = seed
    reference = adata.copy()
    scvi.model.SCVI.setup_anndata(reference, batch_key="batch")
    model = scvi.model.SCVI(reference, n_latent=10, n_hidden=128, n_layers=1, dropout_rate=0.1, gene_likelihood="zinb", dispersion="gene")
    started = time.perf_counter()
    model.train(
        max_epochs=default_max_epochs(adata.n_obs),
        batch_size=128,
        train_size=1.0,
        early_stopping=False,
        accelerator="cpu",
        enable_progress_bar=False,
        plan_kwargs={"lr": 1e-3, "eps": 0.01, "weight_decay": 1e-6, "n_epochs_kl_warmup": 400},
    )
    seconds = time.perf_counter() - started
    embedding = model.get_latent_representation()
    module = model.module.eval()
    x = torch.as_tensor(reference.X.toarray(), dtype=torch.float32)
    batch = torch.as_tensor(reference.obs["_scvi_batch"].to_numpy(), dtype=torch.long).reshape(-1, 1)
    with torch.no_grad():
        inference = module.inference(x, batch)
        generated = module.generative(z=inference["qz"].loc, library=inference["library"], batch_index=batch)
        nll = float(-generated["px"].log_prob(x).sum(-1).mean())
    return embedding, nll, seconds


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
    parser.add_argument("--datasets", nargs="+", default=["bmmc_cite_gex", "kang_pbmc_stim"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--notes", default="")
    args = parser.parse_args(argv)
    import scvi

    records = []
    for dataset in args.datasets:
        adata, truth = _inputs(dataset)
        for seed in args.seeds:
            for implementation, fit in (("dance", _dance_fit), ("scvi-tools", _scvi_tools_fit)):
                with bench_lock():
                    embedding, nll, seconds = fit(adata, seed)
                record = {"dataset": dataset, "cells": adata.n_obs, "genes": adata.n_vars, "seed": seed, "implementation": implementation}
                record.update(reconstruction_nll=nll, overall=_overall(embedding, truth), fit_seconds=seconds)
                records.append(record)
                print(record, flush=True)
    frame = pd.DataFrame(records)
    DOCS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(DOCS / "scvi_parity.csv", index=False)
    lines = [
        f"# scVI: dance against scvi-tools {scvi.__version__}",
        "",
        "Same cells, same highly variable genes, same model and training settings (see `benchmarks/scvi_parity.py`);"
        f" seeds {', '.join(map(str, args.seeds))}, mean ± sd. Reconstruction NLL: `-log p(x | z, l, s)` per cell at the posterior"
        " mean of z with the observed library (lower is better). scIB overall: dance's metrics on each latent space.",
        "",
        "| dataset | cells x genes | implementation | reconstruction NLL per cell | scIB overall | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for (dataset, implementation), group in frame.groupby(["dataset", "implementation"], sort=False):
        lines.append(
            f"| {dataset} | {group['cells'].iloc[0]} x {group['genes'].iloc[0]} | {implementation} |"
            f" {format_mean_std(group['reconstruction_nll'].mean(), group['reconstruction_nll'].std(ddof=0))} |"
            f" {format_mean_std(group['overall'].mean(), group['overall'].std(ddof=0))} | {group['fit_seconds'].mean():.1f} |"
        )
    lines += [
        "",
        f"Machine: {machine_description()}; generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by"
        f" `python -m benchmarks.scvi_parity`.{(' ' + args.notes) if args.notes else ''}",
    ]
    (DOCS / "scvi_parity.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
