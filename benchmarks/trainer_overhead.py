"""What a training loop costs: dance's own trainer against PyTorch Lightning and a bare loop.

The measurement behind the choice of trainer (docs/developing-models.md): the time ``import``
adds after torch is loaded, and the wall time per epoch of a full-batch autoencoder on the 4,271
PBMC 4K cells (2,000 genes -> 256 -> 32 -> 256 -> 2,000, Adam, MSE), where a loop's own overhead
is most visible. Each variant runs in a fresh process, ``--repeats`` times; writes
``docs/benchmarks/trainer_overhead.md`` and ``.csv``.

Needs ``lightning`` installed in the interpreter that runs it (it is not a dependency of dance)::

    python -m benchmarks.trainer_overhead --python /path/to/venv-with-lightning/bin/python
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from benchmarks.harness import DOCS, ROOT, bench_lock, machine_description

EPOCHS = 60

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
t_torch = time.perf_counter() - t0
variant = sys.argv[1]
t1 = time.perf_counter()
if variant == "lightning":
    import lightning
elif variant == "dance":
    import dance.nn.trainer
t_import = time.perf_counter() - t1
if sys.argv[2] == "import":
    print(json.dumps({"import_seconds": t_import}))
    raise SystemExit
import numpy as np
from dance.core.data.readers import read_labelled_h5
adata = read_labelled_h5("dance-single/src/dance/single/data/10X_PBMC_top2000.h5")
x = np.log1p(np.asarray(adata.X, dtype=np.float32) / adata.X.sum(1, keepdims=True) * 1e4)
x = torch.as_tensor(x)
torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[3]))
model = torch.nn.Sequential(
    torch.nn.Linear(2000, 256), torch.nn.ReLU(), torch.nn.Linear(256, 32), torch.nn.ReLU(),
    torch.nn.Linear(32, 256), torch.nn.ReLU(), torch.nn.Linear(256, 2000),
)
epochs = int(sys.argv[4])
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
start = time.perf_counter()
if variant == "bare":
    for _ in range(epochs):
        loss = torch.mean((model(x) - x) ** 2)
        optimizer.zero_grad(); loss.backward(); optimizer.step(); float(loss)
elif variant == "dance":
    from dance.nn.trainer import OptimizerStep, Stage, Trainer
    trainer = Trainer("ae", seed=0, progress=False)
    trainer.fit(Stage("train", epochs=epochs, n=x.shape[0], steps=[OptimizerStep(optimizer, lambda b: {"mse": torch.mean((model(x) - x) ** 2)})]), module=model)
else:
    import logging
    import lightning as L
    logging.getLogger("lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    class Module(L.LightningModule):
        def __init__(self):
            super().__init__(); self.net = model
        def training_step(self, batch, _):
            (xb,) = batch
            loss = torch.mean((self.net(xb) - xb) ** 2)
            self.log("mse", loss, on_epoch=True, prog_bar=False)
            return loss
        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=x.shape[0])
    L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
              enable_model_summary=False).fit(Module(), loader)
seconds = time.perf_counter() - start
print(json.dumps({"epoch_seconds": seconds / epochs, "torch_import_seconds": t_torch}))
"""


def child(python: str, variant: str, what: str, threads: int) -> dict[str, float]:
    done = subprocess.run(
        [python, "-c", CHILD, variant, what, str(threads), str(EPOCHS)], capture_output=True, text=True, timeout=1800, cwd=ROOT
    )
    if done.returncode != 0:
        raise RuntimeError(f"{variant} {what} failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="interpreter with torch, dance-nn and lightning installed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--notes", default="")
    args = parser.parse_args(argv)
    rows = []
    with bench_lock():
        for variant in ("bare", "dance", "lightning"):
            imports = [child(args.python, variant, "import", args.threads)["import_seconds"] for _ in range(args.repeats)]
            epochs = [child(args.python, variant, "train", args.threads)["epoch_seconds"] for _ in range(args.repeats)]
            rows.append((variant, statistics.median(imports), statistics.median(epochs), min(epochs), max(epochs)))
            print(f"{variant}: import {rows[-1][1]:.3f} s, epoch {rows[-1][2] * 1000:.1f} ms", flush=True)
    bare = rows[0][2]
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "trainer_overhead.csv").write_text(
        "variant,import_seconds,epoch_seconds_median,epoch_seconds_min,epoch_seconds_max\n"
        + "".join(f"{v},{i:.4f},{m:.5f},{lo:.5f},{hi:.5f}\n" for v, i, m, lo, hi in rows)
    )
    labels = {"bare": "bare loop (no trainer)", "dance": "dance.nn.trainer", "lightning": "PyTorch Lightning"}
    lines = [
        "# Training-loop overhead: dance's trainer and PyTorch Lightning",
        "",
        f"A full-batch autoencoder on the 4,271 PBMC 4K cells (2,000 log-normalised genes -> 256 -> 32 -> 256 -> 2,000, Adam,"
        f" MSE), {EPOCHS} epochs, torch on {args.threads} threads, each variant in a fresh process, {args.repeats} repeats"
        ' (median). "import" is the time `import lightning` / `import dance.nn.trainer` adds after torch is loaded.',
        "",
        "| loop | import s | ms per epoch (median) | min-max | vs bare loop |",
        "|---|---|---|---|---|",
        *[
            f"| {labels[v]} | {i:.2f} | {m * 1000:.1f} | {lo * 1000:.1f}-{hi * 1000:.1f} | {(m / bare - 1) * 100:+.1f} % |"
            for v, i, m, lo, hi in rows
        ],
        "",
        f"Machine: {machine_description()}; generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by "
        f"`python -m benchmarks.trainer_overhead`.{(' ' + args.notes) if args.notes else ''}",
    ]
    (DOCS / "trainer_overhead.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
