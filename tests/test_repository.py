"""The README, CI script, docs and packages agree with each other."""

from __future__ import annotations

import re

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
    for folder in ("dance-core", "dance-cli", "dance-single", "dance-multi", "dance-spatial"):
        assert (ROOT / folder / "src" / "dance").is_dir()
        assert not (ROOT / folder / "src" / "dance" / "__init__.py").exists(), folder
        assert (ROOT / folder / "README.md").is_file() and (ROOT / folder / "tests").is_dir()


def test_domain_packages_depend_on_core_and_cli_and_core_has_no_deep_learning():
    for folder in ("dance-single", "dance-multi", "dance-spatial"):
        deps = " ".join(tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]["dependencies"])
        assert "dance-core" in deps and "dance-cli" in deps, folder
    core = " ".join(tomllib.loads((ROOT / "dance-core" / "pyproject.toml").read_text())["project"]["dependencies"])
    assert not re.search(r"\b(torch|torch-geometric|dgl|tensorflow|jax)\b", core)
