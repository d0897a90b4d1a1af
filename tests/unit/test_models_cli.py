"""`aiqleads models`: where it finds the API and the key, and its mistakes as one line (the flows themselves run
against the local cloud in tests/integration/test_model_registry.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aiqleads_offline.cli import main


def test_without_an_api_or_a_local_cloud_it_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIQLEADS_API_URL", raising=False)
    monkeypatch.delenv("AIQLEADS_API_KEY", raising=False)
    assert main(["models", "list", "--local-state", str(tmp_path / "absent.json")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "make run" in err
    assert "--api-url" in err
    assert err.count("\n") == 1


def test_shadow_needs_a_version_or_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "local.json"
    state.write_text(json.dumps({"api_url": "http://127.0.0.1:9/dev", "admin_api_key": "aiq_x"}))
    assert main(["models", "shadow", "--local-state", str(state)]) == 1
    assert "name a VERSION or pass --clear" in capsys.readouterr().err
    assert main(["models", "shadow", "2.0.0", "--clear", "--local-state", str(state)]) == 1


def test_an_unreachable_api_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    assert main(["models", "list", "--api-url", "http://127.0.0.1:9/dev", "--api-key", "aiq_x"]) == 1
    assert "cannot reach http://127.0.0.1:9/dev" in capsys.readouterr().err


def test_register_without_a_registry_in_the_local_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "local.json"
    state.write_text(json.dumps({"aws_endpoint_url": "http://127.0.0.1:9", "tables": {}, "buckets": {}}))
    code = main(["models", "register", "--dir", str(tmp_path), "--tenant", "demo", "--local-state", str(state)])
    assert code == 1
    assert "has no model registry" in capsys.readouterr().err
