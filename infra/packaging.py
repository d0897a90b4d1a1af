"""Build the Lambda artifacts (deps layer, core layer, functions) for python3.13 on x86_64 and arm64.

    python -m infra.packaging build [--arch x86_64|arm64|all] [--out build/package]

Per architecture, under `<out>/<arch>/`:

- `deps.zip`: layers/deps/requirements.txt installed by pip for the Lambda platform (`--platform`,
  `--python-version 3.13`, `--only-binary=:all:` let any machine build it), minus what the Lambda runtime
  already provides (the AWS SDK) and what Lambda never runs (caches, tests, stubs, headers, build tooling,
  unused native libraries), see `STRIP_RULES` and `UNUSED_DISTRIBUTIONS`.
- `core.zip`: the `aiqleads` library (`python/aiqleads/`) and the shipped model
  (`model_artifacts/lead_scorer/<version>/`; layers are mounted at /opt, where `aiqleads.scoring.artifact` looks).
- `functions/<name>.zip`: each `functions/<name>/` directory, without caches.

Every zip is deterministic (sorted entries, fixed timestamps and permissions). The build prints each artifact's
unzipped and zipped size and fails if functions + layers exceed Lambda's 250 MB unzipped limit (262,144,000
bytes: Lambda's MB are MiB, and so are the sizes printed here) for any architecture; above the 150 MB goal it
warns. The stripped deps layer must pass a shared-library check (every DT_NEEDED of every ELF file resolves
inside the layer or to a system library) and, when the host can run the architecture, a smoke test that extracts
the zips into an /opt-like directory and scores a lead with the shipped model.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import os
import platform
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
DEPS_REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
CORE_PACKAGE = ROOT / "layers" / "core" / "aiqleads"
MODEL_ROOT = ROOT / "model_artifacts" / "lead_scorer"
FUNCTIONS_DIR = ROOT / "functions"
DEFAULT_OUT = ROOT / "build" / "package"

PYTHON_VERSION = "3.13"
# Lambda architecture name -> the machine name in manylinux platform tags.
ARCHITECTURES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}
# The python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34): any manylinux_2_17 .. manylinux_2_34 wheel runs.
# manylinux2014 (= manylinux_2_17) alone is not enough: onnxruntime >= 1.20 and pyarrow publish manylinux_2_28
# wheels only, and pip does not widen a manylinux_2_x --platform to other glibc versions.
GLIBC_MINORS = range(34, 16, -1)

MB = 1024 * 1024  # Lambda's "250 MB" is 262,144,000 bytes = 250 MiB
LAMBDA_UNZIPPED_LIMIT_MB = 250
GOAL_UNZIPPED_MB = 150

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can store

# Distributions the python3.13 Lambda runtime already ships (the AWS SDK for Python). They are installed while
# resolving (so the layer's other packages are resolved against a current SDK) and then removed together with
# whatever only they needed (urllib3, python-dateutil, six): in Lambda the runtime's own SDK and its dependencies
# are used. `--bundle-sdk` keeps them (about 22 MB unzipped) for a pinned SDK version.
RUNTIME_PROVIDED: dict[str, str] = {
    "boto3": "provided by the Lambda python3.13 runtime",
    "botocore": "provided by the Lambda python3.13 runtime",
    "s3transfer": "provided by the Lambda python3.13 runtime",
}
# Declared dependencies that nothing in the functions' import paths uses.
UNUSED_DISTRIBUTIONS: dict[str, str] = {
    "flatbuffers": "onnxruntime needs it only for its ORT-format tools (onnxruntime/tools, stripped)",
    "protobuf": "onnxruntime needs it only for tools/transformers/quantization (stripped); "
    "Powertools only for its Kafka protobuf deserializer",
    "packaging": "onnxruntime needs it only for onnxruntime/transformers (stripped)",
}

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


class PackagingError(Exception):
    """The build cannot produce correct artifacts; the message says why."""


# ------------------------------------------------------------------------------------------------ pip


def platform_tags(arch: str) -> list[str]:
    """The manylinux platform tags a python3.13 Lambda on `arch` can run, newest first."""
    machine = ARCHITECTURES[arch]
    return [f"manylinux_2_{minor}_{machine}" for minor in GLIBC_MINORS] + [f"manylinux2014_{machine}"]


def pip_command(arch: str, target: Path, requirements: Path | Sequence[str], python: str) -> list[str]:
    """`pip install` of `requirements` (a requirements file or requirement strings) for python3.13 on `arch`."""
    command = [
        python,
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--root-user-action=ignore",
        "--no-compile",  # Lambda's /opt is read-only; .pyc files built here would not match anyway
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        PYTHON_VERSION,
        "--only-binary=:all:",
    ]
    for tag in platform_tags(arch):
        command += ["--platform", tag]
    if isinstance(requirements, Path):
        command += ["-r", str(requirements)]
    else:
        command += list(requirements)
    return command


def run_pip(command: Sequence[str]) -> None:
    print("$ " + " ".join(_shorten(part) for part in command), flush=True)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise PackagingError(f"pip failed (exit {result.returncode}); see its output above")


def _shorten(part: str) -> str:
    try:
        return str(Path(part).relative_to(ROOT)) if os.path.isabs(part) else part
    except ValueError:
        return part


def find_python313() -> str | None:
    """A python3.13 interpreter: pip evaluates environment markers with it, and the smoke test runs on it."""
    candidates = [
        shutil.which("python3.13"),
        *sorted(str(p) for p in Path("~/.pyenv/versions").expanduser().glob("3.13*/bin/python3.13")),
    ]
    if sys.version_info[:2] == (3, 13):
        candidates.insert(0, sys.executable)
    for candidate in candidates:
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.executable); print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = probe.stdout.split()
        if probe.returncode == 0 and len(lines) == 2 and lines[1] == PYTHON_VERSION:
            return lines[0]
    return None


# ------------------------------------------------------------------------------------------------ distributions


@dataclass
class Distribution:
    name: str  # canonical
    dist_info: Path
    requires: list[str]

    def files(self, site: Path) -> list[Path]:
        """The installed files RECORD lists, limited to those inside `site`."""
        record = self.dist_info / "RECORD"
        if not record.is_file():
            return []
        site_resolved = site.resolve()
        found = []
        for line in record.read_text(encoding="utf-8").splitlines():
            relative = line.split(",", 1)[0].strip()
            if not relative:
                continue
            path = (site / relative).resolve()
            if path.is_relative_to(site_resolved) and path.is_file():
                found.append(path)
        return found


def installed_distributions(site: Path) -> dict[str, Distribution]:
    found = {}
    for dist_info in sorted(site.glob("*.dist-info")):
        metadata = dist_info / "METADATA"
        if not metadata.is_file():
            continue
        name = ""
        requires = []
        for line in metadata.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.strip():
                break  # the headers end at the first blank line; the description follows
            key, _, value = line.partition(":")
            if key == "Name":
                name = str(canonicalize_name(value.strip()))
            elif key == "Requires-Dist":
                requires.append(value.strip())
        if name:
            found[name] = Distribution(name, dist_info, requires)
    return found


def marker_environment(arch: str) -> dict[str, str]:
    """Environment markers of the python3.13 Lambda runtime on `arch`."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{PYTHON_VERSION}.0",
        "os_name": "posix",
        "platform_machine": ARCHITECTURES[arch],
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{PYTHON_VERSION}.0",
        "python_version": PYTHON_VERSION,
        "sys_platform": "linux",
    }


def _applies(requirement: Requirement, environment: Mapping[str, str], extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    try:
        return any(requirement.marker.evaluate({**environment, "extra": extra}) for extra in ("", *sorted(extras)))
    except UndefinedEnvironmentName:
        return True


def read_requirements(path: Path) -> list[Requirement]:
    requirements = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            requirements.append(Requirement(line))
        except InvalidRequirement as exc:
            raise PackagingError(f"{path}: {line!r} is not a requirement pip's target mode supports: {exc}") from exc
    return requirements


@dataclass(frozen=True)
class RemovedDistribution:
    name: str
    reason: str
    files: int
    bytes: int


def prune_distributions(
    site: Path, roots: Sequence[Requirement], excluded: Mapping[str, str], arch: str
) -> list[RemovedDistribution]:
    """Remove `excluded` distributions and every distribution only they (or nothing) required.

    The closure is walked from `roots` (with their extras, markers evaluated for the Lambda runtime) without
    entering excluded distributions; anything installed outside it goes, file by file as its RECORD lists.
    """
    installed = installed_distributions(site)
    excluded = {canonicalize_name(name): reason for name, reason in excluded.items()}
    environment = marker_environment(arch)
    needed: dict[str, set[str]] = {}  # name -> the extras asked for
    pending = [r for r in roots if _applies(r, environment, ())]
    while pending:
        requirement = pending.pop()
        name = str(canonicalize_name(requirement.name))
        extras = set(requirement.extras)
        if name in excluded or (name in needed and extras <= needed[name]):
            continue
        needed[name] = needed.get(name, set()) | extras
        distribution = installed.get(name)
        if distribution is not None:
            pending += [
                child for child in map(Requirement, distribution.requires) if _applies(child, environment, needed[name])
            ]
    unneeded = {name: distribution for name, distribution in installed.items() if name not in needed}
    removed = []
    for name, distribution in sorted(unneeded.items()):
        if name in excluded:
            reason = excluded[name]
        else:
            parents = sorted(
                other.name
                for other in unneeded.values()
                if any(
                    canonicalize_name(child.name) == name and _applies(child, environment, ())
                    for child in map(Requirement, other.requires)
                )
            )
            reason = f"only needed by {', '.join(parents) or 'nothing'}"
        files = distribution.files(site)
        size = sum(path.stat().st_size for path in files)
        for path in files:
            path.unlink()
        shutil.rmtree(distribution.dist_info)
        removed.append(RemovedDistribution(name, reason, len(files), size))
    remove_empty_dirs(site)
    return removed


# ------------------------------------------------------------------------------------------------ stripping


# Kept in a .dist-info directory: what importlib.metadata reads at run time (version(), entry_points(),
# packages_distributions()) and the licenses. RECORD, INSTALLER, REQUESTED, WHEEL, direct_url.json go.
DIST_INFO_KEEP = ("METADATA", "entry_points.txt", "top_level.txt", "LICENSE*", "LICENCE*", "COPYING*", "NOTICE*")
DIST_INFO_KEEP_DIRS = ("licenses",)


@dataclass(frozen=True)
class StripRules:
    """What the deps layer does not need in Lambda. Paths are relative to the layer's `python/` directory."""

    cache_dir_names: frozenset[str] = frozenset({"__pycache__"})
    cache_suffixes: tuple[str, ...] = (".pyc", ".pyo")
    test_dir_names: frozenset[str] = frozenset({"tests", "test"})
    test_file_names: frozenset[str] = frozenset({"conftest.py"})
    # type stubs, Cython sources and declarations, C/C++ headers and sources, static libraries
    source_suffixes: tuple[str, ...] = (".pyi", ".pyx", ".pxd", ".pxi", ".h", ".hpp", ".c", ".cc", ".cpp", ".a")
    # glob (matched against the relative posix path of files and directories) -> why it can go
    remove: Mapping[str, str] = field(default_factory=dict)
    # glob -> why it must stay; a kept path and everything under it survive every rule except the cache rules
    keep: Mapping[str, str] = field(default_factory=dict)


_PYARROW_FILESYSTEMS = "pyarrow's Azure, GCS and HDFS filesystems (pyarrow.fs imports each only if present)"
_PYARROW_FORMATS = "ORC, Feather and Substrait support (pyarrow.orc/.feather/.substrait: nothing imports them)"
_PARQUET_ENCRYPTION = "Parquet modular encryption (pyarrow.parquet.encryption: nothing imports it)"
_NUMPY_TEST_MODULES = "numpy's compiled test helpers and SIMD test bindings (only numpy's own tests import them)"

STRIP_RULES = StripRules(
    remove={
        "bin": "console scripts (Lambda runs none)",
        "*-stubs": "stub-only packages",
        "numpy/_core/include": "C headers (numpy.get_include, for building extensions)",
        "numpy/_core/lib": "static npymath library and pkg-config files (for building extensions)",
        "numpy/random/lib": "static npyrandom library (for building extensions)",
        "numpy/f2py": "the Fortran-to-Python build tool (numpy imports it only when np.f2py is accessed)",
        "numpy/_pyinstaller": "PyInstaller hooks",
        "numpy/_core/_*_tests.*.so": _NUMPY_TEST_MODULES,
        "numpy/_core/_simd.*.so": _NUMPY_TEST_MODULES,
        "pyarrow/include": "C++ headers",
        "pyarrow/includes": "Cython declarations",
        "pyarrow/src": "C++ sources of libarrow_python",
        "pyarrow/libarrow_flight.so*": "Arrow Flight RPC (pyarrow.flight is imported only on request)",
        "pyarrow/libarrow_python_flight.so*": "Arrow Flight RPC",
        "pyarrow/_flight.*.so": "Arrow Flight RPC",
        "pyarrow/flight.py": "Arrow Flight RPC",
        "pyarrow/libarrow_s3.so*": "pyarrow's own S3 filesystem (pyarrow.fs imports it optionally; we use boto3)",
        "pyarrow/_s3fs.*.so": "pyarrow's own S3 filesystem",
        "pyarrow/_pyarrow_cpp_tests.*.so": "pyarrow's C++ test bindings",
        # Optional pyarrow modules: no DT_NEEDED names them (the shared-library check proves it), and pyarrow
        # imports them only on request or inside `try: ... except ImportError` (pyarrow.fs, pyarrow.dataset).
        "pyarrow/_azurefs.*.so": _PYARROW_FILESYSTEMS,
        "pyarrow/_gcsfs.*.so": _PYARROW_FILESYSTEMS,
        "pyarrow/_hdfs.*.so": _PYARROW_FILESYSTEMS,
        "pyarrow/_orc.*.so": _PYARROW_FORMATS,
        "pyarrow/_dataset_orc.*.so": _PYARROW_FORMATS,
        "pyarrow/orc.py": _PYARROW_FORMATS,
        "pyarrow/_feather.*.so": _PYARROW_FORMATS,
        "pyarrow/feather.py": _PYARROW_FORMATS,
        "pyarrow/_substrait.*.so": _PYARROW_FORMATS,
        "pyarrow/substrait.py": _PYARROW_FORMATS,
        "pyarrow/_parquet_encryption.*.so": _PARQUET_ENCRYPTION,
        "pyarrow/_dataset_parquet_encryption.*.so": _PARQUET_ENCRYPTION,
        "pyarrow/libarrow_python_parquet_encryption.so*": _PARQUET_ENCRYPTION,
        "pyarrow/parquet/encryption.py": _PARQUET_ENCRYPTION,
        "onnxruntime/capi/libonnxruntime.so*": "the C API library for native callers; the Python binding "
        "(onnxruntime_pybind11_state) links the runtime statically and never loads it",
        "onnxruntime/tools": "model conversion and ORT-format tools",
        "onnxruntime/transformers": "transformer model optimisation tools",
        "onnxruntime/quantization": "model quantization tools",
        "onnxruntime/datasets": "example models",
        "onnxruntime/backend": "the ONNX backend-test adapter (needs the onnx package)",
    },
    keep={
        "numpy/testing": "public numpy module, imported by numpy code paths at run time (np.testing)",
    },
)


@dataclass
class StripReport:
    """Files and bytes removed, by reason."""

    removed: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, reason: str, files: int, size: int) -> None:
        count, total = self.removed.get(reason, (0, 0))
        self.removed[reason] = (count + files, total + size)

    @property
    def bytes(self) -> int:
        return sum(size for _, size in self.removed.values())


def _matches(relative: str, patterns: Iterable[str]) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(relative, pattern):
            return pattern
    return None


def _is_kept(relative: str, keep: Iterable[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(_matches(prefix, keep) for prefix in prefixes)


def _remove(path: Path, report: StripReport, reason: str) -> None:
    if path.is_dir() and not path.is_symlink():
        files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
        report.add(reason, len(files), sum(p.stat().st_size for p in files))
        shutil.rmtree(path)
    else:
        report.add(reason, 1, path.lstat().st_size)
        path.unlink()


def strip_tree(site: Path, rules: StripRules = STRIP_RULES) -> StripReport:
    """Remove from `site` (a layer's python/ directory) everything `rules` says Lambda does not need."""
    report = StripReport()
    for directory, dir_names, file_names in os.walk(site, topdown=True):
        here = Path(directory)
        relative_dir = here.relative_to(site).as_posix()
        in_dist_info = here.parent == site and here.name.endswith(".dist-info")
        for name in sorted(dir_names):
            path = here / name
            relative = f"{relative_dir}/{name}" if relative_dir != "." else name
            reason = None
            if name in rules.cache_dir_names:
                reason = "caches (__pycache__, *.pyc)"
            elif _is_kept(relative, rules.keep):
                continue
            elif in_dist_info and name not in DIST_INFO_KEEP_DIRS:
                reason = "dist-info files importlib.metadata does not read (RECORD, WHEEL, ...)"
            elif name in rules.test_dir_names:
                reason = "test suites (tests/, test/, conftest.py)"
            elif pattern := _matches(relative, rules.remove):
                reason = rules.remove[pattern]
            if reason is not None:
                _remove(path, report, reason)
                dir_names.remove(name)
        for name in sorted(file_names):
            path = here / name
            relative = f"{relative_dir}/{name}" if relative_dir != "." else name
            reason = None
            if name.endswith(rules.cache_suffixes):
                reason = "caches (__pycache__, *.pyc)"
            elif _is_kept(relative, rules.keep):
                continue
            elif in_dist_info and not _matches(name, DIST_INFO_KEEP):
                reason = "dist-info files importlib.metadata does not read (RECORD, WHEEL, ...)"
            elif name in rules.test_file_names:
                reason = "test suites (tests/, test/, conftest.py)"
            elif name.endswith(rules.source_suffixes):
                reason = "stubs, headers, Cython and C sources, static libraries (*.pyi, *.h, *.pyx, *.a, ...)"
            elif pattern := _matches(relative, rules.remove):
                reason = rules.remove[pattern]
            if reason is not None:
                _remove(path, report, reason)
    remove_empty_dirs(site)
    return report


def remove_empty_dirs(root: Path) -> None:
    for directory, _, _ in os.walk(root, topdown=False):  # children first
        path = Path(directory)
        if path != root and not any(path.iterdir()):
            path.rmdir()


# ------------------------------------------------------------------------------------------------ ELF


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


def elf_dynamic(path: Path) -> ElfDynamic | None:
    """DT_NEEDED and DT_SONAME of a 64-bit ELF file (any machine); None if `path` is not one."""
    with path.open("rb") as stream:
        header = stream.read(64)
        if len(header) < 64 or header[:4] != _ELF_MAGIC or header[4] != 2:  # ELFCLASS64 only
            return None
        endian = "<" if header[5] == 1 else ">"
        machine = struct.unpack_from(endian + "H", header, 18)[0]
        section_offset = struct.unpack_from(endian + "Q", header, 40)[0]
        entry_size, count = struct.unpack_from(endian + "HH", header, 58)
        if section_offset == 0 or count == 0 or entry_size < 64:
            return ElfDynamic(machine, (), None)
        stream.seek(section_offset)
        table = stream.read(entry_size * count)
        sections = []
        for index in range(count):
            # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, ...
            _, kind, _, _, offset, size, link = struct.unpack_from(endian + "IIQQQQI", table, index * entry_size)
            sections.append((kind, offset, size, link))
        has_symtab = any(s[0] == _SHT_SYMTAB for s in sections)
        dynamic = next((s for s in sections if s[0] == _SHT_DYNAMIC), None)
        if dynamic is None or dynamic[3] >= len(sections):
            return ElfDynamic(machine, (), None, has_symtab)
        _, strings_offset, strings_size, _ = sections[dynamic[3]]
        stream.seek(strings_offset)
        strings = stream.read(strings_size)
        stream.seek(dynamic[1])
        entries = stream.read(dynamic[2])

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
    return ElfDynamic(machine, tuple(needed), soname, has_symtab)


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
                _remove(path, report, "duplicate copies of shared libraries no one loads by that name")


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


def unresolved_libraries(root: Path) -> list[str]:
    """Each DT_NEEDED that is neither a file in the layer nor a library manylinux lets a wheel assume."""
    elves = elf_files(root)
    present = {path.name for path in root.rglob("*") if path.is_file()}
    problems = []
    for path, info in elves.items():
        for name in info.needed:
            if name not in present and name not in SYSTEM_LIBRARIES:
                problems.append(f"{path.relative_to(root).as_posix()} needs {name}, which is not in the layer")
    return problems


# ------------------------------------------------------------------------------------------------ trees and zips


def tree_size(root: Path) -> int:
    """Bytes of all regular files under `root` (what Lambda counts as unzipped size)."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def _zip_entries(source: Path) -> Iterator[tuple[str, Path]]:
    files = (path for path in source.rglob("*") if path.is_file())
    yield from sorted(((path.relative_to(source).as_posix(), path) for path in files), key=lambda item: item[0])


def write_zip(source: Path, destination: Path) -> None:
    """Zip the files under `source` (paths relative to it) reproducibly: sorted entries, fixed timestamps,
    permissions normalised to 0644 or 0755, Unix attributes, deflate, no directory entries."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in _zip_entries(source):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so Lambda applies the permission bits
            mode = 0o755 if path.stat().st_mode & 0o111 else 0o644
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as reader, archive.open(info, "w") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
    partial.replace(destination)


def zip_unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as archive:
        return sum(info.file_size for info in archive.infolist())


def copy_tree(source: Path, destination: Path, ignore_names: Iterable[str]) -> None:
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(*ignore_names), dirs_exist_ok=True)


CACHE_PATTERNS = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".DS_Store")


# ------------------------------------------------------------------------------------------------ sizes and limits


@dataclass(frozen=True)
class Artifact:
    name: str
    zip_path: Path
    unzipped: int
    zipped: int


@dataclass
class ArchitectureBuild:
    arch: str
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unzipped(self) -> int:
        return sum(artifact.unzipped for artifact in self.artifacts)

    @property
    def zipped(self) -> int:
        return sum(artifact.zipped for artifact in self.artifacts)


def artifact_for(name: str, zip_path: Path) -> Artifact:
    return Artifact(name, zip_path, zip_unzipped_size(zip_path), zip_path.stat().st_size)


def check_limits(
    builds: Sequence[ArchitectureBuild],
    limit_mb: float = LAMBDA_UNZIPPED_LIMIT_MB,
    goal_mb: float = GOAL_UNZIPPED_MB,
) -> tuple[list[str], list[str]]:
    """(errors, warnings): functions + layers above Lambda's unzipped limit, or above the size goal.

    Every function and both layers are added up, which bounds what any one function deploys with its layers
    (Lambda's limit applies per function: its code plus all its layers)."""
    errors, warnings = [], []
    for build in builds:
        total = build.unzipped / MB
        if total > limit_mb:
            errors.append(
                f"{build.arch}: functions + layers are {total:.1f} MB unzipped, above Lambda's {limit_mb:g} MB limit"
            )
        elif total > goal_mb:
            warnings.append(
                f"{build.arch}: functions + layers are {total:.1f} MB unzipped, above the {goal_mb:g} MB goal"
            )
    return errors, warnings


def size_table(builds: Sequence[ArchitectureBuild]) -> str:
    rows = [("arch", "artifact", "unzipped MB", "zipped MB")]
    for build in builds:
        for artifact in build.artifacts:
            rows.append((build.arch, artifact.name, f"{artifact.unzipped / MB:.1f}", f"{artifact.zipped / MB:.1f}"))
        rows.append(
            (build.arch, "TOTAL (functions + layers)", f"{build.unzipped / MB:.1f}", f"{build.zipped / MB:.1f}")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3].rjust(widths[3])]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ the build


@dataclass(frozen=True)
class BuildOptions:
    out: Path
    python: str
    model_version: str
    bundle_sdk: bool = False
    strip_symbols: bool = True  # strip --strip-unneeded native libraries, if a strip for the arch is found
    smoke_test: bool = True
    requirements: Path = DEPS_REQUIREMENTS
    functions_dir: Path = FUNCTIONS_DIR


def build_deps_layer(arch: str, layer: Path, options: BuildOptions) -> list[str]:
    """Install, prune, strip and check the deps layer; returns notes for the summary."""
    notes = []
    site = layer / "python"
    run_pip(pip_command(arch, site, options.requirements, options.python))
    before = tree_size(site)
    excluded = dict(UNUSED_DISTRIBUTIONS)
    if not options.bundle_sdk:
        excluded.update(RUNTIME_PROVIDED)
    removed = prune_distributions(site, read_requirements(options.requirements), excluded, arch)
    report = strip_tree(site)
    dedupe_shared_libraries(site, report)
    if not options.strip_symbols:
        notes.append("native libraries not stripped (--no-strip-symbols)")
    elif (tool := find_strip_tool(arch, host_architecture())) is None:
        notes.append(
            f"native libraries not stripped: no llvm-strip or {ARCHITECTURES[arch]}-linux-gnu-strip on PATH "
            "(install llvm or binutils-aarch64-linux-gnu; stripping saves about 20 MB)"
        )
    else:
        strip_symbols(site, report, tool)
        notes.append(f"native libraries stripped with {tool.name} --strip-unneeded")
    after = tree_size(site)
    print(f"{arch}: deps layer {before / MB:.1f} MB as installed, {after / MB:.1f} MB stripped")
    for distribution in removed:
        print(f"  - {distribution.name}: {distribution.bytes / MB:.2f} MB ({distribution.reason})")
    for reason, (files, size) in sorted(report.removed.items(), key=lambda item: -item[1][1]):
        print(f"  - {size / MB:6.2f} MB in {files:5d} files: {reason}")
    problems = unresolved_libraries(site)
    if problems:
        raise PackagingError(f"{arch}: stripping broke shared-library links:\n  " + "\n  ".join(problems))
    wrong_machine = {
        path.relative_to(site).as_posix()
        for path, info in elf_files(site).items()
        if info.machine != ELF_MACHINES[ARCHITECTURES[arch]]
    }
    if wrong_machine:
        raise PackagingError(f"{arch}: native files for another machine: {sorted(wrong_machine)[:5]}")
    return notes


def build_core_layer(layer: Path, model_version: str) -> None:
    copy_tree(CORE_PACKAGE, layer / "python" / "aiqleads", (*CACHE_PATTERNS, "tests", "test", "conftest.py"))
    model = MODEL_ROOT / model_version
    if not (model / "manifest.json").is_file():
        raise PackagingError(f"no model {model_version} at {model.relative_to(ROOT)}: run `make model`")
    shipped = layer / "model_artifacts" / MODEL_ROOT.name
    copy_tree(model, shipped / model_version, CACHE_PATTERNS)
    (shipped / "PRODUCTION").write_text(model_version + "\n")


def host_architecture() -> str | None:
    """The Lambda architecture name of this machine, if it is one."""
    machines = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
    return machines.get(platform.machine().lower())


def function_dirs(functions_dir: Path) -> list[Path]:
    if not functions_dir.is_dir():
        return []
    return sorted(
        path
        for path in functions_dir.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_")) and path.name not in CACHE_PATTERNS
    )


def build_architecture(arch: str, options: BuildOptions) -> ArchitectureBuild:
    work = options.out / arch
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    build = ArchitectureBuild(arch)

    build.notes += build_deps_layer(arch, work / "deps", options)
    write_zip(work / "deps", work / "deps.zip")
    build.artifacts.append(artifact_for("deps.zip (DepsLayer)", work / "deps.zip"))

    build_core_layer(work / "core", options.model_version)
    write_zip(work / "core", work / "core.zip")
    build.artifacts.append(artifact_for("core.zip (CoreLayer)", work / "core.zip"))

    functions = function_dirs(options.functions_dir)
    if not functions:
        build.notes.append(f"no function directories under {_shorten(str(options.functions_dir))}/: none packaged")
    for source in functions:
        staged = work / "functions" / source.name
        copy_tree(source, staged, CACHE_PATTERNS)
        requirements = staged / "requirements.txt"
        if requirements.is_file() and read_requirements(requirements):
            build.notes.append(
                f"warning: functions/{source.name}/requirements.txt is not installed; "
                "runtime dependencies belong in layers/deps/requirements.txt"
            )
        write_zip(staged, work / "functions" / f"{source.name}.zip")
        build.artifacts.append(artifact_for(f"functions/{source.name}.zip", work / "functions" / f"{source.name}.zip"))

    host = host_architecture()
    if not options.smoke_test:
        build.notes.append("smoke test skipped (--no-smoke-test)")
    elif host != arch:
        build.notes.append(
            f"smoke test skipped: the host is {platform.machine()}, it cannot run {arch} binaries "
            "(the shared-library check ran; the same strip rules are smoke-tested on x86_64)"
        )
    else:
        build.notes.append(smoke_test(work, options))
    return build


# ------------------------------------------------------------------------------------------------ smoke test

SMOKE_SCRIPT = textwrap.dedent(
    """
    import json, os, sys, tempfile
    from pathlib import Path
    opt = os.path.realpath(sys.argv[1])
    import numpy, onnxruntime, pydantic, pyarrow, pyarrow.compute, pyarrow.csv, pyarrow.parquet
    import pyarrow.dataset, pyarrow.fs, pyarrow.json  # still import with the optional pyarrow modules stripped
    import aws_lambda_powertools, aws_xray_sdk.core
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver
    from aws_lambda_powertools.shared.version import VERSION as powertools_version
    from aws_lambda_powertools.utilities.data_classes import S3Event, SQSEvent
    import aiqleads
    from aiqleads.scoring.artifact import ModelArtifact, default_model_dir
    from aiqleads.files.score_file import score_file
    from aiqleads_offline.generate import generate_file
    from aiqleads.models import Lead
    from aiqleads.scoring.scorer import Scorer

    modules = [numpy, onnxruntime, pydantic, pyarrow, aws_lambda_powertools, aws_xray_sdk, aiqleads]
    outside = [m.__name__ for m in modules if not os.path.realpath(m.__file__).startswith(opt)]
    assert not outside, f"imported from outside the layers: {outside}"
    Logger(service="smoke"); Metrics(namespace="smoke"); Tracer(service="smoke"); APIGatewayRestResolver()
    numpy.linalg.inv(numpy.eye(3))  # loads the bundled OpenBLAS
    numpy.random.default_rng(0).random(3)

    model_dir = default_model_dir()  # no AIQLEADS_MODEL_DIR: found by searching, as /opt/model_artifacts/...
    assert os.path.realpath(model_dir).startswith(opt), f"model found outside the layer: {model_dir}"
    scorer = Scorer(ModelArtifact.open(model_dir))
    lead = Lead.model_validate({
        "id": "smoke-1", "source": "referral", "contact": {"email": "ana@example.com"},
        "property": {"type": "condo", "price": 425000, "market": "las-vegas"},
        "intent": "sell", "timeline": "asap", "description": "Motivated seller, relocating",
    })
    score = scorer.score_lead(lead, {"inquiries": 4, "messages": 3})

    bulk = {}
    with tempfile.TemporaryDirectory() as scratch:  # the bulk path: every input and output format
        for source, output in (("csv", "parquet"), ("parquet", "jsonl"), ("jsonl", "csv")):
            leads = Path(scratch) / f"leads.{source}"
            generate_file(1000, 7, leads, leads_only=True)
            report = score_file(leads, Path(scratch) / f"leads.scored.{output}", scorer, progress=False)
            assert report.rows == 1000 and report.scored > 900 and report.output.stat().st_size > 0, report
            bulk[f"{source}->{output}"] = f"{report.scored}/{report.rows} scored"
        scored = pyarrow.parquet.ParquetFile(Path(scratch) / "leads.scored.parquet").read()
        assert scored.num_rows == int(bulk["csv->parquet"].split("/")[0])
    try:
        import boto3
        sdk = f"boto3 {boto3.__version__} from {os.path.dirname(os.path.dirname(boto3.__file__))}"
    except ImportError:
        sdk = None
    print(json.dumps({
        "lead": {"probability": round(score.probability, 6), "score": score.score, "grade": score.grade,
                 "model_version": score.model_version},
        "bulk": bulk,
        "versions": {"numpy": numpy.__version__, "onnxruntime": onnxruntime.__version__,
                     "pyarrow": pyarrow.__version__, "pydantic": pydantic.__version__,
                     "powertools": powertools_version},
        "sdk": sdk,
    }))
    """
)


def runtime_sdk(options: BuildOptions, arch: str) -> Path | None:
    """A stand-in for the SDK the Lambda runtime provides (boto3 and its dependencies), outside every artifact."""
    if options.bundle_sdk:
        return None
    wanted = [str(r) for r in read_requirements(options.requirements) if canonicalize_name(r.name) in RUNTIME_PROVIDED]
    if not wanted:
        return None
    target = options.out / "lambda-runtime-sdk" / arch
    stamp = target / ".requirements"
    if not (stamp.is_file() and stamp.read_text() == "\n".join(wanted)):
        if target.exists():
            shutil.rmtree(target)
        run_pip(pip_command(arch, target, wanted, options.python))
        stamp.write_text("\n".join(wanted))
    return target


def smoke_test(work: Path, options: BuildOptions) -> str:
    """Extract the layers as Lambda does (into one /opt-like directory) and score a lead there."""
    arch = work.name
    sdk = runtime_sdk(options, arch)
    with tempfile.TemporaryDirectory(prefix="aiqleads-opt-") as scratch:
        opt = Path(scratch) / "opt"
        for layer in ("deps.zip", "core.zip"):
            with zipfile.ZipFile(work / layer) as archive:
                archive.extractall(opt)
        paths = [str(opt / "python")] + ([str(sdk)] if sdk else [])
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "smoke",
        }
        print(f"{arch}: smoke test with {options.python} on the extracted layers", flush=True)
        result = subprocess.run(
            [options.python, "-s", "-c", SMOKE_SCRIPT, str(opt)],
            cwd=scratch,  # not the repository, so the model must come from the layer
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PackagingError(f"{arch}: smoke test failed:\n{result.stdout}{result.stderr}")
        imported = []
        for function_zip in sorted((work / "functions").glob("*.zip")):
            # Lambda extracts the function to /var/task, first on sys.path, and imports handler.handler from it
            task = Path(scratch) / "task" / function_zip.stem
            with zipfile.ZipFile(function_zip) as archive:
                archive.extractall(task)
            if not (task / "handler.py").is_file():
                raise PackagingError(f"{arch}: functions/{function_zip.stem} has no handler.py")
            loaded = subprocess.run(
                [options.python, "-s", "-c", HANDLER_SCRIPT],
                cwd=task,
                env={
                    **environment,
                    **LAMBDA_ENVIRONMENT,
                    "PYTHONPATH": os.pathsep.join([str(task), *paths]),
                    "LAMBDA_TASK_ROOT": str(task),
                },
                capture_output=True,
                text=True,
                check=False,
            )
            if loaded.returncode != 0:
                raise PackagingError(
                    f"{arch}: functions/{function_zip.stem}: handler.handler does not import with the layers:\n"
                    f"{loaded.stdout}{loaded.stderr}"
                )
            imported.append(function_zip.stem)
    note = f"smoke test passed: {result.stdout.strip()}"
    if imported:
        note += f"\n{arch}: handler.handler imports with the layers for: {', '.join(imported)}"
    return note


# What Lambda sets that an import-time configuration may read (no credentials: nothing may call AWS at import).
LAMBDA_ENVIRONMENT = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
HANDLER_SCRIPT = "import handler; assert callable(handler.handler), 'handler.handler is not callable'"


# ------------------------------------------------------------------------------------------------ command line


def default_model_version() -> str:
    alias = MODEL_ROOT / "PRODUCTION"
    return alias.read_text().strip() if alias.is_file() else "1.0.0"


def build(arches: Sequence[str], options: BuildOptions) -> int:
    builds = []
    try:
        for arch in arches:
            builds.append(build_architecture(arch, options))
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print()
    print(size_table(builds))
    print()
    for one in builds:
        for note in one.notes:
            print(f"{one.arch}: {note}")
    errors, warnings = check_limits(builds)
    for warning in warnings:
        print(f"warning: {warning}")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    print(f"artifacts in {_shorten(str(options.out))}/<arch>/")
    return 1 if errors else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.packaging", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_command = commands.add_parser("build", help="build the layers and functions and report their sizes")
    build_command.add_argument("--arch", choices=[*ARCHITECTURES, "all"], default="all")
    build_command.add_argument("--out", type=Path, default=DEFAULT_OUT)
    build_command.add_argument("--model-version", default=None, help="default: model_artifacts/lead_scorer/PRODUCTION")
    build_command.add_argument(
        "--python",
        default=None,
        help="interpreter that runs pip and the smoke test (default: a python3.13 if one is found, else this one)",
    )
    build_command.add_argument(
        "--bundle-sdk",
        action="store_true",
        help="keep boto3/botocore/s3transfer and their dependencies in the deps layer (about +22 MB)",
    )
    build_command.add_argument(
        "--no-strip-symbols",
        dest="strip_symbols",
        action="store_false",
        help="keep the static symbol tables of native libraries (by default they are stripped when a strip tool "
        "for the architecture is on PATH: llvm-strip, or GNU binutils for that target)",
    )
    build_command.add_argument("--no-smoke-test", dest="smoke_test", action="store_false")
    args = parser.parse_args(argv)

    python = args.python or find_python313()
    smoke = args.smoke_test
    if python is None:
        python = sys.executable
        print(
            f"note: no python{PYTHON_VERSION} found; pip runs on {sys.executable} (environment markers are evaluated "
            f"for Python {platform.python_version()}) and the smoke test is skipped"
        )
        smoke = False
    options = BuildOptions(
        out=args.out.resolve(),
        python=python,
        model_version=args.model_version or default_model_version(),
        bundle_sdk=args.bundle_sdk,
        strip_symbols=args.strip_symbols,
        smoke_test=smoke,
    )
    arches = list(ARCHITECTURES) if args.arch == "all" else [args.arch]
    return build(arches, options)


if __name__ == "__main__":
    sys.exit(main())
