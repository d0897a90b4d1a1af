"""The training layer: what the training function imports beyond the deps layer (LightGBM, onnx, onnxmltools,
protobuf, the part of SciPy LightGBM loads), installed from layers/training/requirements.lock, pruned, stripped and
checked like the deps layer, which it is deployed on top of (Layers: [CoreLayer, DepsLayer, TrainingLayer]).

Laid out as Lambda mounts it at /opt: `python/` (on sys.path) and `lib/` (on LD_LIBRARY_PATH), which holds the
OpenMP runtime LightGBM links (`libgomp.so.1`: the LightGBM wheel leaves it to the system, and Lambda's
python3.13 runtime has none; scikit-learn's wheel, in the lock as skl2onnx's dependency, vendors the same GCC
library, and the build takes it from there before scikit-learn goes).

What goes, and why:
- distributions the deps layer ships (numpy, typing-extensions, ...): Lambda extracts the layers into one /opt, the
  training layer's copy would overwrite the deps layer's files; the lock pins both alike (infra/locks.py) and the
  build refuses a version that differs;
- skl2onnx, which onnxmltools 1.16 declares but `onnxmltools.convert.convert_lightgbm` never imports, and what only
  it needs (scikit-learn, joblib, threadpoolctl, cloudpickle); pandas and scikit-learn are optional imports of
  LightGBM, which works without them;
- SciPy's subpackages LightGBM never imports: `import lightgbm` loads scipy's `_lib` and `sparse` (its core only)
  and nothing else; with them goes the OpenBLAS and gfortran scipy.libs vendors, which no module left links;
- onnx's backend test runner and data (onnx.backend) and reference evaluator (onnx.reference), which the export
  never imports (onnxruntime checks the exported model);
- as in the deps layer: test suites, caches, headers, stubs, Cython and C sources, console scripts, the dist-info
  files importlib.metadata does not read (METADATA stays: the pipeline records the versions it trained with), and
  static symbol tables of native libraries.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from infra.locks import stale
from infra.packaging.config import MB, PackagingError
from infra.packaging.distributions import installed_distributions, prune_distributions
from infra.packaging.elf import dedupe_shared_libraries, elf_files, remove_unneeded_vendored_libraries
from infra.packaging.install import pip_command, read_requirements, run_pip
from infra.packaging.strip import STRIP_RULES, StripRules, strip_tree
from infra.packaging.zips import tree_size

if TYPE_CHECKING:
    from infra.packaging.build import BuildOptions

# Declared dependencies the training function never imports (onnxmltools 1.16 requires skl2onnx for its scikit-learn
# converters; convert_lightgbm does not use them).
TRAINING_UNUSED_DISTRIBUTIONS: dict[str, str] = {
    "skl2onnx": "onnxmltools declares it for its scikit-learn converters; convert_lightgbm never imports it",
}
IN_DEPS_LAYER = "in the deps layer, at the same version (Lambda extracts both into /opt: one copy)"

_SCIPY_UNUSED = "SciPy subpackages LightGBM never imports (import lightgbm loads scipy._lib and scipy.sparse only)"
SCIPY_UNUSED_SUBPACKAGES = (
    "cluster",
    "constants",
    "datasets",
    "differentiate",
    "fft",
    "fftpack",
    "integrate",
    "interpolate",
    "io",
    "linalg",
    "misc",
    "ndimage",
    "odr",
    "optimize",
    "signal",
    "spatial",
    "special",
    "stats",
    "sparse/linalg",
    "sparse/csgraph",
)

TRAINING_STRIP_RULES = StripRules(
    remove={
        "bin": STRIP_RULES.remove["bin"],
        "*-stubs": STRIP_RULES.remove["*-stubs"],
        **{f"scipy/{name}": _SCIPY_UNUSED for name in SCIPY_UNUSED_SUBPACKAGES},
        "onnx/backend": "onnx's backend test runner and its test data (nothing imports onnx.backend)",
        "onnx/reference": "onnx's reference evaluator (the export is checked with onnxruntime)",
        "onnx/include": "C++ headers",
        "onnx/*.proto": "the protobuf sources of onnx's generated *_pb2 modules",
        "onnx/*.proto3": "the protobuf sources of onnx's generated *_pb2 modules",
        "google/protobuf/testdata": "protobuf's test data",
    },
)

# The OpenMP runtime lib_lightgbm.so links by this name; Lambda puts /opt/lib on LD_LIBRARY_PATH.
OPENMP_RUNTIME = "libgomp.so.1"
OPENMP_SOURCE = "scikit_learn.libs/libgomp-*.so*"  # auditwheel's renamed copy in the scikit-learn wheel


def install_openmp_runtime(site: Path, lib: Path) -> str:
    """Copy the vendored libgomp to `lib/libgomp.so.1`, where the dynamic linker finds what lib_lightgbm.so needs."""
    found = sorted(site.glob(OPENMP_SOURCE))
    if len(found) != 1:
        raise PackagingError(
            f"the training layer needs {OPENMP_RUNTIME} for LightGBM, and found {len(found)} copies of "
            f"{OPENMP_SOURCE} to take it from (did the lock lose scikit-learn?)"
        )
    lib.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(found[0], lib / OPENMP_RUNTIME)
    (lib / OPENMP_RUNTIME).chmod(0o755)
    return f"lib/{OPENMP_RUNTIME} from the scikit-learn wheel's {found[0].name} (LightGBM's OpenMP runtime)"


def shared_with_deps_layer(site: Path, deps_site: Path) -> dict[str, str]:
    """The distributions the deps layer ships, as exclusions; a different version installed here is an error."""
    deps = installed_distributions(deps_site)
    mine = installed_distributions(site)
    differing = [
        f"{name} {_version(mine[name].dist_info)} here, {_version(deps[name].dist_info)} in the deps layer"
        for name in sorted(set(mine) & set(deps))
        if _version(mine[name].dist_info) != _version(deps[name].dist_info)
    ]
    if differing:
        raise PackagingError(
            "the training layer's lock pins what the deps layer ships at other versions, run `make lock`:\n  "
            + "\n  ".join(differing)
        )
    return dict.fromkeys(deps, IN_DEPS_LAYER)


def _version(dist_info: Path) -> str:
    for line in (dist_info / "METADATA").read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("Version:"):
            return line.partition(":")[2].strip()
        if not line.strip():
            break
    return "?"


def excluded_distributions(shared: Mapping[str, str]) -> dict[str, str]:
    return {**shared, **{str(canonicalize_name(k)): v for k, v in TRAINING_UNUSED_DISTRIBUTIONS.items()}}


def build_training_layer(arch: str, layer: Path, deps_layer: Path, options: BuildOptions) -> list[str]:
    """Install, prune, strip and check the training layer (on top of the built deps layer); notes for the summary."""
    from infra.packaging.build import check_native_files, strip_native_libraries

    site = layer / "python"
    declared = read_requirements(options.training_requirements)
    if problems := stale(options.training_lock, declared):
        raise PackagingError("the training layer's lock is stale, run `make lock`:\n  " + "\n  ".join(problems))
    run_pip(pip_command(arch, site, options.training_lock, options.python))
    before = tree_size(layer)
    notes = [install_openmp_runtime(site, layer / "lib")]
    excluded = excluded_distributions(shared_with_deps_layer(site, deps_layer / "python"))
    removed = prune_distributions(site, declared, excluded, arch)
    report = strip_tree(site, TRAINING_STRIP_RULES)
    dedupe_shared_libraries(site, report)
    remove_unneeded_vendored_libraries(site, report)
    notes.append("training layer: " + strip_native_libraries(arch, site, report, options))
    after = tree_size(layer)
    print(f"{arch}: training layer {before / MB:.1f} MB as installed, {after / MB:.1f} MB stripped")
    for distribution in removed:
        print(f"  - {distribution.name}: {distribution.bytes / MB:.2f} MB ({distribution.reason})")
    for reason, (files, size) in sorted(report.removed.items(), key=lambda item: -item[1][1]):
        print(f"  - {size / MB:6.2f} MB in {files:5d} files: {reason}")
    provided = {path.name for path in elf_files(deps_layer)} | {p.name for p in (layer / "lib").iterdir()}
    check_native_files(arch, layer, provided)
    return notes
