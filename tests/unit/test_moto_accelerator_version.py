"""The local cloud's moto accelerator runs only on the moto release it patches, the one pyproject.toml pins."""

from __future__ import annotations

import importlib.metadata

import pytest

from infra import locks
from infra.local_cloud import moto_accelerator


def test_pyproject_and_the_lock_pin_the_moto_the_accelerator_is_written_against():
    for extra in ("dev", "local"):
        moto = [r for r in locks.declared([extra]) if r.name == "moto"]
        assert [str(r.specifier) for r in moto] == [f"=={moto_accelerator.MOTO_VERSION}"], extra
    assert [p.version for p in locks.read_lock(locks.DEV_LOCK) if p.name == "moto"] == [moto_accelerator.MOTO_VERSION]
    assert importlib.metadata.version("moto") == moto_accelerator.MOTO_VERSION, "run make setup"


def test_the_accelerator_refuses_another_moto_unless_it_is_disabled(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "5.0.0" if name == "moto" else "0")
    monkeypatch.delenv(moto_accelerator.DISABLE_VARIABLE, raising=False)
    with pytest.raises(RuntimeError) as raised:
        moto_accelerator.install()
    message = str(raised.value)
    assert f"written against moto {moto_accelerator.MOTO_VERSION}; installed: 5.0.0" in message
    assert "make setup" in message
    assert "AIQLEADS_MOTO_ACCELERATOR=0" in message
    monkeypatch.setenv(moto_accelerator.DISABLE_VARIABLE, "0")
    assert moto_accelerator.install() is False
    moto_accelerator.check_moto_version(moto_accelerator.MOTO_VERSION)


def test_the_local_cloud_says_why_before_it_starts_another_moto(monkeypatch: pytest.MonkeyPatch):
    from infra.local_cloud.server import LocalAwsServer

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "5.0.0" if name == "moto" else "0")
    monkeypatch.delenv(moto_accelerator.DISABLE_VARIABLE, raising=False)
    server = LocalAwsServer(port=0)
    with pytest.raises(RuntimeError, match=r"installed: 5\.0\.0\. Run make setup"):
        server.start()
    assert server._process is None
