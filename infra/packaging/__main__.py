"""`python -m infra.packaging build ...`: the command line, and the summary printed after every architecture."""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

import infra.packaging
from infra.packaging import emulation
from infra.packaging.build import BuildOptions, build_architecture
from infra.packaging.config import ARCHITECTURES, DEFAULT_OUT, MODEL_ROOT, PYTHON_VERSION, PackagingError, shorten
from infra.packaging.install import find_python313
from infra.packaging.report import ArchitectureBuild, check_limits, size_table


def default_model_version() -> str:
    alias = MODEL_ROOT / "PRODUCTION"
    return alias.read_text().strip() if alias.is_file() else "2.0.0"


def print_summary(builds: Sequence[ArchitectureBuild], out: Path) -> int:
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
    print(f"artifacts in {shorten(str(out))}/<arch>/")
    return 1 if errors else 0


def build(arches: Sequence[str], options: BuildOptions) -> int:
    builds = []
    try:
        for arch in arches:
            builds.append(build_architecture(arch, options))
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return print_summary(builds, options.out)


def parser() -> argparse.ArgumentParser:
    description = (infra.packaging.__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(prog="python -m infra.packaging", description=description)
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
        "--runtime-sdk",
        dest="bundle_sdk",
        action="store_false",
        help="leave boto3/botocore/s3transfer and what only they need out of the deps layer (about -22 MB) and use "
        "the Lambda runtime's SDK, of a version the tests never ran against",
    )
    build_command.add_argument(
        "--no-strip-symbols",
        dest="strip_symbols",
        action="store_false",
        help="keep the static symbol tables of native libraries (by default they are stripped when a strip tool "
        "for the architecture is on PATH: llvm-strip, or GNU binutils for that target)",
    )
    build_command.add_argument("--no-smoke-test", dest="smoke_test", action="store_false")
    build_command.add_argument(
        "--require-smoke-test",
        action="store_true",
        help="fail when an architecture cannot be smoke-tested (no python3.13, no emulation for it): make rehearse",
    )
    emulator_command = commands.add_parser(
        "emulator", help="make the Debian root whose python3.13 smoke-tests another architecture under qemu"
    )
    emulator_command.add_argument("--arch", choices=list(ARCHITECTURES), default="arm64")
    emulator_command.add_argument("--mirror", default=emulation.DEFAULT_MIRROR)
    return parser


def make_emulator(arch: str, mirror: str) -> int:
    try:
        emulation.create_root(arch, mirror=mirror, native_python=find_python313())
    except PackagingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "emulator":
        return make_emulator(args.arch, args.mirror)
    python = args.python or find_python313()
    smoke = args.smoke_test
    if python is None and args.require_smoke_test:
        print(f"error: no python{PYTHON_VERSION} found to smoke-test with (--require-smoke-test)", file=sys.stderr)
        return 1
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
        require_smoke_test=args.require_smoke_test,
    )
    arches = list(ARCHITECTURES) if args.arch == "all" else [args.arch]
    return build(arches, options)


if __name__ == "__main__":
    sys.exit(main())
