"""The smoke test of one architecture's build, run when this host can execute its binaries: the layer zips
extracted into one /opt-like directory as Lambda does, `smoke.py` run there on python3.13 with only them (and, when
built with --runtime-sdk, a stand-in for the runtime's SDK) on the path, then each function's `handler.handler`
imported the same way."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name

from infra.packaging import smoke
from infra.packaging.config import PackagingError
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


def run_smoke(python: str, arguments: Sequence[str], cwd: Path, environment: Mapping[str, str]) -> str:
    """`smoke.py` by path with -P (its directory, this package, stays off sys.path); its output, or an error."""
    result = subprocess.run(
        [python, "-s", "-P", str(SMOKE_SCRIPT), *arguments],
        cwd=cwd,
        env=dict(environment),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise PackagingError(f"{result.stdout}{result.stderr}")
    return result.stdout


def check_handlers(work: Path, scratch: Path, python: str, environment: Mapping[str, str]) -> list[str]:
    """Each function zip extracted as Lambda does (to /var/task, first on sys.path), and its handler imported."""
    imported = []
    for function_zip in sorted((work / "functions").glob("*.zip")):
        task = scratch / "task" / function_zip.stem
        extract_zip(function_zip, task)
        if not (task / "handler.py").is_file():
            raise PackagingError(f"{work.name}: functions/{function_zip.stem} has no handler.py")
        paths = [str(task), environment["PYTHONPATH"]]
        function_environment = {
            **environment,
            **LAMBDA_ENVIRONMENT,
            "PYTHONPATH": os.pathsep.join(paths),
            "LAMBDA_TASK_ROOT": str(task),
        }
        try:
            run_smoke(python, ["handler"], task, function_environment)
        except PackagingError as exc:
            raise PackagingError(
                f"{work.name}: functions/{function_zip.stem}: handler.handler does not import with the layers:\n{exc}"
            ) from exc
        imported.append(function_zip.stem)
    return imported


def smoke_test(work: Path, python: str, sdk: Path | None) -> str:
    """Extract the layers as Lambda does (into one /opt-like directory) and score a lead there."""
    arch = work.name
    with tempfile.TemporaryDirectory(prefix="aiqleads-opt-") as scratch:
        opt = Path(scratch) / "opt"
        for layer in ("deps.zip", "core.zip"):
            extract_zip(work / layer, opt)
        paths = [str(opt / "python")] + ([str(sdk)] if sdk else [])
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_NAMESPACE": "smoke",
        }
        print(f"{arch}: smoke test with {python} on the extracted layers", flush=True)
        try:
            # not run in the repository, so the model must come from the layer
            output = run_smoke(python, ["layers", str(opt)], Path(scratch), environment)
        except PackagingError as exc:
            raise PackagingError(f"{arch}: smoke test failed:\n{exc}") from exc
        imported = check_handlers(work, Path(scratch), python, environment)
    note = f"smoke test passed: {output.strip()}"
    if imported:
        note += f"\n{arch}: handler.handler imports with the layers for: {', '.join(imported)}"
    return note
