"""The smoke test of an architecture this host cannot run natively (arm64 on x86_64): a python3.13 of that
architecture from a Debian root, run under qemu's user-mode emulator.

    python -m infra.packaging emulator [--arch arm64] [--mirror URL]   # make the root once (root user, Debian mirror)
    python -m infra.packaging build                                     # then the arm64 build is smoke-tested too

The root (build/emulation/<arch>/, about 240 MB) is Debian trixie's minimal base and python3.13, unpacked by
`debootstrap --foreign`: nothing in it is ever executed as an installer, so no chroot, binfmt registration or
privileged container is needed; qemu runs its python3.13 directly, with `-L` pointing the dynamic linker and every
absolute path it opens at the root first. Debian rather than Amazon Linux because Debian is the package source this
project's machines reach; the layer only needs a glibc at least as old as the 2.34 the wheels target (trixie has
2.41) and a python3.13 built for the machine, which is what the test exercises: the layer's native code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.packaging.config import ARCHITECTURES, DEFAULT_OUT, PYTHON_VERSION, PackagingError, shorten

EMULATION_DIR = DEFAULT_OUT.parent / "emulation"
SUITE = "trixie"  # Debian 13: its python3 is 3.13, the Lambda runtime's version
PACKAGES = (f"python{PYTHON_VERSION}",)
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEBIAN_ARCHITECTURES = {"arm64": "arm64", "x86_64": "amd64"}
QEMU = {"arm64": "qemu-aarch64-static", "x86_64": "qemu-x86_64-static"}
SETUP_HINT = (
    "apt-get install qemu-user-static debootstrap, then `python -m infra.packaging emulator` (as root); "
    "make rehearse does both"
)

# onnxruntime's CPU detection (the cpuinfo library) parses /proc/cpuinfo for ARM processor entries; under emulation
# it reads the x86_64 host's, finds none and dereferences a null pointer while importing (SIGSEGV). qemu's -L looks
# absolute paths up in the root first, so the root's proc/cpuinfo, describing the Graviton2 cores (Neoverse N1)
# Lambda's arm64 runs on, is what it reads instead.
NEOVERSE_N1 = """processor\t: {index}
BogoMIPS\t: 243.75
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp ssbs
CPU implementer\t: 0x41
CPU architecture: 8
CPU variant\t: 0x3
CPU part\t: 0xd0c
CPU revision\t: 1

"""
CPUINFO = {"arm64": NEOVERSE_N1}
STAMP_VERSION = 1  # bump when the root's recipe changes: an older root is made again


@dataclass(frozen=True)
class EmulationRoot:
    arch: str
    path: Path

    @property
    def python(self) -> Path:
        return self.path / "usr" / "bin" / f"python{PYTHON_VERSION}"

    @property
    def stamp(self) -> Path:
        return self.path / ".aiqleads-root"

    def expected_stamp(self) -> str:
        return f"{SUITE} {DEBIAN_ARCHITECTURES[self.arch]} {' '.join(PACKAGES)} v{STAMP_VERSION}\n"

    def ready(self) -> bool:
        return self.stamp.is_file() and self.stamp.read_text() == self.expected_stamp() and self.python.is_file()


def root_for(arch: str, base: Path = EMULATION_DIR) -> EmulationRoot:
    return EmulationRoot(arch, base / arch)


def interpreter(
    arch: str, base: Path = EMULATION_DIR, which: Callable[[str], str | None] = shutil.which
) -> list[str] | None:
    """The command that runs `arch`'s python3.13 on this host, or None while the emulator or the root is missing."""
    qemu = which(QEMU[arch])
    root = root_for(arch, base)
    if qemu is None or not root.ready():
        return None
    return _command(qemu, root)


def _command(qemu: str, root: EmulationRoot) -> list[str]:
    return [qemu, "-L", str(root.path), str(root.python)]


def cpuinfo(arch: str, cores: int) -> str:
    return "".join(CPUINFO[arch].format(index=index) for index in range(cores)) if arch in CPUINFO else ""


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    print("$ " + " ".join(shorten(part) for part in command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(f"{command[0]} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return result


def create_root(
    arch: str, base: Path = EMULATION_DIR, mirror: str = DEFAULT_MIRROR, native_python: str | None = None
) -> EmulationRoot:
    """Make (or keep, when its stamp matches) the root for `arch` and check its python runs under qemu;
    `native_python`, a python3.13 of this host, compiles the root's standard library faster than the emulator."""
    root = root_for(arch, base)
    if root.ready():
        print(f"{arch}: emulation root {shorten(str(root.path))} is ready")
        return root
    missing = [tool for tool in ("debootstrap", "dpkg-deb", QEMU[arch]) if shutil.which(tool) is None]
    if missing:
        raise PackagingError(f"cannot make the {arch} emulation root: {', '.join(missing)} not found ({SETUP_HINT})")
    if os.geteuid() != 0:
        raise PackagingError("debootstrap must run as root to unpack the emulation root (device nodes, ownership)")
    if root.path.exists():
        shutil.rmtree(root.path)
    root.path.parent.mkdir(parents=True, exist_ok=True)
    debian_arch = DEBIAN_ARCHITECTURES[arch]
    _run(
        [
            "debootstrap",
            "--foreign",
            f"--arch={debian_arch}",
            "--variant=minbase",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(root.path),
            mirror,
        ]
    )
    # --foreign unpacks only the base system and leaves the --include'd packages (python3.13 and what it needs) as
    # downloaded .debs for a second stage inside the root; unpacking them is all an interpreter needs to run.
    archives = root.path / "var" / "cache" / "apt" / "archives"
    for deb in sorted(archives.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root.path)], check=True)
        deb.unlink()
    (root.path / "proc").mkdir(exist_ok=True)
    (root.path / "proc" / "cpuinfo").write_text(cpuinfo(arch, os.cpu_count() or 1))
    if not root.python.is_file():
        raise PackagingError(f"{shorten(str(root.python))} was not unpacked")
    qemu = shutil.which(QEMU[arch]) or QEMU[arch]
    probe = [*_command(qemu, root), "-c", "import platform; print(platform.machine(), platform.python_version())"]
    machine, _, version = _run(probe).stdout.strip().partition(" ")
    if machine != ARCHITECTURES[arch]:
        raise PackagingError(f"the emulation root's python reports machine {machine!r}, not {ARCHITECTURES[arch]}")
    # What Debian's postinst (py3compile) would have done: without it every emulated run compiles the stdlib anew.
    stdlib = root.path / "usr" / "lib" / f"python{PYTHON_VERSION}"
    _run([*([native_python] if native_python else _command(qemu, root)), "-m", "compileall", "-q", str(stdlib)])
    root.stamp.write_text(root.expected_stamp())
    print(f"{arch}: emulation root {shorten(str(root.path))} ready: python {version} on {machine} under {QEMU[arch]}")
    return root
