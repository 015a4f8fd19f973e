"""Usage errors print Typer's usage message and exit 2 (never a traceback); `dance check` exits 1 when a check fails.

These run against whichever Typer is installed: CI runs them with the newest Typer and with the
oldest the pyproject allows (nox session tests-cli-oldest).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from dance.cli.app import main


def call(capsys, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


USAGE_ERRORS = [
    [],
    ["data"],
    ["run"],
    ["bogus"],
    ["data", "bogus"],
    ["run", "clustering", "--bogus"],
    ["run", "clustering", "--seed", "abc"],
    ["run", "clustering", "--n-clusters", "1"],
    ["list", "--format"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=lambda a: " ".join(a) or "(none)")
def test_usage_errors_exit_2_with_the_usage_message(cli_registry, capsys, args):
    code, out, err = call(capsys, *args)
    assert code == 2, (out, err)
    assert ("Usage: dance" in err or "Error" in err) and "Traceback" not in err + out
    assert out == ""


def test_the_console_script_exits_2_on_a_typo():
    completed = subprocess.run([sys.executable, "-m", "dance.cli", "rnu"], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2 and "No such command 'rnu'" in completed.stderr and "Traceback" not in completed.stderr


def test_flags_show_no_value_placeholder_in_help(cli_registry, capsys):
    code, out, err = call(capsys, "run", "--help")
    text = out + err
    assert code == 0 and "--no-download" in text and "--n-clusters-from-labels" in text
    assert "<bool>" not in text and "BOOLEAN" not in text


def test_check_exits_0_when_every_check_passes(cli_registry, capsys):
    code, out, _ = call(capsys, "check", "farthest_first")
    assert code == 0 and "FAILED" not in out


def test_check_exits_1_when_a_check_fails(monkeypatch, capsys):
    from dance.core import registry
    from dance.core.plugins import module_sources

    sources = module_sources({"core": "dance.core._plugin"}, distribution="dance-core") + module_sources(
        {"broken": "broken_plugin"}, distribution="broken-plugin"
    )
    monkeypatch.setattr(registry, "_sources", lambda: sources)
    registry.refresh()
    try:
        code, out, _ = call(capsys, "check", "unseeded")
    finally:
        monkeypatch.undo()
        registry.refresh()
    assert code == 1 and "check_deterministic" in out and "FAILED" in out


def test_a_misspelled_hook_shows_as_failed_and_fails_dance_check(monkeypatch, capsys):
    import json

    from dance.core import registry
    from dance.core.plugins import module_sources

    sources = module_sources({"core": "dance.core._plugin"}, distribution="dance-core") + module_sources(
        {"typo": "typo_plugin"}, distribution="typo-plugin"
    )
    monkeypatch.setattr(registry, "_sources", lambda: sources)
    registry.refresh()
    try:
        code, out, _ = call(capsys, "plugins", "-f", "json")
        records = {r["name"]: r for r in json.loads(out)}
        check_code, _, check_err = call(capsys, "check", "typo_model")
    finally:
        monkeypatch.undo()
        registry.refresh()
    assert code == 0 and records["typo"]["status"] == "failed" and "did you mean 'dance_register_models'" in records["typo"]["error"]
    assert check_code == 2 and "unknown model 'typo_model'" in check_err and "plugin 'typo'" in " ".join(check_err.split())


def test_saving_a_transductive_model_and_predicting_from_an_empty_folder_are_one_line_errors(cli_registry, capsys, tmp_path):
    code, _, err = call(capsys, "run", "clustering", "--save-model", str(tmp_path / "m"), "-o", str(tmp_path / "o"))
    assert code == 2 and "model 'farthest_first' is transductive" in " ".join(err.split()) and not (tmp_path / "m").exists()
    code, _, err = call(capsys, "predict", "--model-dir", str(tmp_path), "--data", str(tmp_path / "x.h5ad"))
    assert code == 2 and "holds no saved dance model" in err
