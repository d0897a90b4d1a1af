"""The smoke test of one architecture's build, run when this host can execute its binaries: the layer zips
extracted into one /opt-like directory as Lambda does, `smoke.py` run there on python3.13 with only them (and, when
built with --runtime-sdk, a stand-in for the runtime's SDK) on the path, then each function's `handler.handler`
imported the same way, with the layers that function deploys with (template.yaml; one /opt per set of layers).
The training layer is checked on top of the deps and core layers: LightGBM trains, converts and runs in
onnxruntime there."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from infra.packaging import smoke
from infra.packaging.config import PackagingError, shorten
from infra.packaging.distributions import SDK_DISTRIBUTIONS
from infra.packaging.install import pip_command, read_requirements, run_pip
from infra.packaging.zips import extract_zip

SMOKE_SCRIPT = Path(smoke.__file__)
# What Lambda sets that an import-time configuration may read (no credentials: nothing may call AWS at import).
LAMBDA_ENVIRONMENT = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}


def runtime_sdk(requirements: Path, out: Path, arch: str, python: str) -> Path | None:
    """A stand-in for the SDK the Lambda runtime provides (boto3 and its dependencies), outside every artifact."""
    wanted = [str(r) for r in read_requirements(requirements) if canonicalize_name(r.name) in SDK_DISTRIBUTIONS]
    if not wanted:
        return None
    target = out / "lambda-runtime-sdk" / arch
    stamp = target / ".requirements"
    if not (stamp.is_file() and stamp.read_text() == "\n".join(wanted)):
        if target.exists():
            shutil.rmtree(target)
        run_pip(pip_command(arch, target, wanted, python))
        stamp.write_text("\n".join(wanted))
    return target


@dataclass(frozen=True)
class Interpreter:
    """The python3.13 that runs the smoke test: the build's own, or another architecture's under emulation
    (`emulation.interpreter`), with `native` the build's own python3.13."""

    command: list[str]
    native: str | None = None  # set when `command` is emulated

    @property
    def emulated(self) -> bool:
        return self.native is not None


def run_smoke(python: Interpreter, arguments: Sequence[str], cwd: Path, environment: Mapping[str, str]) -> str:
    """`smoke.py` by path with -P (its directory, this package, stays off sys.path); its output, or an error."""
    result = subprocess.run(
        [*python.command, "-s", "-P", str(SMOKE_SCRIPT), *arguments],
        cwd=cwd,
        env=dict(environment),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PackagingError(f"{result.stdout}{result.stderr}")
    return result.stdout


def extract_functions(work: Path, scratch: Path) -> dict[str, Path]:
    """Each function zip extracted as Lambda does (to its /var/task): name -> directory."""
    tasks = {}
    for function_zip in sorted((work / "functions").glob("*.zip")):
        task = scratch / "task" / function_zip.stem
        extract_zip(function_zip, task)
        if not (task / "handler.py").is_file():
            raise PackagingError(f"{work.name}: functions/{function_zip.stem} has no handler.py")
        tasks[function_zip.stem] = task
    return tasks


def check_handlers(
    work: Path, tasks: Mapping[str, Path], python: Interpreter, environment: Mapping[str, str]
) -> list[str]:
    """Each function's handler imported with its directory first on sys.path, as Lambda's /var/task is: in a
    process of its own natively; emulated, one process imports them all in turn (each handler alone would take
    about 15 s, and the Python code they run is the same as natively, where it is checked one process each)."""
    environment = {**environment, **LAMBDA_ENVIRONMENT}
    if python.emulated and tasks:
        try:
            run_smoke(python, ["handlers", *map(str, tasks.values())], work, environment)
        except PackagingError as exc:
            raise PackagingError(f"{work.name}: a handler does not import with the layers:\n{exc}") from exc
        return list(tasks)
    for name, task in tasks.items():
        function_environment = {
            **environment,
            "PYTHONPATH": os.pathsep.join([str(task), environment["PYTHONPATH"]]),
            "LAMBDA_TASK_ROOT": str(task),
        }
        try:
            run_smoke(python, ["handler"], task, function_environment)
        except PackagingError as exc:
            raise PackagingError(
                f"{work.name}: functions/{name}: handler.handler does not import with the layers:\n{exc}"
            ) from exc
    return list(tasks)


def precompile(native_python: str, trees: Sequence[Path], cache: Path) -> None:
    """Bytecode for `trees` into the cache prefix `cache`, compiled by the native python3.13. Bytecode is the same
    on every machine and Lambda compiles it at import too, but under emulation compiling is most of an import's
    time; moved out, the emulator still runs every native library the test is there for."""
    command = [native_python, "-m", "compileall", "-q", "-j", "0", *map(str, trees)]
    result = subprocess.run(
        command, env={**os.environ, "PYTHONPYCACHEPREFIX": str(cache)}, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise PackagingError(f"compileall failed:\n{result.stdout}{result.stderr}")


BASE_LAYERS = ("core", "deps")  # what `smoke.py layers` checks: every function has them
TRAINING_LAYER = "training"


def extract_layers(work: Path, layers: Sequence[str], opt: Path) -> Path:
    """The layers' zips extracted into one directory, in order, as Lambda extracts a function's layers into /opt."""
    for layer in layers:
        extract_zip(work / f"{layer}.zip", opt)
    return opt


def layers_environment(opt: Path, sdk: Path | None) -> dict[str, str]:
    paths = [str(opt / "python")] + ([str(sdk)] if sdk else [])
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join(paths),
        "LD_LIBRARY_PATH": str(opt / "lib"),  # Lambda's LD_LIBRARY_PATH has /opt/lib (the training layer's libgomp)
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "smoke",
    }


def group_by_layers(
    tasks: Mapping[str, Path], layer_sets: Mapping[str, Sequence[str]]
) -> dict[tuple[str, ...], dict[str, Path]]:
    """The functions by the layers they deploy with (a function the template does not place: the base layers)."""
    groups: dict[tuple[str, ...], dict[str, Path]] = {}
    for name, task in tasks.items():
        groups.setdefault(tuple(layer_sets.get(name, BASE_LAYERS)), {})[name] = task
    return groups


def training_layers(work: Path, layer_sets: Mapping[str, Sequence[str]]) -> tuple[str, ...] | None:
    """The layers the training layer is smoke-tested with: a function's that uses it, else core, deps, training."""
    if not (work / f"{TRAINING_LAYER}.zip").is_file():
        return None
    users = sorted(tuple(layers) for layers in layer_sets.values() if TRAINING_LAYER in layers)
    return users[0] if users else (*BASE_LAYERS, TRAINING_LAYER)


def smoke_test(
    work: Path, python: Interpreter, sdk: Path | None, layer_sets: Mapping[str, Sequence[str]] | None = None
) -> str:
    """Extract the layers as Lambda does (into one /opt-like directory) and score a lead there; train a model with the
    training layer; import each function's handler with its own layers."""
    arch = work.name
    layer_sets = layer_sets or {}
    with tempfile.TemporaryDirectory(prefix="aiqleads-opt-") as scratch:
        tasks = extract_functions(work, Path(scratch))
        groups = group_by_layers(tasks, layer_sets)
        training = training_layers(work, layer_sets)
        opts: dict[tuple[str, ...], Path] = {}
        for layers in [BASE_LAYERS, *groups, *([training] if training else [])]:
            if layers not in opts:
                opts[layers] = extract_layers(work, layers, Path(scratch) / f"opt-{len(opts)}")
        environments = {layers: layers_environment(opt, sdk) for layers, opt in opts.items()}
        if python.native is not None:
            cache = Path(scratch) / "pycache"
            precompile(python.native, [*opts.values(), *tasks.values(), *([sdk] if sdk else [])], cache)
            for environment in environments.values():
                environment["PYTHONPYCACHEPREFIX"] = str(cache)
        print(f"{arch}: smoke test with {' '.join(map(shorten, python.command))} on the extracted layers", flush=True)
        try:
            # not run in the repository, so the model must come from the layer
            opt = opts[BASE_LAYERS]
            output = run_smoke(python, ["layers", str(opt)], Path(scratch), environments[BASE_LAYERS])
        except PackagingError as exc:
            raise PackagingError(f"{arch}: smoke test failed:\n{exc}") from exc
        trained = None
        if training is not None:
            try:
                trained = run_smoke(python, ["training", str(opts[training])], Path(scratch), environments[training])
            except PackagingError as exc:
                raise PackagingError(
                    f"{arch}: training layer smoke test ({', '.join(training)}) failed:\n{exc}"
                ) from exc
        imported = []
        for layers, group in groups.items():
            names = check_handlers(work, group, python, environments[layers])
            imported.append(f"{', '.join(names)} (with {', '.join(layers)})")
    note = f"smoke test passed{' under emulation' if python.emulated else ''}: {output.strip()}"
    if trained is not None:
        note += f"\n{arch}: training layer smoke test passed with {', '.join(training or ())}: {trained.strip()}"
    if imported:
        note += f"\n{arch}: handler.handler imports with the layers for: {'; '.join(imported)}"
    return note
