"""One architecture's build: the deps layer (installed, pruned, stripped, checked), the training layer on top of
it (infra/packaging/training.py), the core layer, one zip per function, their sizes with the layers each function
deploys with (template.yaml), and the smoke test when this host can run that architecture."""

from __future__ import annotations

import ast
import platform
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.locks import stale
from infra.packaging import emulation
from infra.packaging.config import (
    ARCHITECTURES,
    CORE_PACKAGE,
    DEPS_LOCK,
    DEPS_REQUIREMENTS,
    FUNCTIONS_DIR,
    MB,
    MODEL_ROOT,
    OPENAPI_DOCUMENT,
    ROOT,
    TEMPLATE,
    TRAINING_LOCK,
    TRAINING_REQUIREMENTS,
    PackagingError,
    shorten,
)
from infra.packaging.distributions import SDK_DISTRIBUTIONS, UNUSED_DISTRIBUTIONS, prune_distributions
from infra.packaging.elf import ELF_MACHINES, dedupe_shared_libraries, elf_files, unresolved_libraries
from infra.packaging.install import pip_command, read_requirements, run_pip
from infra.packaging.layer_sets import FunctionLayers, function_layers, layers_for
from infra.packaging.report import ArchitectureBuild, artifact_for
from infra.packaging.smoke_runner import Interpreter, runtime_sdk, smoke_test
from infra.packaging.strip import StripReport, strip_tree
from infra.packaging.symbols import find_strip_tool, strip_symbols
from infra.packaging.training import build_training_layer
from infra.packaging.zips import CACHE_PATTERNS, copy_tree, tree_size, write_zip


@dataclass(frozen=True)
class BuildOptions:
    out: Path
    python: str
    model_version: str
    bundle_sdk: bool = True  # the locked SDK in the deps layer; False: the runtime's (--runtime-sdk)
    strip_symbols: bool = True  # strip --strip-unneeded native libraries, if a strip for the arch is found
    smoke_test: bool = True
    require_smoke_test: bool = False  # an architecture that cannot be smoke-tested here fails the build
    requirements: Path = DEPS_REQUIREMENTS  # what the layer declares: the roots of the distributions it keeps
    lock: Path = DEPS_LOCK  # what pip installs: `requirements` pinned with hashes
    functions_dir: Path = FUNCTIONS_DIR
    training_requirements: Path = TRAINING_REQUIREMENTS  # the training layer's, as `requirements` for deps
    training_lock: Path = TRAINING_LOCK
    template: Path = TEMPLATE  # which layers each function deploys with


def host_architecture() -> str | None:
    """The Lambda architecture name of this machine, if it is one."""
    machines = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}
    return machines.get(platform.machine().lower())


def strip_native_libraries(arch: str, site: Path, report: StripReport, options: BuildOptions) -> str:
    if not options.strip_symbols:
        return "native libraries not stripped (--no-strip-symbols)"
    tool = find_strip_tool(arch, host_architecture())
    if tool is None:
        return (
            f"native libraries not stripped: no llvm-strip or {ARCHITECTURES[arch]}-linux-gnu-strip on PATH "
            "(install llvm or binutils-aarch64-linux-gnu; stripping saves about 20 MB)"
        )
    strip_symbols(site, report, tool)
    return f"native libraries stripped with {tool.name} --strip-unneeded"


def check_native_files(arch: str, site: Path, provided: Iterable[str] = ()) -> None:
    """Every DT_NEEDED resolves (in `site`, `provided` or the system) and every ELF file is for `arch`."""
    problems = unresolved_libraries(site, provided)
    if problems:
        raise PackagingError(
            f"{arch}: shared-library links do not resolve (pruned or stripped too much?):\n  " + "\n  ".join(problems)
        )
    wrong_machine = {
        path.relative_to(site).as_posix()
        for path, info in elf_files(site).items()
        if info.machine != ELF_MACHINES[ARCHITECTURES[arch]]
    }
    if wrong_machine:
        raise PackagingError(f"{arch}: native files for another machine: {sorted(wrong_machine)[:5]}")


def precompile_sdk(site: Path, python: str) -> str:
    """Bytecode for the SDK the layer ships. The runtime's own SDK is imported from bytecode; the layer's, from
    source, would be compiled at every cold start (about 0.2 s of CPU to import boto3 and make a client, measured
    here) since /opt is read-only. Unchecked-hash .pyc files are used whatever the sources' timestamps, which the
    zip does not keep, and cannot go stale in a read-only layer."""
    packages = [site / name for name in ("boto3", "botocore", "s3transfer") if (site / name).is_dir()]
    command = [
        python,
        "-m",
        "compileall",
        "-q",
        "-j",
        "0",
        "--invalidation-mode",
        "unchecked-hash",
        *map(str, packages),
    ]
    if subprocess.run(command, check=False).returncode != 0:
        raise PackagingError(f"compileall failed for {', '.join(p.name for p in packages)}")
    return "the SDK shipped with unchecked-hash bytecode (no compiling at cold start)"


def build_deps_layer(arch: str, layer: Path, options: BuildOptions) -> list[str]:
    """Install, prune, strip and check the deps layer; returns notes for the summary."""
    site = layer / "python"
    declared = read_requirements(options.requirements)
    if problems := stale(options.lock, declared):
        raise PackagingError("the deps layer's lock is stale, run `make lock`:\n  " + "\n  ".join(problems))
    run_pip(pip_command(arch, site, options.lock, options.python))
    before = tree_size(site)
    excluded = dict(UNUSED_DISTRIBUTIONS)
    if not options.bundle_sdk:
        excluded.update(SDK_DISTRIBUTIONS)
    removed = prune_distributions(site, declared, excluded, arch)
    report = strip_tree(site)
    dedupe_shared_libraries(site, report)
    notes = [strip_native_libraries(arch, site, report, options)]
    if options.bundle_sdk:
        notes.append(precompile_sdk(site, options.python))
    after = tree_size(site)
    print(f"{arch}: deps layer {before / MB:.1f} MB as installed, {after / MB:.1f} MB stripped")
    for distribution in removed:
        print(f"  - {distribution.name}: {distribution.bytes / MB:.2f} MB ({distribution.reason})")
    for reason, (files, size) in sorted(report.removed.items(), key=lambda item: -item[1][1]):
        print(f"  - {size / MB:6.2f} MB in {files:5d} files: {reason}")
    check_native_files(arch, site)
    return notes


OFFLINE_PACKAGE = "aiqleads_offline"


def offline_imports(package: Path) -> list[str]:
    """Where `package` imports the offline package (generator, training, CLI), which no layer ships: such an
    import, even inside a function, would fail only in Lambda, when it runs."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            if any(name.split(".")[0] == OFFLINE_PACKAGE for name in names):
                found.append(f"{path.relative_to(package.parent).as_posix()}:{node.lineno}")
    return found


def build_core_layer(layer: Path, model_version: str) -> None:
    if found := offline_imports(CORE_PACKAGE):
        raise PackagingError(f"the core layer would import {OFFLINE_PACKAGE}, which it does not ship: {found}")
    copy_tree(CORE_PACKAGE, layer / "python" / "aiqleads", (*CACHE_PATTERNS, "tests", "test", "conftest.py"))
    model = MODEL_ROOT / model_version
    if not (model / "manifest.json").is_file():
        raise PackagingError(f"no model {model_version} at {model.relative_to(ROOT)}: run `make model`")
    shipped = layer / "model_artifacts" / MODEL_ROOT.name
    copy_tree(model, shipped / model_version, CACHE_PATTERNS)
    (shipped / "PRODUCTION").write_text(model_version + "\n")
    shutil.copyfile(OPENAPI_DOCUMENT, layer / OPENAPI_DOCUMENT.name)


def function_dirs(functions_dir: Path) -> list[Path]:
    if not functions_dir.is_dir():
        return []
    return sorted(
        path
        for path in functions_dir.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_")) and path.name not in CACHE_PATTERNS
    )


def build_functions(work: Path, options: BuildOptions, build: ArchitectureBuild) -> None:
    functions = function_dirs(options.functions_dir)
    if not functions:
        build.notes.append(f"no function directories under {shorten(str(options.functions_dir))}/: none packaged")
    for source in functions:
        staged = work / "functions" / source.name
        copy_tree(source, staged, CACHE_PATTERNS)
        requirements = staged / "requirements.txt"
        if requirements.is_file() and read_requirements(requirements):
            build.notes.append(
                f"warning: functions/{source.name}/requirements.txt is not installed; "
                "runtime dependencies belong in layers/deps/requirements.txt"
            )
        function_zip = work / "functions" / f"{source.name}.zip"
        write_zip(staged, function_zip)
        build.artifacts.append(artifact_for(f"functions/{source.name}.zip", function_zip, function=source.name))


def function_layer_sets(
    functions: list[str], template: Path, build: ArchitectureBuild
) -> tuple[dict[str, FunctionLayers], list[tuple[str, ...]]]:
    """Each function's layers from the template (the built layers must include them all), and for each built layer
    no function uses yet (the training layer before functions/training exists), the set it is checked in: the
    template's functions' that name it, else the Globals' plus it."""
    from infra.template import TemplateError, load_template

    try:
        loaded = load_template(template)
        sets = layers_for(functions, loaded)
        declared = [f.layers for f in function_layers(loaded).values()]
        default = layers_for([""], loaded)[""].layers
    except TemplateError as exc:
        raise PackagingError(f"cannot read which layers each function uses: {exc}") from exc
    used = {layer for function in sets.values() for layer in function.layers}
    unused = []
    for artifact in build.artifacts:
        if artifact.layer and artifact.layer not in used:
            naming = sorted(layers for layers in declared if artifact.layer in layers)
            unused.append(naming[0] if naming else (*default, artifact.layer))
    built = {artifact.layer for artifact in build.artifacts if artifact.layer}
    for function in sets.values():
        if missing := [layer for layer in function.layers if layer not in built]:
            raise PackagingError(f"functions/{function.function} uses layers this build does not make: {missing}")
        if function.resource is None:
            build.notes.append(
                f"functions/{function.function} is not in {shorten(str(template))}: sized and smoke-tested with the "
                f"Globals' layers ({', '.join(function.layers)})"
            )
    return sets, unused


def smoke_interpreter(arch: str, options: BuildOptions) -> Interpreter | None:
    """The python3.13 that runs `arch`'s smoke test here: the build's own on the host's architecture, an emulated one
    (infra/packaging/emulation.py) on another, or None."""
    if host_architecture() == arch:
        return Interpreter([options.python])
    command = emulation.interpreter(arch)
    return Interpreter(command, native=options.python) if command else None


def smoke_test_note(
    arch: str, work: Path, options: BuildOptions, layer_sets: dict[str, FunctionLayers] | None = None
) -> str:
    if not options.smoke_test:
        return "smoke test skipped (--no-smoke-test)"
    python = smoke_interpreter(arch, options)
    if python is None:
        reason = (
            f"smoke test skipped: the host is {platform.machine()}, it cannot run {arch} binaries without emulation "
            f"({emulation.SETUP_HINT})"
        )
        if options.require_smoke_test:
            raise PackagingError(f"{arch}: {reason}")
        return reason
    sdk = None if options.bundle_sdk else runtime_sdk(options.requirements, options.out, arch, options.python)
    return smoke_test(work, python, sdk, {name: f.layers for name, f in (layer_sets or {}).items()})


def build_architecture(arch: str, options: BuildOptions) -> ArchitectureBuild:
    work = options.out / arch
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    build = ArchitectureBuild(arch)

    build.notes += build_deps_layer(arch, work / "deps", options)
    write_zip(work / "deps", work / "deps.zip")
    build.artifacts.append(artifact_for("deps.zip (DepsLayer)", work / "deps.zip", layer="deps"))

    build.notes += build_training_layer(arch, work / "training", work / "deps", options)
    write_zip(work / "training", work / "training.zip")
    build.artifacts.append(artifact_for("training.zip (TrainingLayer)", work / "training.zip", layer="training"))

    build_core_layer(work / "core", options.model_version)
    write_zip(work / "core", work / "core.zip")
    build.artifacts.append(artifact_for("core.zip (CoreLayer)", work / "core.zip", layer="core"))

    build_functions(work, options, build)
    functions = [artifact.function for artifact in build.artifacts if artifact.function]
    build.layer_sets, build.unused_layer_sets = function_layer_sets(functions, options.template, build)
    build.notes.append(smoke_test_note(arch, work, options, build.layer_sets))
    return build
