"""Latency of the listing commands: ``dance list``, ``dance info NAME`` (every task, model and
dataset) and ``dance data list``, each a fresh process as a user types it.

These commands read registry specs only; the target is under 1 second each (the time a user waits
before anything heavy is imported). Writes ``docs/benchmarks/cli_latency.md`` and ``.csv``: the
median and maximum wall time over ``--repeats`` runs of each command.

Usage::

    python -m benchmarks.cli_latency                 # every command, 3 repeats
    python -m benchmarks.cli_latency --repeats 5 --notes "quiet machine"
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from benchmarks.harness import DOCS, bench_lock, machine_description

TARGET_SECONDS = 1.0


def dance_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dance.cli", *args]


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {completed.stderr.strip()[-300:]}")
    return seconds


def commands() -> list[tuple[str, list[str]]]:
    """Every listing command a user may type: list, data list, and info of each registered name."""
    listing = json.loads(subprocess.run(dance_command("list", "-f", "json"), capture_output=True, text=True, check=True).stdout)
    models = json.loads(subprocess.run(dance_command("list", "models", "-f", "json"), capture_output=True, text=True, check=True).stdout)
    datasets = json.loads(
        subprocess.run(dance_command("list", "datasets", "-f", "json"), capture_output=True, text=True, check=True).stdout
    )
    found: list[tuple[str, list[str]]] = [("dance list", dance_command("list")), ("dance data list", dance_command("data", "list"))]
    found += [(f"dance info {t['name']}", dance_command("info", t["name"])) for t in listing]
    found += [(f"dance info {m['name']} -t {m['task']}", dance_command("info", m["name"], "-t", m["task"])) for m in models]
    found += [(f"dance info {d['name']}", dance_command("info", d["name"])) for d in datasets]
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--notes", default="", help="what else was running, for the table")
    args = parser.parse_args(argv)
    rows = []
    with bench_lock():
        timed(dance_command("list"))  # warm the file cache once, as a user's second command would be
        for label, command in commands():
            seconds = [timed(command) for _ in range(args.repeats)]
            rows.append((label, statistics.median(seconds), max(seconds)))
            print(f"{label}: median {rows[-1][1]:.2f} s, max {rows[-1][2]:.2f} s", flush=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    (DOCS / "cli_latency.csv").write_text("command,median_seconds,max_seconds\n" + "".join(f"{c},{m:.3f},{x:.3f}\n" for c, m, x in rows))
    slow = [r for r in rows if r[1] >= TARGET_SECONDS]
    lines = [
        "# Listing commands: wall time per call",
        "",
        f"Each command is a fresh `python -m dance.cli ...` process (what typing `dance ...` costs), {args.repeats} runs each;",
        f"the target is under {TARGET_SECONDS:.0f} s. {len(rows)} commands, {len(slow)} at or over the target"
        + (f": {', '.join(r[0] for r in slow)}." if slow else "."),
        "",
        "| command | median s | max s |",
        "|---|---|---|",
        *[f"| `{c}` | {m:.2f} | {x:.2f} |" for c, m, x in rows],
        "",
        f"Machine: {machine_description()}; generated {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC by "
        f"`benchmarks/cli_latency.py`.{(' ' + args.notes) if args.notes else ''}",
    ]
    (DOCS / "cli_latency.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
