"""The distributions pip installed into the deps layer, and the pruning of those Lambda does not need: declared
dependencies nothing imports (and, with --runtime-sdk, the SDK the runtime provides), and whatever only they
required."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from infra.packaging.config import ARCHITECTURES, PYTHON_VERSION
from infra.packaging.strip import remove_empty_dirs

# The AWS SDK for Python. The python3.13 Lambda runtime ships one too, but of a version we neither choose nor
# test, and storage/dynamo_parser.py overrides a private botocore method whose shape follows the SDK's version; so
# the layer ships the locked SDK (layers/deps/requirements.lock, the same pins as requirements/dev.txt, which the
# tests run against: tests/unit/test_locks.py) and Lambda imports it, /opt/python coming before the runtime's own
# on sys.path. `--runtime-sdk` removes them, with whatever only they needed (urllib3, python-dateutil, six,
# jmespath): about 22 MB unzipped.
SDK_DISTRIBUTIONS: dict[str, str] = {
    "boto3": "provided by the Lambda python3.13 runtime (--runtime-sdk)",
    "botocore": "provided by the Lambda python3.13 runtime (--runtime-sdk)",
    "s3transfer": "provided by the Lambda python3.13 runtime (--runtime-sdk)",
}
# Declared dependencies that nothing in the functions' import paths uses.
UNUSED_DISTRIBUTIONS: dict[str, str] = {
    "flatbuffers": "onnxruntime needs it only for its ORT-format tools (onnxruntime/tools, stripped)",
    "protobuf": "onnxruntime needs it only for tools/transformers/quantization (stripped); "
    "Powertools only for its Kafka protobuf deserializer",
    "packaging": "onnxruntime needs it only for onnxruntime/transformers (stripped)",
}


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


@dataclass(frozen=True)
class RemovedDistribution:
    name: str
    reason: str
    files: int
    bytes: int


def needed_distributions(
    installed: Mapping[str, Distribution],
    roots: Sequence[Requirement],
    excluded: Mapping[str, str],
    environment: Mapping[str, str],
) -> dict[str, set[str]]:
    """The closure of `roots` (name -> the extras asked for), never entering an excluded distribution."""
    needed: dict[str, set[str]] = {}
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
    return needed


def _required_by(name: str, others: Iterable[Distribution], environment: Mapping[str, str]) -> list[str]:
    return sorted(
        other.name
        for other in others
        if any(
            canonicalize_name(child.name) == name and _applies(child, environment, ())
            for child in map(Requirement, other.requires)
        )
    )


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
    needed = needed_distributions(installed, roots, excluded, environment)
    unneeded = {name: distribution for name, distribution in installed.items() if name not in needed}
    removed = []
    for name, distribution in sorted(unneeded.items()):
        if name in excluded:
            reason = excluded[name]
        else:
            reason = f"only needed by {', '.join(_required_by(name, unneeded.values(), environment)) or 'nothing'}"
        files = distribution.files(site)
        size = sum(path.stat().st_size for path in files)
        for path in files:
            path.unlink()
        shutil.rmtree(distribution.dist_info)
        removed.append(RemovedDistribution(name, reason, len(files), size))
    remove_empty_dirs(site)
    return removed
