"""The dynamic section of ELF files (DT_NEEDED, DT_SONAME, machine), read without any tool: the check that every
native library of the layer still finds what it links against, and the removal of duplicate library copies."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from infra.packaging.strip import StripReport, remove_path

# Libraries a manylinux wheel may link against without bundling them (PEP 599/600 policy), plus the loader.
SYSTEM_LIBRARIES = frozenset(
    {
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "librt.so.1",
        "libpthread.so.0",
        "libutil.so.1",
        "libnsl.so.1",
        "libresolv.so.2",
        "libcrypt.so.1",
        "libgcc_s.so.1",
        "libstdc++.so.6",
        "libz.so.1",
        "libexpat.so.1",
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
    }
)


@dataclass(frozen=True)
class ElfDynamic:
    machine: int
    needed: tuple[str, ...]
    soname: str | None
    has_symtab: bool = False  # a static symbol table, which the dynamic linker never reads


ELF_MACHINES = {"x86_64": 62, "aarch64": 183}  # e_machine: EM_X86_64, EM_AARCH64
_ELF_MAGIC = b"\x7fELF"
_SHT_SYMTAB = 2
_SHT_DYNAMIC = 6
_DT_NEEDED = 1
_DT_SONAME = 14

_Section = tuple[int, int, int, int]  # sh_type, sh_offset, sh_size, sh_link


def _sections(stream: BinaryIO, header: bytes, endian: str) -> list[_Section]:
    section_offset = struct.unpack_from(endian + "Q", header, 40)[0]
    entry_size, count = struct.unpack_from(endian + "HH", header, 58)
    if section_offset == 0 or count == 0 or entry_size < 64:
        return []
    stream.seek(section_offset)
    table = stream.read(entry_size * count)
    sections = []
    for index in range(count):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, ...
        _, kind, _, _, offset, size, link = struct.unpack_from(endian + "IIQQQQI", table, index * entry_size)
        sections.append((kind, offset, size, link))
    return sections


def _read(stream: BinaryIO, offset: int, size: int) -> bytes:
    stream.seek(offset)
    return stream.read(size)


def _needed_and_soname(entries: bytes, strings: bytes, endian: str) -> tuple[tuple[str, ...], str | None]:
    def string_at(offset: int) -> str:
        end = strings.find(b"\0", offset)
        return strings[offset : end if end >= 0 else len(strings)].decode("utf-8", "replace")

    needed = []
    soname = None
    for position in range(0, len(entries) - 15, 16):
        tag, value = struct.unpack_from(endian + "qQ", entries, position)
        if tag == 0:
            break
        if tag == _DT_NEEDED:
            needed.append(string_at(value))
        elif tag == _DT_SONAME:
            soname = string_at(value)
    return tuple(needed), soname


def elf_dynamic(path: Path) -> ElfDynamic | None:
    """DT_NEEDED and DT_SONAME of a 64-bit ELF file (any machine); None if `path` is not one."""
    with path.open("rb") as stream:
        header = stream.read(64)
        if len(header) < 64 or header[:4] != _ELF_MAGIC or header[4] != 2:  # ELFCLASS64 only
            return None
        endian = "<" if header[5] == 1 else ">"
        machine = struct.unpack_from(endian + "H", header, 18)[0]
        sections = _sections(stream, header, endian)
        has_symtab = any(s[0] == _SHT_SYMTAB for s in sections)
        dynamic = next((s for s in sections if s[0] == _SHT_DYNAMIC), None)
        if dynamic is None or dynamic[3] >= len(sections):
            return ElfDynamic(machine, (), None, has_symtab)
        _, strings_offset, strings_size, _ = sections[dynamic[3]]
        strings = _read(stream, strings_offset, strings_size)
        entries = _read(stream, dynamic[1], dynamic[2])
    needed, soname = _needed_and_soname(entries, strings, endian)
    return ElfDynamic(machine, needed, soname, has_symtab)


def elf_files(root: Path) -> dict[Path, ElfDynamic]:
    found = {}
    for path in sorted(root.rglob("*")):
        if ".so" in path.name and path.is_file() and not path.is_symlink():
            info = elf_dynamic(path)
            if info is not None:
                found[path] = info
    return found


def _is_extension_module(name: str) -> bool:
    return ".cpython-" in name or ".abi3." in name


def dedupe_shared_libraries(root: Path, report: StripReport) -> None:
    """Remove byte-identical copies of a shared library (wheels cannot hold symlinks, so `libx.so`, `libx.so.N`
    and `libx.so.N.M` arrive as three files) that nothing loads: only the names some ELF file lists in DT_NEEDED
    (or the library's own SONAME) are kept."""
    elves = elf_files(root)
    needed = {name for info in elves.values() for name in info.needed}
    groups: dict[tuple[Path, str], list[Path]] = {}
    for path in elves:
        if path.name.startswith("lib") and not _is_extension_module(path.name):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            groups.setdefault((path.parent, digest), []).append(path)
    for paths in groups.values():
        if len(paths) < 2:
            continue
        wanted = [p for p in paths if p.name in needed or p.name == elves[p].soname]
        if not wanted:
            continue
        for path in paths:
            if path not in wanted:
                remove_path(path, report, "duplicate copies of shared libraries no one loads by that name")


VENDORED_UNNEEDED = "libraries auditwheel vendored (*.libs/) that no native file left in the layer links"


def remove_unneeded_vendored_libraries(root: Path, report: StripReport) -> None:
    """Remove the libraries of `*.libs/` directories (grafted into a wheel by auditwheel for its own extension
    modules) that no remaining ELF file names in DT_NEEDED, until none is left: once the modules that linked a
    vendored OpenBLAS are gone, so is it, and then the gfortran only it linked."""
    while True:
        elves = elf_files(root)
        needed = {name for info in elves.values() for name in info.needed}
        unneeded = [
            path
            for path in elves
            if path.parent.name.endswith(".libs") and path.parent.parent == root and path.name not in needed
        ]
        if not unneeded:
            return
        for path in unneeded:
            remove_path(path, report, VENDORED_UNNEEDED)


def unresolved_libraries(root: Path, provided: Iterable[str] = ()) -> list[str]:
    """Each DT_NEEDED that is neither a file in the layer, nor one of `provided` (the files of the layers deployed
    with it), nor a library manylinux lets a wheel assume."""
    elves = elf_files(root)
    present = {path.name for path in root.rglob("*") if path.is_file()} | set(provided)
    problems = []
    for path, info in elves.items():
        for name in info.needed:
            if name not in present and name not in SYSTEM_LIBRARIES:
                problems.append(f"{path.relative_to(root).as_posix()} needs {name}, which is not in the layer")
    return problems
