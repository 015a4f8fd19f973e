"""The driver on dask.distributed, with a stand-in for ``dance run`` (fake_dance.py) so a cell takes
a fraction of a second: resume, retries, kills, GPU placement and an external cluster.

The real ``dance run`` goes through the same driver in dance-cli's tests (test_benchmark.py)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from dance.core.benchmark import BenchmarkResourceError, make_config, plan, run_benchmark, write_report
from dance.core.benchmark.records import read_record

TESTS = Path(__file__).resolve().parents[1]


def grid(cells_file, **fields):
    raw = {"task": "clustering", "models": ["kmeans_test", "random_test"], "datasets": [str(cells_file)], "seeds": [0, 1, 2]}
    return make_config({**raw, **fields})


def starts(out: Path) -> dict[str, int]:
    """How many times each cell's ``dance run`` started."""
    return {p.parent.name: p.read_text().count("\n") for p in out.glob("*/starts.log")}


def test_a_six_run_grid_writes_six_records_and_its_report_and_resumes_without_running_again(kit_registry, fake_dance, cells_file, tmp_path):
    out = tmp_path / "runs"
    seen = []
    summary = run_benchmark(grid(cells_file), out=out, jobs=2, registry=kit_registry, dance=fake_dance, progress=seen.append)
    assert summary.count("ok") == 6 and not summary.failed and summary.concurrency == 2
    records = [read_record(p) for p in sorted(out.iterdir()) if p.is_dir()]
    assert len(records) == 6 and all(r.status == "ok" and r.attempts == 1 and r.concurrency == 2 for r in records)
    assert len(starts(out)) == 6 and set(starts(out).values()) == {1}
    assert seen[-1].ok == 6 and seen[-1].remaining == 0 and seen[-1].eta_seconds == 0
    grid_file = json.loads((out / "benchmark.json").read_text())
    assert grid_file["concurrency"] == 2 and len(grid_file["cells"]) == 6

    again = run_benchmark(grid(cells_file), out=out, jobs=2, registry=kit_registry, dance=fake_dance)
    assert again.count("skipped") == 6 and again.count("ok") == 0
    assert set(starts(out).values()) == {1}  # nothing ran twice

    forced = run_benchmark(grid(cells_file, seeds=[0]), out=out, registry=kit_registry, dance=fake_dance, force=True)
    assert forced.count("ok") == 2 and starts(out)["clustering-kmeans_test-cells-seed0"] == 2

    written = write_report(out)
    names = {p.name for p in written}
    assert names == {"runs.csv", "clustering.md", "clustering.csv", "clustering.png"}
    table = (out / "report" / "clustering.md").read_text()
    assert "| kmeans_test | cells | 3 |" in table and "Runs at once: " in table
    import pandas as pd

    summary_csv = pd.read_csv(out / "report" / "clustering.csv")
    assert list(summary_csv["model"]) == ["kmeans_test", "random_test"] and set(summary_csv["seeds"]) == {3}
    assert {"ari_mean", "ari_sd", "nmi_mean", "fit_seconds_mean", "peak_memory_mb_max", "hosts"} <= set(summary_csv.columns)
    assert (out / "report" / "clustering.png").read_bytes()[:4] == b"\x89PNG"


def test_changing_one_parameter_reruns_only_the_cells_it_concerns(kit_registry, fake_dance, cells_file, tmp_path):
    out = tmp_path / "runs"
    models = ["kmeans_test", {"model": "random_test", "params": {"n_clusters": 3}}]
    run_benchmark(grid(cells_file, models=models, seeds=[0]), out=out, registry=kit_registry, dance=fake_dance)
    models[1] = {"model": "random_test", "params": {"n_clusters": 4}}
    summary = run_benchmark(grid(cells_file, models=models, seeds=[0]), out=out, registry=kit_registry, dance=fake_dance)
    assert summary.count("ok") == 1 and summary.count("skipped") == 1
    assert starts(out) == {"clustering-kmeans_test-cells-seed0": 1, "clustering-random_test-cells-seed0": 2}
    # a parameter of every run (--set) concerns every cell
    summary = run_benchmark(grid(cells_file, models=models, seeds=[0], params={"x": 1}), out=out, registry=kit_registry, dance=fake_dance)
    assert summary.count("ok") == 2
    planned = plan(grid(cells_file, models=models, seeds=[0], params={"x": 1}), out, registry=kit_registry)
    assert [p.state for p in planned] == ["done", "done"]


def test_a_crash_is_retried_and_a_cell_that_always_fails_is_recorded_while_the_grid_goes_on(kit_registry, fake_dance, cells_file, tmp_path):
    out = tmp_path / "runs"
    models = [
        {"model": "kmeans_test", "label": "flaky", "params": {"fail_first": 1}},
        {"model": "kmeans_test", "label": "broken", "params": {"fail_always": True}},
        {"model": "kmeans_test", "label": "typo", "params": {"bad_input": True}},
        "random_test",
    ]
    summary = run_benchmark(grid(cells_file, models=models, seeds=[0]), out=out, jobs=2, registry=kit_registry, dance=fake_dance)
    outcome = {p.cell.label: p.outcome for p in summary.cells}
    assert outcome["flaky"]["status"] == "ok" and outcome["flaky"]["attempts"] == 2
    assert outcome["broken"]["status"] == "failed" and outcome["broken"]["attempts"] == 3  # --retries 2
    assert outcome["broken"]["error"] == "RuntimeError: flaky failure number 3"
    assert outcome["typo"]["status"] == "failed" and outcome["typo"]["attempts"] == 1  # exit 2: bad input, not retried
    assert outcome["typo"]["error"].startswith("error: param 'bad_input'")
    assert outcome["random_test"]["status"] == "ok"
    record = read_record(out / "clustering-broken-cells-seed0")
    assert record.status == "failed" and record.exit_code == 1 and len(record.errors) == 3
    assert {p.folder.name for p in summary.failed} == {"clustering-broken-cells-seed0", "clustering-typo-cells-seed0"}
    # failed cells run again on the next invocation (they have no result); done ones do not
    again = run_benchmark(grid(cells_file, models=models, seeds=[0], retries=0), out=out, registry=kit_registry, dance=fake_dance)
    assert again.count("skipped") == 2 and len(again.failed) == 2
    assert read_record(out / "clustering-broken-cells-seed0").attempts == 4
    write_report(out)
    table = (out / "report" / "clustering.md").read_text()
    assert "| broken | cells | 0 | failed | failed |" in table and "RuntimeError: flaky failure number 4" in table


def test_a_timeout_stops_the_run_and_is_not_retried(kit_registry, fake_dance, cells_file, tmp_path):
    config = grid(cells_file, models=["kmeans_test"], seeds=[0], params={"sleep": 30}, timeout=1)
    started = time.monotonic()
    summary = run_benchmark(config, out=tmp_path, registry=kit_registry, dance=fake_dance)
    (cell,) = summary.cells
    assert cell.outcome["status"] == "failed" and cell.outcome["attempts"] == 1 and "--timeout" in cell.outcome["error"]
    assert time.monotonic() - started < 20


DRIVER = """
import sys
sys.path.insert(0, {tests!r})
from dance.core.plugins import module_sources
from dance.core.registry import Registry
from dance.core.benchmark import make_config, run_benchmark

registry = Registry(module_sources({{"core": "dance.core._plugin"}}, distribution="dance-core") + module_sources({{"kit": "kit_plugins"}}))
config = make_config({config!r})
run_benchmark(config, out={out!r}, jobs=2, registry=registry, dance={dance!r}, poll=0.3)
"""


def test_a_killed_driver_restarted_at_once_runs_every_cell_exactly_once(kit_registry, fake_dance, cells_file, tmp_path):
    out = tmp_path / "runs"
    config = grid(cells_file, params={"sleep": 2.0})
    script = tmp_path / "driver.py"
    script.write_text(DRIVER.format(tests=str(TESTS), config=config.model_dump(mode="json"), out=str(out), dance=fake_dance))
    driver = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while sum(1 for p in out.glob("*/benchmark_record.json") if read_record(p.parent).status == "ok") < 2:
            assert driver.poll() is None, driver.stderr.read().decode()
            assert time.monotonic() < deadline, "the driver wrote no 2 results in 120 s"
            time.sleep(0.05)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    running = [p.parent.name for p in out.glob("*/benchmark_record.json") if read_record(p.parent).status == "running"]
    assert running, "no run outlived the driver (the test needs orphans)"

    summary = run_benchmark(config, out=out, jobs=2, registry=kit_registry, dance=fake_dance, poll=0.3)
    assert summary.count("ok") + summary.count("skipped") == 6 and not summary.failed
    assert starts(out) == {name: 1 for name in starts(out)} and len(starts(out)) == 6
    records = {p.name: read_record(p) for p in out.iterdir() if p.is_dir()}
    assert all(r.status == "ok" and r.attempts == 1 for r in records.values())
    assert {name for name, r in records.items() if r.finished_by == "orphan"} == set(running)


def test_a_gpu_model_without_a_gpu_worker_stops_at_once(kit_registry, fake_dance, cells_file, tmp_path):
    config = grid(cells_file, gpu_models=["random_test"])
    started = time.monotonic()
    with pytest.raises(BenchmarkResourceError, match="random_test need a GPU"):
        run_benchmark(config, out=tmp_path / "runs", jobs=2, registry=kit_registry, dance=fake_dance)
    assert time.monotonic() - started < 5
    assert not list((tmp_path / "runs").glob("*/starts.log"))


def test_gpu_models_run_on_the_gpu_worker_with_its_device(kit_registry, fake_dance, cells_file, tmp_path):
    config = grid(cells_file, gpu_models=["random_test"], seeds=[0, 1])
    summary = run_benchmark(config, out=tmp_path, jobs=2, gpus=1, registry=kit_registry, dance=fake_dance)
    assert summary.count("ok") == 4
    for p in summary.cells:
        if p.cell.model == "random_test":
            result = json.loads((p.folder / "result.json").read_text())
            assert result["device"] == "cuda" and result["notes"]["cuda_visible_devices"] == "0"
            assert read_record(p.folder).gpu == "0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def loopback_cluster(tmp_path):
    """A ``dask scheduler`` and two ``dask worker`` processes (1 thread each) on 127.0.0.1."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "dask.log", "w")  # noqa: SIM115
    dask = [sys.executable, "-m", "dask"]
    processes = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", "--scheduler-file", str(scheduler_file)],
            stdout=log,
            stderr=log,
        )
    ]
    for _ in range(2):  # without a nanny: they start and stop in a fraction of the time
        worker = [*dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--memory-limit", "0"]
        processes.append(subprocess.Popen(worker, stdout=log, stderr=log))
    try:
        from distributed import Client

        with Client(address, timeout="60s") as client:  # both workers in, so the cluster runs 2 at once
            client.wait_for_workers(2, timeout=60)
        yield address, scheduler_file
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def test_an_external_dask_cluster_gives_the_same_metrics(kit_registry, fake_dance, cells_file, tmp_path, loopback_cluster):
    address, scheduler_file = loopback_cluster
    local = run_benchmark(grid(cells_file), out=tmp_path / "local", jobs=2, registry=kit_registry, dance=fake_dance)
    remote = run_benchmark(grid(cells_file), out=tmp_path / "remote", scheduler=address, registry=kit_registry, dance=fake_dance)
    assert remote.count("ok") == 6 and remote.concurrency == 2

    def metrics(summary):
        return {p.folder.name: json.loads((p.folder / "result.json").read_text())["metrics"] for p in summary.cells}

    assert metrics(remote) == metrics(local)
    hosts = {read_record(p.folder).host for p in remote.cells}
    assert hosts == {socket.gethostname()}
    # the same cluster through its scheduler file: everything is done already
    again = run_benchmark(grid(cells_file), out=tmp_path / "remote", scheduler_file=scheduler_file, registry=kit_registry, dance=fake_dance)
    assert again.count("skipped") == 6
    # and a GPU model on a cluster without a GPU worker stops at once
    started = time.monotonic()
    with pytest.raises(BenchmarkResourceError, match="dask worker"):
        run_benchmark(
            grid(cells_file, gpu_models=["kmeans_test"]), out=tmp_path / "gpu", scheduler=address, registry=kit_registry, dance=fake_dance
        )
    assert time.monotonic() - started < 5
