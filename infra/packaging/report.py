"""Per architecture: the artifacts built, their unzipped and zipped sizes, the table the build prints and the
check against Lambda's unzipped limit and the size goal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.packaging.config import GOAL_UNZIPPED_MB, LAMBDA_UNZIPPED_LIMIT_MB, MB
from infra.packaging.zips import zip_unzipped_size


@dataclass(frozen=True)
class Artifact:
    name: str
    zip_path: Path
    unzipped: int
    zipped: int


@dataclass
class ArchitectureBuild:
    arch: str
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unzipped(self) -> int:
        return sum(artifact.unzipped for artifact in self.artifacts)

    @property
    def zipped(self) -> int:
        return sum(artifact.zipped for artifact in self.artifacts)


def artifact_for(name: str, zip_path: Path) -> Artifact:
    return Artifact(name, zip_path, zip_unzipped_size(zip_path), zip_path.stat().st_size)


def check_limits(
    builds: Sequence[ArchitectureBuild],
    limit_mb: float = LAMBDA_UNZIPPED_LIMIT_MB,
    goal_mb: float = GOAL_UNZIPPED_MB,
) -> tuple[list[str], list[str]]:
    """(errors, warnings): functions + layers above Lambda's unzipped limit, or above the size goal.

    Every function and both layers are added up, which bounds what any one function deploys with its layers
    (Lambda's limit applies per function: its code plus all its layers)."""
    errors, warnings = [], []
    for build in builds:
        total = build.unzipped / MB
        if total > limit_mb:
            errors.append(
                f"{build.arch}: functions + layers are {total:.1f} MB unzipped, above Lambda's {limit_mb:g} MB limit"
            )
        elif total > goal_mb:
            warnings.append(
                f"{build.arch}: functions + layers are {total:.1f} MB unzipped, above the {goal_mb:g} MB goal"
            )
    return errors, warnings


def size_table(builds: Sequence[ArchitectureBuild]) -> str:
    rows = [("arch", "artifact", "unzipped MB", "zipped MB")]
    for build in builds:
        for artifact in build.artifacts:
            rows.append((build.arch, artifact.name, f"{artifact.unzipped / MB:.1f}", f"{artifact.zipped / MB:.1f}"))
        rows.append(
            (build.arch, "TOTAL (functions + layers)", f"{build.unzipped / MB:.1f}", f"{build.zipped / MB:.1f}")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = []
    for index, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].rjust(widths[2]), row[3].rjust(widths[3])]
        lines.append("  ".join(cells))
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)
