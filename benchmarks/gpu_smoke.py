"""Every deep model for a few epochs on a CUDA GPU and on the CPU: do they train and agree?

For each registered model that needs torch, one ``dance run`` per device on the task's embedded
default dataset with the model's ``quick_params`` (few epochs), seed 0. Compared per model: the
last training loss of every stage (relative difference), the task's metrics, and the agreement of
the outputs (ARI between the two devices' labels for partitions and annotations, correlation of
embeddings / predicted values otherwise). GPU kernels are not bit-identical to CPU ones, so the
check is "trains, finite, close", not equality. Writes ``docs/benchmarks/gpu_smoke.md`` and ``.csv``.

Run it on a machine with a GPU (``python -m benchmarks.gpu_smoke``); without one it says so and
exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

from benchmarks.harness import DOCS, machine_description


def _deep_models(registry: Any) -> list[Any]:
    return [spec for spec in registry.models() if "torch" in spec.requires]


def _agreement(task: str, cpu: Any, gpu: Any, model: str) -> float | None:
    """ARI of labels / Pearson r of embeddings or predictions between the two devices' outputs."""
    from scipy.stats import pearsonr
    from sklearn.metrics import adjusted_rand_score

    a, b = cpu.adata, gpu.adata
    for column in (f"{model}_pred",):
        if a is not None and column in a.obs:
            return float(adjusted_rand_score(a.obs[column].astype(str), b.obs[column].astype(str)))
    for key in (f"X_{model}", "proportions"):
        if a is not None and key in a.obsm:
            x, y = np.asarray(a.obsm[key], dtype=float).ravel(), np.asarray(b.obsm[key], dtype=float).ravel()
            return float(pearsonr(x, y)[0])
    return None


def main(argv: list[str] | None = None) -> int:
    import torch

    from dance.core import registry, run

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device here: the GPU smoke test was not run", file=sys.stderr)
        return 1
    rows = []
    for spec in _deep_models(registry):
        if args.models and spec.name not in args.models:
            continue
        cls = registry.load_model(spec.name, spec.task)
        runs = {}
        for device in ("cpu", "cuda"):
            started = time.perf_counter()
            try:
                runs[device] = run(spec.task, spec.name, params=dict(cls.quick_params), device=device, write=False, plots=False)
                runs[f"{device}_seconds"] = time.perf_counter() - started
            except Exception as exc:  # report and go on
                runs[device] = exc
        cpu, gpu = runs["cpu"], runs["cuda"]
        row: dict[str, Any] = {"task": spec.task, "model": spec.name}
        if isinstance(cpu, Exception) or isinstance(gpu, Exception):
            row["status"] = (
                f"failed: {type(gpu if isinstance(gpu, Exception) else cpu).__name__}: {gpu if isinstance(gpu, Exception) else cpu}"
            )
            rows.append(row)
            continue
        gaps = []
        for stage, terms in cpu.training.items():
            for term, values in terms.items():
                other = gpu.training.get(stage, {}).get(term)
                if values and other:
                    gaps.append(abs(values[-1] - other[-1]) / max(abs(values[-1]), 1e-12))
        row.update(
            status="ok",
            loss_gap=max(gaps) if gaps else None,
            agreement=_agreement(spec.task, cpu, gpu, spec.name),
            cpu_seconds=runs["cpu_seconds"],
            gpu_seconds=runs["cuda_seconds"],
            **{f"cpu_{k}": v for k, v in cpu.metrics.items()},
            **{f"gpu_{k}": v for k, v in gpu.metrics.items()},
        )
        rows.append(row)
        print(row, flush=True)
    import pandas as pd

    frame = pd.DataFrame(rows)
    DOCS.mkdir(parents=True, exist_ok=True)
    frame.to_csv(DOCS / "gpu_smoke.csv", index=False)
    lines = [
        "# GPU smoke test: every deep model, a few epochs on CUDA and on the CPU",
        "",
        "`loss gap`: largest relative difference of a stage's last epoch loss between the devices; `agreement`: ARI of the two"
        " devices' labels (partitions, annotations) or Pearson r of their embeddings / proportions.",
        "",
        "| task | model | status | loss gap | agreement | CPU s | GPU s |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:

        def fmt(value: Any, spec: str) -> str:
            return "" if value is None or (isinstance(value, float) and np.isnan(value)) else format(value, spec)

        lines.append(
            f"| {row['task']} | {row['model']} | {row['status']} | {fmt(row.get('loss_gap'), '.2e')} | {fmt(row.get('agreement'), '.3f')} |"
            f" {fmt(row.get('cpu_seconds'), '.1f')} | {fmt(row.get('gpu_seconds'), '.1f')} |"
        )
    lines += [
        "",
        f"Machine: {machine_description()}; generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by `python -m benchmarks.gpu_smoke`.",
    ]
    (DOCS / "gpu_smoke.md").write_text("\n".join(lines) + "\n")
    return 0 if all(r["status"] == "ok" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
