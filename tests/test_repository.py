"""The README, CI script, docs and packages agree with each other."""

from __future__ import annotations

import re

import pytest
import tomllib
from support import ROOT

from dance.core import hookspecs


def readme_block(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)\n```\s*<!-- /{marker} -->", text, re.S)
    assert match, f"README has no {marker} block"
    return match.group(1).strip()


def test_quick_start_is_two_commands_and_ci_runs_the_test_command():
    demo, test = readme_block("quick-start-demo"), readme_block("quick-start-test")
    assert len(demo.splitlines()) == 1 and len(test.splitlines()) == 1
    ci = (ROOT / ".ci" / "run").read_text()
    assert "quick-start-test" in ci  # .ci/run executes the README's test block itself
    assert "torch==2.13.0" in demo and "dance run" in demo


def test_every_hook_is_documented_with_its_signature():
    docs = (ROOT / "docs" / "plugins.md").read_text()
    for name in hookspecs.HOOK_KINDS:
        assert f"{name}(register)" in docs, name


def test_namespace_package_has_no_init_in_any_distribution():
    for folder in ("dance-core", "dance-cli", "dance-nn", "dance-single", "dance-multi", "dance-spatial"):
        assert (ROOT / folder / "src" / "dance").is_dir()
        assert not (ROOT / folder / "src" / "dance" / "__init__.py").exists(), folder
        assert (ROOT / folder / "README.md").is_file() and (ROOT / folder / "tests").is_dir()


def test_domain_packages_depend_on_core_and_cli_and_core_has_no_deep_learning():
    for folder in ("dance-single", "dance-multi", "dance-spatial"):
        deps = " ".join(tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]["dependencies"])
        assert "dance-core" in deps and "dance-cli" in deps and "dance-nn" in deps, folder
    nn = " ".join(tomllib.loads((ROOT / "dance-nn" / "pyproject.toml").read_text())["project"]["dependencies"])
    assert "dance-core" in nn and "torch" in nn and "dance-cli" not in nn
    core = " ".join(tomllib.loads((ROOT / "dance-core" / "pyproject.toml").read_text())["project"]["dependencies"])
    assert not re.search(r"\b(torch|torch-geometric|dgl|tensorflow|jax)\b", core)


@pytest.mark.parametrize("document", ["README.md", "docs/plugins.md"])
def test_the_plugin_pyproject_snippets_are_complete_enough_for_pip(document):
    """The pyproject snippet a plugin author copies names a build backend, a version and the entry point."""
    snippets = re.findall(r"```toml\n(.*?)\n```", (ROOT / document).read_text(), re.S)
    assert snippets, f"{document} has no pyproject.toml snippet"
    for snippet in snippets:
        data = tomllib.loads(snippet)
        assert data["build-system"]["requires"] and data["build-system"]["build-backend"]
        assert data["project"]["name"] and data["project"]["version"]
        assert "dance.plugins" in data["project"]["entry-points"]
        assert any("dance-core" in d for d in data["project"]["dependencies"])
        assert "pytest" in " ".join(data["project"]["optional-dependencies"]["test"])


def test_info_and_data_list_import_no_model_library():
    """`dance info MODEL` reads a model's parameters without torch or scanpy; `dance data list` imports no data library."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from dance.cli.app import main\n"
        "from dance.core import registry\n"
        "from dance.cli.describe import describe\n"
        "heavy = ('torch', 'torch_geometric', 'scanpy', 'anndata', 'tensorflow', 'jax')\n"
        "try:\n    main(['data', 'list', '-f', 'json'])\nexcept SystemExit:\n    pass\n"
        "after_data = [m for m in heavy if m in sys.modules]\n"
        "pulled = {}\n"
        "for spec in registry.models():\n"
        "    describe(spec)\n"
        "    new = [m for m in heavy if m in sys.modules and m not in pulled.get('_seen', [])]\n"
        "    if new:\n        pulled[spec.name] = new\n        pulled.setdefault('_seen', []).extend(new)\n"
        "pulled.pop('_seen', None)\n"
        "print(json.dumps({'data_list': after_data, 'models': pulled}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    report = json.loads(out.strip().splitlines()[-1])
    assert report == {"data_list": [], "models": {}}, report


PACKAGES = [
    ("dance-core", "core"),
    ("dance-cli", "cli"),
    ("dance-nn", "nn"),
    ("dance-single", "single"),
    ("dance-multi", "multi"),
    ("dance-spatial", "spatial"),
]


@pytest.mark.parametrize("folder, name", PACKAGES)
def test_no_package_has_an_import_cycle(folder, name):
    from import_graph import package_cycles

    assert package_cycles(ROOT / folder / "src" / "dance" / name, f"dance.{name}") == []


def test_the_cycle_finder_finds_a_cycle_through_a_type_hint(tmp_path):
    from import_graph import package_cycles

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import f\n")
    (tmp_path / "pkg" / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import g\ndef f(): ...\n")
    (tmp_path / "pkg" / "c.py").write_text("def h():\n    from . import a\n")
    assert package_cycles(tmp_path / "pkg", "pkg") == [["pkg.a", "pkg.b"]]


def test_the_benchmarks_are_an_importable_package(monkeypatch):
    """`python -m benchmarks.<name>` from the repository root: no sys.path tricks, every script imports."""
    import importlib

    monkeypatch.syspath_prepend(str(ROOT))  # what `python -m` from the root does
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        assert "sys.path.insert" not in path.read_text(), path.name
        if path.stem != "__init__":
            importlib.import_module(f"benchmarks.{path.stem}")


def test_no_model_writes_its_own_training_loop():
    """Every deep model trains on dance-nn's Trainer: no backward pass or optimiser step elsewhere."""
    pattern = re.compile(r"\.backward\(|\boptimi[sz]er\.step\(|\bopt\w*\.step\(")
    offenders = []
    for path in sorted(ROOT.glob("dance-*/src/**/*.py")):
        if path.is_relative_to(ROOT / "dance-nn"):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "\n".join(offenders)
