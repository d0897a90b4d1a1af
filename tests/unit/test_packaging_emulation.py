"""The arm64 smoke test under emulation: when it runs, what it runs, and the one-process handler check it uses.
Making a real root needs root, debootstrap and Debian's mirror: make rehearse does it in CI."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from infra.packaging import build, emulation, smoke
from infra.packaging.build import BuildOptions
from infra.packaging.config import PackagingError


def ready_root(base: Path, arch: str = "arm64") -> emulation.EmulationRoot:
    root = emulation.root_for(arch, base)
    root.python.parent.mkdir(parents=True)
    root.python.write_text("")
    root.stamp.write_text(root.expected_stamp())
    return root


def test_an_emulated_interpreter_needs_qemu_and_a_finished_root(tmp_path: Path):
    def qemu(name: str) -> str | None:
        return f"/usr/bin/{name}"

    assert emulation.interpreter("arm64", tmp_path, qemu) is None  # no root yet
    root = ready_root(tmp_path)
    assert emulation.interpreter("arm64", tmp_path, qemu) == [
        "/usr/bin/qemu-aarch64-static",
        "-L",
        str(root.path),
        str(root.path / "usr" / "bin" / "python3.13"),
    ]
    assert emulation.interpreter("arm64", tmp_path, lambda _: None) is None  # no qemu on PATH
    root.stamp.write_text("an older recipe\n")
    assert emulation.interpreter("arm64", tmp_path, qemu) is None


def test_the_roots_cpuinfo_describes_one_arm_core_per_host_core():
    text = emulation.cpuinfo("arm64", 2)
    blocks = [block for block in text.split("\n\n") if block.strip()]
    assert len(blocks) == 2
    assert all("CPU implementer\t: 0x41" in block and "CPU part\t: 0xd0c" in block for block in blocks)
    assert blocks[1].startswith("processor\t: 1")


def test_a_build_that_must_smoke_test_fails_without_emulation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(build, "host_architecture", lambda: "x86_64")
    monkeypatch.setattr(emulation, "interpreter", lambda arch: None)
    options = BuildOptions(out=tmp_path, python="python3.13", model_version="2.0.0")
    assert "smoke test skipped" in build.smoke_test_note("arm64", tmp_path, options)
    with pytest.raises(PackagingError, match=r"arm64: smoke test skipped.*qemu-user-static"):
        build.smoke_test_note("arm64", tmp_path, replace(options, require_smoke_test=True))


def test_the_emulated_interpreter_is_used_with_the_native_one_to_compile(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(build, "host_architecture", lambda: "x86_64")
    monkeypatch.setattr(emulation, "interpreter", lambda arch: ["qemu", "-L", "root", "root/python3.13"])
    options = BuildOptions(out=Path("out"), python="/usr/bin/python3.13", model_version="2.0.0")
    emulated = build.smoke_interpreter("arm64", options)
    assert emulated is not None
    assert emulated.emulated
    assert (emulated.command[0], emulated.native) == ("qemu", "/usr/bin/python3.13")
    native = build.smoke_interpreter("x86_64", options)
    assert native is not None
    assert (native.command, native.emulated) == (["/usr/bin/python3.13"], False)


def test_one_process_imports_every_handler_from_its_own_directory(tmp_path: Path):
    tasks = []
    for name in ("api", "notify"):
        task = tmp_path / name
        task.mkdir()
        (task / "handler.py").write_text(f"NAME = {name!r}\n\ndef handler(event, context):\n    return NAME\n")
        tasks.append(str(task))
    path_before = list(sys.path)
    smoke.check_handlers(tasks)
    assert sys.path == path_before
    assert "handler" not in sys.modules

    (tmp_path / "notify" / "handler.py").write_text("handler = None\n")
    with pytest.raises(AssertionError, match="not callable"):
        smoke.check_handlers(tasks)
