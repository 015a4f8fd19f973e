"""A stand-in for ``python -m dance.cli`` in the benchmark driver's tests: ``fake_dance.py run TASK
--model M --dataset D | --data F --seed S --out FOLDER --set k=v ...`` writes a ``result.json``
like ``dance run`` (in place, not atomically) in a fraction of a second, without dance-cli.

Its behaviour comes from ``--set`` parameters (part of the cell's fingerprint, like any parameter):
``sleep`` (seconds), ``fail_first`` (the first N starts of the cell exit 1 with a traceback-like
line), ``fail_always`` (every start fails), ``bad_input`` (exit 2 with an ``error:`` line). Every
start appends a line to ``<out>/starts.log`` (and to ``$FAKE_DANCE_LOG`` when set), so tests count
how often each cell really ran.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("task")
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset")
    parser.add_argument("--data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--format", default="table")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--no-plots", action="store_true")
    args, _unknown = parser.parse_known_args(argv)
    params = {}
    for item in args.set:
        key, _, value = item.partition("=")
        params[key] = json.loads(value)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    line = f"{out.name} pid={os.getpid()} t={time.time():.3f}\n"
    with open(out / "starts.log", "a") as handle:
        handle.write(line)
    starts = (out / "starts.log").read_text().count("\n")
    if os.environ.get("FAKE_DANCE_LOG"):
        with open(os.environ["FAKE_DANCE_LOG"], "a") as handle:
            handle.write(line)
    time.sleep(float(params.get("sleep", 0)))
    if params.get("bad_input"):
        print("error: param 'bad_input' is not a parameter of the model", file=sys.stderr)
        return 2
    if params.get("fail_always") or starts <= int(params.get("fail_first", 0)):
        print("Traceback (most recent call last):\nRuntimeError: flaky failure number", starts, file=sys.stderr)
        return 1
    source = args.dataset or args.data
    digest = hashlib.sha256(json.dumps([args.model, source, args.seed, params], sort_keys=True).encode()).digest()
    score = digest[0] / 255
    result = {
        "task": args.task,
        "model": args.model,
        "dataset": args.dataset,
        "input": str(source),
        "dataset_checksum": "0" * 64,
        "metrics": {"ari": score, "nmi": 1 - score / 2},
        "fit_seconds": 0.01 + args.seed / 100,
        "predict_seconds": 0.0,
        "score_seconds": 0.0,
        "peak_memory_mb": 100.0 + args.seed,
        "peak_memory_scope": "step",
        "params": params,
        "seed": args.seed,
        "device": "cpu" if args.device in ("auto", "cpu") else args.device,
        "keys": {},
        "pipeline": [],
        "notes": {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")},
        "versions": {"dance-core": "fake"},
        "started_at": "2026-01-01T00:00:00+0000",
    }
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    if args.format == "json":
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
