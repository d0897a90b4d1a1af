"""The lock files: every dependency pinned with its hashes, written by uv from what pyproject.toml and
layers/deps/requirements.txt declare, and the check that a lock still satisfies what is declared.

    python -m infra.locks compile [--upgrade]    # = make lock; without --upgrade uv keeps every pin it can
    python -m infra.locks check                  # a lock per declared set, each pin inside its specifier

- requirements/dev.txt: the runtime dependencies and the train and dev extras, what `make setup` installs;
  requirements/runtime.txt and requirements/train.txt: the runtime set, and runtime + train. Universal locks
  (any OS and machine, Python >= 3.11), the two smaller ones resolved within dev.txt's pins, so a package has one
  version in every lock.
- layers/deps/requirements.lock: layers/deps/requirements.txt for the Lambda runtime (python3.13, manylinux_2_34,
  wheels only), resolved for x86_64 and for aarch64, which must agree: `make package` installs it on both. The
  AWS SDK is held to dev.txt's pins: the layer ships it, and the tests (of storage/dynamo_parser.py's override of a
  private botocore method above all) run against dev.txt's.
- layers/training/requirements.lock: layers/training/requirements.txt (the training function's layer, on top of the
  deps layer) for the Lambda runtime, resolved like the deps layer's. Through layers/training/constraints.txt, what
  the deps layer ships (numpy, typing-extensions, ...) is pinned as the deps layer pins it (the training layer
  leaves those out and uses the deps layer's) and everything else as requirements/dev.txt pins it, so the tests
  train with the versions Lambda trains with.
- requirements/sam.txt: the AWS SAM CLI (requirements/sam.in) for the deploy rehearsal (make rehearse), universal
  like dev.txt but resolved on its own: it goes into a venv of its own, .venv-sam, whose pins of boto3, cfn-lint,
  pydantic and others need not agree with the project's.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from infra.packaging.config import (
    DEPS_LOCK,
    DEPS_REQUIREMENTS,
    PYTHON_VERSION,
    ROOT,
    TRAINING_LOCK,
    TRAINING_REQUIREMENTS,
    shorten,
)
from infra.packaging.distributions import UNUSED_DISTRIBUTIONS
from infra.packaging.install import read_requirements

PYPROJECT = ROOT / "pyproject.toml"
LOCKS = ROOT / "requirements"
DEV_LOCK = LOCKS / "dev.txt"
RUNTIME_LOCK = LOCKS / "runtime.txt"
TRAIN_LOCK = LOCKS / "train.txt"
SAM_REQUIREMENTS = LOCKS / "sam.in"
SAM_LOCK = LOCKS / "sam.txt"

# Each lock and the pyproject.toml extras it holds besides [project].dependencies.
PROJECT_LOCKS: dict[Path, tuple[str, ...]] = {DEV_LOCK: ("train", "dev"), RUNTIME_LOCK: (), TRAIN_LOCK: ("train",)}
OLDEST_PYTHON = "3.11"
# The python3.13 runtime's Amazon Linux 2023 has glibc 2.34 (see infra/packaging/config.py).
LAMBDA_PLATFORMS = ("x86_64-manylinux_2_34", "aarch64-manylinux_2_34")


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    marker: str | None
    hashes: int


def read_lock(path: Path) -> list[Pin]:
    """The pins of a requirements file as uv and pip-tools write it (`name==version ; marker \\` and its
    `--hash=...` lines)."""
    pins: list[Pin] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip().rstrip("\\").strip()
        if stripped.startswith("--hash=") and pins:
            last = pins[-1]
            pins[-1] = Pin(last.name, last.version, last.marker, last.hashes + 1)
        elif stripped and not stripped.startswith(("#", "-")):
            try:
                requirement = Requirement(stripped)
            except InvalidRequirement as exc:
                raise ValueError(f"{path}: {stripped!r} is not a requirement: {exc}") from exc
            pinned = [spec.version for spec in requirement.specifier if spec.operator == "=="]
            if len(pinned) != 1:
                raise ValueError(f"{path}: {stripped!r} is not pinned with ==")
            marker = str(requirement.marker) if requirement.marker else None
            pins.append(Pin(str(canonicalize_name(requirement.name)), pinned[0], marker, 0))
    return pins


def declared(extras: Sequence[str] = ()) -> list[Requirement]:
    """[project].dependencies and the given optional-dependencies of pyproject.toml."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def stale(lock: Path, requirements: Sequence[Requirement]) -> list[str]:
    """Why `lock` does not (or no longer) satisfy `requirements`; empty when it does. Extras are not followed:
    what `moto[server]` adds is uv's to resolve, only the named distributions are checked."""
    if not lock.is_file():
        return [f"{shorten(str(lock))} is missing"]
    pins: dict[str, list[Pin]] = {}
    for pin in read_lock(lock):
        pins.setdefault(pin.name, []).append(pin)
    problems = [
        f"{pin.name}=={pin.version} has no --hash" for group in pins.values() for pin in group if not pin.hashes
    ]
    for requirement in requirements:
        found = pins.get(str(canonicalize_name(requirement.name)), [])
        if not found:
            problems.append(f"{requirement} is declared but not pinned")
        for pin in found:
            if not requirement.specifier.contains(pin.version, prereleases=True):
                problems.append(f"{requirement} is declared but {pin.name}=={pin.version} is pinned")
    return [f"{shorten(str(lock))}: {problem}" for problem in problems]


def all_stale() -> list[str]:
    problems = [problem for lock, extras in PROJECT_LOCKS.items() for problem in stale(lock, declared(extras))]
    problems += stale(SAM_LOCK, read_requirements(SAM_REQUIREMENTS))
    problems += stale(TRAINING_LOCK, read_requirements(TRAINING_REQUIREMENTS))
    return problems + stale(DEPS_LOCK, read_requirements(DEPS_REQUIREMENTS))


# ------------------------------------------------------------------------------------------------ uv


def uv_compile(source: Path, output: Path, options: Sequence[str], upgrade: bool) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uv",
        "pip",
        "compile",
        "--quiet",
        "--generate-hashes",
        "--custom-compile-command",
        "make lock",
        *(["--upgrade"] if upgrade else []),
        *options,
        shorten(str(source)),
        "-o",
        shorten(str(output)),
    ]


def _run(command: Sequence[str]) -> None:
    print("$ " + shlex.join(command[2:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


UNIVERSAL = ["--universal", "--python-version", OLDEST_PYTHON]


def compile_project_locks(upgrade: bool) -> None:
    extras = [f"--extra={extra}" for extra in PROJECT_LOCKS[DEV_LOCK]]
    _run(uv_compile(PYPROJECT, DEV_LOCK, [*UNIVERSAL, *extras], upgrade))
    for lock, lock_extras in PROJECT_LOCKS.items():
        if lock != DEV_LOCK:
            within_dev = ["-c", shorten(str(DEV_LOCK)), *(f"--extra={extra}" for extra in lock_extras)]
            _run(uv_compile(PYPROJECT, lock, [*UNIVERSAL, *within_dev], upgrade=False))


# What the layer lock must pin as dev.txt does (tests/unit/test_locks.py checks it), through a constraints file
# make lock writes from dev.txt and commits beside the layer lock: uv names it in the lock's `# via` comments.
SDK_PINNED_AS_DEV = ("boto3", "botocore", "s3transfer")
SDK_CONSTRAINTS = DEPS_LOCK.parent / "sdk-constraints.txt"


def write_sdk_constraints() -> Path:
    pins = [pin for pin in read_lock(DEV_LOCK) if pin.name in SDK_PINNED_AS_DEV]
    header = (
        "# Written by `make lock` from requirements/dev.txt: the deps layer ships the AWS SDK the tests run against.\n"
    )
    SDK_CONSTRAINTS.write_text(header + "".join(f"{pin.name}=={pin.version}\n" for pin in pins), encoding="utf-8")
    return SDK_CONSTRAINTS


def compile_lambda_lock(requirements: Path, lock: Path, constraints: Path, upgrade: bool) -> None:
    """One resolution per Lambda architecture; the lock is written only when they agree."""
    texts = []
    with tempfile.TemporaryDirectory(prefix="aiqleads-lock-") as scratch:
        for platform in LAMBDA_PLATFORMS:
            output = Path(scratch) / platform
            if lock.is_file():
                shutil.copyfile(lock, output)  # uv keeps the pins of the file it rewrites
            options = ["--python-version", PYTHON_VERSION, "--python-platform", platform, "--only-binary", ":all:"]
            options += ["-c", shorten(str(constraints))]
            _run(uv_compile(requirements, output, options, upgrade))
            texts.append(output.read_text(encoding="utf-8"))
    if texts[0] != texts[1]:
        raise SystemExit(
            f"{shorten(str(lock))}: the resolutions for {' and '.join(LAMBDA_PLATFORMS)} differ; one lock cannot "
            f"serve both architectures (pin the differing package in {shorten(str(requirements))})"
        )
    lock.write_text(texts[0], encoding="utf-8")


def compile_layer_lock(upgrade: bool) -> None:
    compile_lambda_lock(DEPS_REQUIREMENTS, DEPS_LOCK, write_sdk_constraints(), upgrade)


# The training layer goes on top of the deps layer (Layers: [CoreLayer, DepsLayer, TrainingLayer]): what the deps
# layer ships, the training layer leaves out and imports from there, so the lock must pin it as the deps lock does;
# the rest (lightgbm, onnx, scipy, protobuf, ...) as dev.txt does, the versions `make setup` installs and the tests
# train with. make lock writes both into layers/training/constraints.txt (kept to the names the lock pins).
TRAINING_CONSTRAINTS = TRAINING_LOCK.parent / "constraints.txt"


def deps_layer_pins() -> dict[str, Pin]:
    """The pins of the distributions the deps layer ships: its lock, less what `make package` prunes from it
    (distributions.UNUSED_DISTRIBUTIONS; none of them requires anything else)."""
    unused = {str(canonicalize_name(name)) for name in UNUSED_DISTRIBUTIONS}
    return {pin.name: pin for pin in read_lock(DEPS_LOCK) if pin.name not in unused}


def training_constraint_pins() -> list[Pin]:
    """Every pin the training lock may take: the deps layer's for what it ships, dev.txt's for everything else."""
    shipped = deps_layer_pins()
    dev = [pin for pin in read_lock(DEV_LOCK) if pin.name not in shipped]
    return sorted([*shipped.values(), *dev], key=lambda pin: (pin.name, pin.marker or ""))


def write_training_constraints(only: Sequence[str] | None = None) -> Path:
    pins = [pin for pin in training_constraint_pins() if only is None or pin.name in only]
    header = (
        "# Written by `make lock`: the deps layer's pins (requirements.lock there, less what make package prunes) for\n"
        "# what the deps layer ships, requirements/dev.txt's for the rest, so that the training layer runs the versions\n"
        "# the tests run and shares the deps layer's copies.\n"
    )
    lines = [f"{pin.name}=={pin.version}" + (f" ; {pin.marker}" if pin.marker else "") + "\n" for pin in pins]
    TRAINING_CONSTRAINTS.write_text(header + "".join(lines), encoding="utf-8")
    return TRAINING_CONSTRAINTS


def compile_training_lock(upgrade: bool) -> None:
    compile_lambda_lock(TRAINING_REQUIREMENTS, TRAINING_LOCK, write_training_constraints(), upgrade)
    write_training_constraints(only=[pin.name for pin in read_lock(TRAINING_LOCK)])


def compile_sam_lock(upgrade: bool) -> None:
    _run(uv_compile(SAM_REQUIREMENTS, SAM_LOCK, UNIVERSAL, upgrade))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.locks", description=(__doc__ or "").splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compile_command = commands.add_parser("compile", help="rewrite every lock (make lock)")
    compile_command.add_argument("--upgrade", action="store_true", help="newest versions, not the locked ones")
    commands.add_parser("check", help="fail when a lock no longer satisfies what is declared")
    args = parser.parse_args(argv)
    if args.command == "compile":
        compile_project_locks(args.upgrade)
        compile_layer_lock(args.upgrade)
        compile_training_lock(args.upgrade)  # after the deps lock, whose pins it shares
        compile_sam_lock(args.upgrade)
    problems = all_stale()
    for problem in problems:
        print(f"stale: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
