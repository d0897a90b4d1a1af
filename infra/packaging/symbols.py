"""Stripping the static symbol tables of the layer's native libraries, with a strip tool that can rewrite the
target architecture's ELF files, checking that what the dynamic linker reads is unchanged."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.packaging.config import ARCHITECTURES, PackagingError
from infra.packaging.elf import elf_dynamic, elf_files
from infra.packaging.strip import StripReport

STRIP_SYMBOLS_REASON = "static symbol tables and debug sections of native libraries (strip --strip-unneeded)"


@dataclass(frozen=True)
class StripTool:
    name: str
    path: str


def find_strip_tool(
    arch: str, host_arch: str | None, which: Callable[[str], str | None] = shutil.which
) -> StripTool | None:
    """A `strip` that can rewrite `arch`'s ELF files, or None.

    llvm-strip comes first: one binary handles every ELF machine, so both architectures are stripped by the same
    tool, the one the x86_64 smoke test exercises. Then GNU binutils, which only handle their own target: the
    cross `aarch64-linux-gnu-strip` / `x86_64-linux-gnu-strip`, or the plain `strip` of a host of that
    architecture."""
    machine = ARCHITECTURES[arch]
    candidates = ["llvm-strip", *(f"llvm-strip-{version}" for version in range(20, 13, -1))]
    candidates.append(f"{machine}-linux-gnu-strip")
    if host_arch == arch:
        candidates.append("strip")
    for name in candidates:
        path = which(name)
        if path:
            return StripTool(name, path)
    return None


def strip_symbols(root: Path, report: StripReport, tool: StripTool) -> None:
    """`strip --strip-unneeded` on every ELF file that still has a static symbol table: .symtab and the debug
    sections go; .dynsym, DT_NEEDED and DT_SONAME, which the dynamic linker uses, stay (checked after each file).
    Libraries auditwheel grafted into `*.libs/` directories are left alone: they were rewritten by patchelf, and
    stripping such files has broken them (for numpy.libs' OpenBLAS that is under 1 MB)."""
    for path, info in elf_files(root).items():
        if not info.has_symtab or any(part.endswith(".libs") for part in path.relative_to(root).parts):
            continue
        relative = path.relative_to(root).as_posix()
        before = path.stat().st_size
        result = subprocess.run([tool.path, "--strip-unneeded", str(path)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise PackagingError(f"{tool.name} failed on {relative}: {result.stderr.strip()}")
        after = elf_dynamic(path)
        if after is None or (after.machine, after.needed, after.soname) != (info.machine, info.needed, info.soname):
            raise PackagingError(f"{tool.name} changed the dynamic section of {relative}: not shipping it")
        report.add(STRIP_SYMBOLS_REASON, 1, before - path.stat().st_size)
