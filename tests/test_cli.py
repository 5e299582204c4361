"""The command line's contract: help, version, one-line errors with the right exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from egress_optimizer.cli import run


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_commands(capsys):
    code, out, _ = _run(["--help"], capsys)
    assert code == 0
    for cmd in ("version", "generate", "demo"):
        assert cmd in out


def test_no_arguments_prints_help(capsys):
    code, out, _ = _run([], capsys)
    assert code == 0 and "Usage: egress" in out


def test_version_json(capsys):
    code, out, _ = _run(["version", "--json"], capsys)
    info = json.loads(out)
    assert code == 0
    assert info["egress_optimizer"] == "0.1.0"
    assert info["price_table"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "--out", "x", "--scale", "huge"], "--scale"),
        (["generate"], "Missing option '--out'"),
        (["generate", "--out", "/nonexistent-dir/sub/out"], "does not exist"),
        (["generate", "--out", "x", "--start", "2026-13-01"], "YYYY-MM-DD"),
        (["generate", "--out", "x", "--days", "0"], "--days"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = _run(args, capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("egress: error: ")
    assert needle in lines[0]
    assert "Traceback" not in err


def test_output_path_that_is_a_file_is_rejected(capsys, tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, _, err = _run(["generate", "--out", str(target)], capsys)
    assert code == 2 and "not a directory" in err


def test_internal_error_is_short_unless_debug(capsys, monkeypatch):
    import egress_optimizer.estate.generate as gen

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gen, "generate", boom)
    code, _, err = _run(["generate", "--out", "x"], capsys)
    assert code == 1
    assert "internal error: RuntimeError: disk on fire" in err and "Traceback" not in err
    with pytest.raises(RuntimeError):
        run(["--debug", "generate", "--out", "x"])


def test_console_script_is_installed():
    proc = subprocess.run(
        [sys.executable, "-m", "egress_optimizer", "version"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "egress-optimizer 0.1.0" in proc.stdout
