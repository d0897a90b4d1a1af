"""The `aiqleads` command line on input it cannot use: one line on stderr naming the file, a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiqleads_offline import cli, summary


def command(name: str, path: Path, tmp_path: Path) -> list[str]:
    return {
        "train": ["train", "--data", str(path), "--out", str(tmp_path / "model")],
        "score": ["score", str(path), "-o", str(tmp_path / "out.csv")],
        "summarize": ["summarize", str(path)],
    }[name]


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("name", ["train", "score", "summarize"])
def test_a_missing_input_file(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "history.csv"
    assert cli.main(command(name, missing, tmp_path)) == 1
    assert one_error_line(capsys) == f"error: {missing}: no such file"
    assert not (tmp_path / "model").exists()


@pytest.mark.parametrize("name", ["train", "score", "summarize"])
def test_a_directory_as_input(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "leads.csv"
    directory.mkdir()
    assert cli.main(command(name, directory, tmp_path)) == 1
    assert one_error_line(capsys) == f"error: {directory}: is a directory, not a file"


@pytest.mark.parametrize("name", ["train", "score", "summarize"])
def test_an_unreadable_input_file(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "leads.csv"
    locked.write_text("id\n1\n")
    # chmod 000 does not stop root (the CI container's user); the check asks os.access, so ask it to refuse
    monkeypatch.setattr(cli.os, "access", lambda path, mode: Path(path) != locked)
    assert cli.main(command(name, locked, tmp_path)) == 1
    assert one_error_line(capsys) == f"error: {locked}: cannot be read (permission denied)"


def test_a_missing_spec_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "history.csv"
    data.write_text("id,converted\n1,1\n")
    args = ["train", "--data", str(data), "--spec", str(tmp_path / "spec.json"), "--out", str(tmp_path / "m")]
    assert cli.main(args) == 1
    assert one_error_line(capsys) == f"error: {tmp_path / 'spec.json'}: no such file"


def test_a_spec_file_that_is_not_a_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "history.csv"
    data.write_text("id,converted\n1,1\n")
    assert cli.main(["train", "--data", str(data), "--spec", str(data), "--out", str(tmp_path / "m")]) == 1
    assert one_error_line(capsys).startswith(f"error: {data}: not a feature spec: ")


def test_an_os_error_during_the_run_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scored = tmp_path / "leads.scored.csv"
    scored.write_text("id,probability,grade,reasons\n")

    def revoked(path: Path, top: int) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(summary, "summarize_scored_file", revoked)
    assert cli.main(["summarize", str(scored)]) == 1
    assert one_error_line(capsys) == f"error: {scored}: permission denied"
