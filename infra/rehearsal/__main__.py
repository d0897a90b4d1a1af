"""`python -m infra.rehearsal` (make rehearse): the deploy rehearsal, offline, then a summary to quote.

    python -m infra.rehearsal [--skip-package] [--sam-venv .venv-sam]

Steps, each timed: the arm64 emulation root (python -m infra.packaging emulator), the Lambda artifacts for both
architectures with every smoke test required to run (arm64's under qemu), `sam validate --lint`, `sam build`,
`sam package` into a bucket of a moto server on 127.0.0.1, every artifact of the packaged template proven in that
bucket (`artifacts`), and the packaged template translated to CloudFormation (`translate.py`), counted and checked
for dependency cycles (`resources`). Any failure stops it with a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from infra.local_cloud.server import LocalAwsServer
from infra.packaging.config import MB, ROOT, shorten
from infra.packaging.install import find_python313
from infra.rehearsal import artifacts, resources
from infra.rehearsal.sam import SAM_VENV, SamCli, SamError
from infra.template import load_template

TEMPLATE = ROOT / "template.yaml"
WORK = ROOT / "build" / "rehearsal"
BUCKET = "aiqleads-rehearsal-artifacts"
PREFIX = "aiqleads"
TRANSLATE = Path(__file__).with_name("translate.py")

T = TypeVar("T")


class Steps:
    """Runs the steps in order, each timed, and remembers a line per step for the summary."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = time.perf_counter()

    def run(self, name: str, step: Callable[[], T], describe: Callable[[T], str]) -> T:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        result = step()
        seconds = time.perf_counter() - started
        self.lines.append(f"  {name:<30} {seconds:6.1f} s  {describe(result)}")
        print(f"   {describe(result)} ({seconds:.1f} s)", flush=True)
        return result

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def run_project(arguments: Sequence[str]) -> list[str]:
    """A command of this project on its own interpreter, its output streamed (the build's sizes and smoke test
    results belong in the CI log); its lines, for the summary."""
    command = [sys.executable, *arguments]
    print("$ " + " ".join(shorten(part) for part in command), flush=True)
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        print(line, end="", flush=True)
        lines.append(line.rstrip())
    if process.wait() != 0:
        raise SystemExit(f"{' '.join(arguments)} failed (exit {process.returncode})")
    return lines


def smoke_lines(output: list[str]) -> str:
    passed = [line.split(": smoke test", 1)[0] for line in output if ": smoke test passed" in line]
    emulated = [line.split(":", 1)[0] for line in output if "smoke test passed under emulation" in line]
    return f"smoke tests passed: {', '.join(passed)}" + (f" ({', '.join(emulated)} under qemu)" if emulated else "")


def built_summary(built: dict[str, Any]) -> str:
    """What `sam build` made: the functions for their architecture, and the prebuilt layers it took as they are."""
    kinds = {name: resource["Type"] for name, resource in built["Resources"].items()}
    functions = [name for name, kind in kinds.items() if kind == "AWS::Serverless::Function"]
    layers = [name for name, kind in kinds.items() if kind == "AWS::Serverless::LayerVersion"]
    architectures = built.get("Globals", {}).get("Function", {}).get("Architectures", ["x86_64"])
    return f"{len(functions)} functions for {'/'.join(architectures)}, {len(layers)} layers from build/package/"


def translated_summary(translated: dict[str, Any]) -> str:
    counts = resources.by_type(translated)
    cycle = resources.find_cycle(resources.dependencies(translated))
    if cycle:
        raise SystemExit(f"the CloudFormation template has a dependency cycle: {' -> '.join(cycle)}")
    top = ", ".join(f"{count} {kind.removeprefix('AWS::')}" for kind, count in counts.most_common(6))
    return f"{sum(counts.values())} CloudFormation resources, no dependency cycle ({top}, ...)"


def rehearse(sam: SamCli, skip_package: bool) -> int:
    steps = Steps()
    if not skip_package:
        steps.run(
            "arm64 emulation root",
            lambda: run_project(["-m", "infra.packaging", "emulator", "--arch", "arm64"]),
            lambda output: output[-1].removeprefix("arm64: ") if output else "",
        )
        steps.run(
            "make package (both arches)",
            lambda: run_project(["-m", "infra.packaging", "build", "--arch", "all", "--require-smoke-test"]),
            smoke_lines,
        )
    if WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(parents=True)
    built = WORK / "sam-build" / "template.yaml"
    packaged = WORK / "packaged.yaml"
    with LocalAwsServer(port=0) as server:
        environment = sam.environment(server.endpoint_url)
        version = sam.version(environment, ROOT)
        template = load_template(TEMPLATE)
        steps.run(
            "sam validate --lint",
            lambda: sam.run(["validate", "--lint", "--template-file", str(TEMPLATE)], environment, ROOT),
            lambda _: f"valid ({len(template['Resources'])} SAM resources)",
        )
        steps.run(
            "sam build",
            lambda: sam.run(
                ["build", "--template-file", str(TEMPLATE), "--build-dir", str(built.parent)], environment, ROOT
            ),
            lambda _: built_summary(load_template(built)),
        )
        s3 = server.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        steps.run(
            "sam package",
            lambda: sam.run(
                [
                    "package",
                    "--template-file",
                    str(built),
                    "--s3-bucket",
                    BUCKET,
                    "--s3-prefix",
                    PREFIX,
                    "--output-template-file",
                    str(packaged),
                    "--no-progressbar",
                ],
                environment,
                ROOT,
            ),
            lambda _: f"uploaded to s3://{BUCKET}/{PREFIX}/ on {server.endpoint_url}",
        )
        uploaded = steps.run(
            "every artifact in S3",
            lambda: artifacts.check_uploaded(artifacts.references(load_template(packaged)), BUCKET, s3),
            lambda found: (
                f"{len(found)} artifacts, {sum(one.size for one in found) / MB:.1f} MB, none missing or empty"
            ),
        )
    steps.run(
        "SAM -> CloudFormation",
        lambda: json.loads(sam.run_python([str(TRANSLATE), str(packaged)], environment, ROOT)),
        translated_summary,
    )
    print()
    print(f"deploy rehearsal of template.yaml, offline, SAM CLI {version}: passed in {steps.elapsed:.0f} s")
    print("\n".join(steps.lines))
    print("  artifacts (sam package, in the packaging bucket):")
    for one in uploaded:
        size = f"{one.size / MB:7.1f} MB" if one.size >= MB else f"{one.size / 1024:7.1f} KB"
        print(f"    {one.resource + '.' + one.prop:<36} {size}  {one.uri}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.rehearsal", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip-package", action="store_true", help="use build/package/ as it is")
    parser.add_argument("--sam-venv", type=Path, default=SAM_VENV)
    args = parser.parse_args(argv)
    python313 = find_python313()
    if python313 is None:
        print("error: sam build needs a python3.13 (PYTHON=python3.13 or pyenv's 3.13)", file=sys.stderr)
        return 1
    if not (args.sam_venv / "bin" / "sam").is_file():
        print(f"error: no SAM CLI in {shorten(str(args.sam_venv))} (make rehearse installs it)", file=sys.stderr)
        return 1
    sam = SamCli(args.sam_venv, python313, WORK.parent / "sam-state")
    try:
        return rehearse(sam, args.skip_package)
    except (SamError, artifacts.MissingArtifacts) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
