"""What Lambda never runs in a layer (caches, tests, stubs, headers, build tooling, unused native modules)
and the walk that removes it, counting files and bytes by reason."""

from __future__ import annotations

import fnmatch
import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

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
        # numpy/f2py stays: numpy's __all__ names it, so `from numpy import *` imports it (scipy's array_api_compat
        # does, under `import lightgbm` in the training layer), and fails without it.
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


CACHES = "caches (__pycache__, *.pyc)"
DIST_INFO_UNREAD = "dist-info files importlib.metadata does not read (RECORD, WHEEL, ...)"
TEST_SUITES = "test suites (tests/, test/, conftest.py)"
SOURCES = "stubs, headers, Cython and C sources, static libraries (*.pyi, *.h, *.pyx, *.a, ...)"


def _matches(relative: str, patterns: Iterable[str]) -> str | None:
    for pattern in patterns:
        if fnmatch.fnmatchcase(relative, pattern):
            return pattern
    return None


def _is_kept(relative: str, keep: Iterable[str]) -> bool:
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(_matches(prefix, keep) for prefix in prefixes)


def remove_path(path: Path, report: StripReport, reason: str) -> None:
    """Delete a file or a whole directory, counted in `report` under `reason`."""
    if path.is_dir() and not path.is_symlink():
        files = [p for p in path.rglob("*") if p.is_file() and not p.is_symlink()]
        report.add(reason, len(files), sum(p.stat().st_size for p in files))
        shutil.rmtree(path)
    else:
        report.add(reason, 1, path.lstat().st_size)
        path.unlink()


def _directory_reason(name: str, relative: str, in_dist_info: bool, rules: StripRules) -> str | None:
    if name in rules.cache_dir_names:
        return CACHES
    if _is_kept(relative, rules.keep):
        return None
    if in_dist_info and name not in DIST_INFO_KEEP_DIRS:
        return DIST_INFO_UNREAD
    if pattern := _matches(relative, rules.remove):  # before the generic rules: its reason is the one reported
        return rules.remove[pattern]
    return TEST_SUITES if name in rules.test_dir_names else None


def _file_reason(name: str, relative: str, in_dist_info: bool, rules: StripRules) -> str | None:
    if name.endswith(rules.cache_suffixes):
        return CACHES
    if _is_kept(relative, rules.keep):
        return None
    if in_dist_info and not _matches(name, DIST_INFO_KEEP):
        return DIST_INFO_UNREAD
    if pattern := _matches(relative, rules.remove):
        return rules.remove[pattern]
    if name in rules.test_file_names:
        return TEST_SUITES
    return SOURCES if name.endswith(rules.source_suffixes) else None


def strip_tree(site: Path, rules: StripRules = STRIP_RULES) -> StripReport:
    """Remove from `site` (a layer's python/ directory) everything `rules` says Lambda does not need."""
    report = StripReport()
    for directory, dir_names, file_names in os.walk(site, topdown=True):
        here = Path(directory)
        relative_dir = here.relative_to(site).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        in_dist_info = here.parent == site and here.name.endswith(".dist-info")
        for name in sorted(dir_names):
            if (reason := _directory_reason(name, prefix + name, in_dist_info, rules)) is not None:
                remove_path(here / name, report, reason)
                dir_names.remove(name)  # os.walk must not descend into it
        for name in sorted(file_names):
            if (reason := _file_reason(name, prefix + name, in_dist_info, rules)) is not None:
                remove_path(here / name, report, reason)
    remove_empty_dirs(site)
    return report


def remove_empty_dirs(root: Path) -> None:
    for directory, _, _ in os.walk(root, topdown=False):  # children first
        path = Path(directory)
        if path != root and not any(path.iterdir()):
            path.rmdir()
