"""Sessions for testing dance: each package installed alone with its declared dependencies, the
example plugin, everything together, a demo run, and lint.

``nox -t ci`` runs what CI runs (the README's test command). Every session installs
``torch==2.13.0`` before anything that might pull torch, so pip never fetches the multi-GB CUDA build.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable

import nox

nox.options.error_on_missing_interpreters = True
nox.options.reuse_existing_virtualenvs = False
# uv installs a session's packages in seconds where pip takes a minute (nine sessions per CI run);
# without uv (not installed next to nox) sessions fall back to venv + pip
nox.options.default_venv_backend = "uv|venv"

#: pip configuration uv must honour too (uv reads no pip.conf): where the CPU build of torch lies,
#: the machine's extra indexes and its constraints
_UV_FROM_PIP = {
    "find-links": "UV_FIND_LINKS",
    "index-url": "UV_INDEX_URL",
    "extra-index-url": "UV_EXTRA_INDEX_URL",
    "constraint": "UV_CONSTRAINT",
}


def _uv_environment_from_pip() -> None:
    """Give uv the settings of ``pip config list`` (environment values win), and pip's resolution
    across indexes (the best version wherever it is, not the first index's)."""
    import subprocess
    import sys

    try:
        listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return
    settings: dict[str, str] = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in _UV_FROM_PIP and value:
            settings[name] = value.strip().strip("'\"")
    for name, variable in _UV_FROM_PIP.items():
        if name in settings and variable not in os.environ:
            os.environ[variable] = settings[name]
    os.environ.setdefault("UV_INDEX_STRATEGY", "unsafe-best-match")
    # pip compiles bytecode when it installs; uv does not, and with PYTHONDONTWRITEBYTECODE set (as on
    # this machine) every `dance` subprocess then compiles scanpy and torch from source (+5-12 s each)
    os.environ.setdefault("UV_COMPILE_BYTECODE", "1")


_uv_environment_from_pip()

TORCH = "torch==2.13.0"
PYTEST = ["pytest", "--run-slow", "-p", "no:cacheprovider", "--durations=15"]
#: the long sessions spread their test files over every core (pytest-xdist, from the packages'
#: ``test`` extra): a whole file per worker, so module fixtures (a trained model, a loaded
#: dataset) are built once
PARALLEL = ["-n", "auto", "--dist", "loadfile"]
#: one BLAS / OpenMP thread per worker, so the workers do not oversubscribe the cores
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def _prune_venv_after(func: Callable[[nox.Session], None]) -> Callable[[nox.Session], None]:
    """Delete the session's virtualenv when it ends if ``DANCE_NOX_PRUNE_VENVS=1`` (set by ``.ci/run``).

    Every test venv holds its own torch (1-2 GB each, ~11 GB for ``-t ci``); pruning keeps the peak
    disk use of a CI run at one venv. Venvs are never reused (``reuse_existing_virtualenvs=False``), so
    nothing is lost except a failed venv to poke at, which a local run keeps by default.
    """

    @functools.wraps(func)
    def wrapper(session: nox.Session) -> None:
        try:
            func(session)
        finally:
            location = getattr(session.virtualenv, "location", None)
            if os.environ.get("DANCE_NOX_PRUNE_VENVS") == "1" and location and os.path.isdir(location):
                shutil.rmtree(location, ignore_errors=True)

    return wrapper


def _session(**kwargs: object) -> Callable[[Callable[[nox.Session], None]], object]:
    """``nox.session(**kwargs)`` with :func:`_prune_venv_after`, so every session prunes alike."""

    def register(func: Callable[[nox.Session], None]) -> object:
        return nox.session(**kwargs)(_prune_venv_after(func))

    return register


def _install_torch_first(session: nox.Session) -> None:
    session.install(TORCH)


def _package_session(session: nox.Session, folder: str, *, parallel: bool = True) -> None:
    _install_torch_first(session)
    session.install(f"./{folder}[test]")
    if parallel:
        session.run(*PYTEST, *PARALLEL, f"{folder}/tests", *session.posargs, env=ONE_THREAD)
    else:
        session.run(*PYTEST, f"{folder}/tests", *session.posargs)


@_session(name="tests-core", tags=["ci"])
def tests_core(session: nox.Session) -> None:
    """dance-core alone: no CLI, no models, no deep learning."""
    session.install("./dance-core[test]")
    session.run(*PYTEST, *PARALLEL, "dance-core/tests", *session.posargs, env=ONE_THREAD)


@_session(name="tests-cli", tags=["ci"])
def tests_cli(session: nox.Session) -> None:
    """dance-cli with dance-core only (tests use their own plugin)."""
    session.install("./dance-cli[test]")
    session.run(*PYTEST, "dance-cli/tests", *session.posargs)


@_session(name="tests-nn", tags=["ci"])
def tests_nn(session: nox.Session) -> None:
    """dance-nn installed alone (torch, torch_geometric, dance-core): layers, likelihoods, data and the trainer."""
    _package_session(session, "dance-nn", parallel=False)  # seconds: workers would cost more than they save


TYPER_FLOOR = ["typer==0.18.0", "rich==13.0.0"]  # the oldest versions dance-cli's pyproject allows


@_session(name="tests-cli-oldest", tags=["ci"])
def tests_cli_oldest(session: nox.Session) -> None:
    """dance-cli's tests against the oldest Typer and rich its pyproject allows (pip picks click)."""
    session.install("./dance-cli[test]")
    session.install(*TYPER_FLOOR)
    session.run("python", "-c", "import typer, rich.console; print('typer', typer.__version__)")
    session.run(*PYTEST, "dance-cli/tests", *session.posargs)


@_session(name="tests-single", tags=["ci"])
def tests_single(session: nox.Session) -> None:
    """dance-single installed alone (pulls dance-core and dance-cli), its tests incl. real data."""
    _package_session(session, "dance-single")


@_session(name="tests-multi", tags=["ci"])
def tests_multi(session: nox.Session) -> None:
    """dance-multi installed alone, its tests incl. real data."""
    _package_session(session, "dance-multi")


@_session(name="tests-spatial", tags=["ci"])
def tests_spatial(session: nox.Session) -> None:
    """dance-spatial installed alone, its tests incl. real data."""
    _package_session(session, "dance-spatial")


@_session(name="example-plugin", tags=["ci"])
def example_plugin(session: nox.Session) -> None:
    """The third-party example: installed from its folder against dance-core, listed, run, and checked."""
    session.install("./dance-cli", "./examples/dance-plugin-example[test]")
    session.run(*PYTEST, "examples/dance-plugin-example/tests", *session.posargs)
    listing = session.run("dance", "list", "models", "--task", "clustering", "--format", "json", silent=True)
    if '"spectral"' not in listing:
        session.error("the example plugin's model is missing from `dance list`")
    session.run(
        "dance",
        "run",
        "clustering",
        "--model",
        "spectral",
        "--dataset",
        "merfish_hypothalamus_reference",
        "--out",
        f"{session.create_tmp()}/spectral",
    )


@_session(name="tests-integration", tags=["ci"])
def tests_integration(session: nox.Session) -> None:
    """Every package and the example plugin together: the cross-package and CLI end-to-end tests."""
    _install_torch_first(session)
    session.install(
        "./dance-core[test]",
        "./dance-cli",
        "./dance-nn",
        "./dance-single",
        "./dance-multi",
        "./dance-spatial",
        "./examples/dance-plugin-example",
    )
    # on every core too: most of these tests wait for `dance` subprocesses (measured with compiled
    # bytecode: 299 s serial, 204 s on two workers while other jobs shared the cores)
    session.run(*PYTEST, *PARALLEL, "tests", *session.posargs, env=ONE_THREAD)


@_session(name="demo")
def demo(session: nox.Session) -> None:
    """The README's main job: install everything and cluster the embedded PBMC 4K cells."""
    _install_torch_first(session)
    session.install("./dance-core", "./dance-cli", "./dance-nn", "./dance-single", "./dance-multi", "./dance-spatial")
    session.run("dance", "run", "clustering", "--out", f"{session.create_tmp()}/demo")


@_session(name="lint", tags=["ci"])
def lint(session: nox.Session) -> None:
    """ruff over every package, the tests and the example."""
    session.install("ruff")
    session.run(
        "ruff",
        "check",
        "dance-core",
        "dance-cli",
        "dance-nn",
        "dance-single",
        "dance-multi",
        "dance-spatial",
        "tests",
        "examples",
        "benchmarks",
        "noxfile.py",
    )
