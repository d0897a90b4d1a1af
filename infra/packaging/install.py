"""pip for the Lambda platform: requirement files, the python3.13 interpreter and the `pip install` command line
that installs manylinux wheels for either architecture on any machine."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from infra.packaging.config import ARCHITECTURES, GLIBC_MINORS, PYTHON_VERSION, PackagingError, shorten


def platform_tags(arch: str) -> list[str]:
    """The manylinux platform tags a python3.13 Lambda on `arch` can run, newest first."""
    machine = ARCHITECTURES[arch]
    return [f"manylinux_2_{minor}_{machine}" for minor in GLIBC_MINORS] + [f"manylinux2014_{machine}"]


def pip_command(arch: str, target: Path, requirements: Path | Sequence[str], python: str) -> list[str]:
    """`pip install` of `requirements` for python3.13 on `arch`: a lock file (every pin hash-checked) or
    requirement strings."""
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
        command += ["--require-hashes", "-r", str(requirements)]
    else:
        command += list(requirements)
    return command


def run_pip(command: Sequence[str]) -> None:
    print("$ " + " ".join(shorten(part) for part in command), flush=True)
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        raise PackagingError(f"pip failed (exit {result.returncode}); see its output above")


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
