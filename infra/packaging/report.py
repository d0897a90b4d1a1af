"""Per architecture: the artifacts built, their unzipped and zipped sizes, the table the build prints and the
check against Lambda's unzipped limit and the size goal, function by function (its zip plus the layers it deploys
with, `layer_sets`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from infra.packaging.config import GOAL_UNZIPPED_MB, LAMBDA_UNZIPPED_LIMIT_MB, MB
from infra.packaging.layer_sets import FunctionLayers
from infra.packaging.zips import zip_unzipped_size


@dataclass(frozen=True)
class Artifact:
    name: str
    zip_path: Path
    unzipped: int
    zipped: int
    layer: str | None = None  # the layer's name (deps, core, training) when the artifact is one
    function: str | None = None  # the functions/<name>/ directory when it is a function


@dataclass(frozen=True)
class FunctionTotal:
    function: str
    layers: tuple[str, ...]
    unzipped: int
    zipped: int


@dataclass
class ArchitectureBuild:
    arch: str
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layer_sets: dict[str, FunctionLayers] = field(default_factory=dict)  # function -> its layers (template.yaml)

    @property
    def unzipped(self) -> int:
        return sum(artifact.unzipped for artifact in self.artifacts)

    @property
    def zipped(self) -> int:
        return sum(artifact.zipped for artifact in self.artifacts)

    def function_totals(self) -> list[FunctionTotal]:
        """Each function's zip plus its layers, as Lambda adds them up against its limit."""
        layers = {artifact.layer: artifact for artifact in self.artifacts if artifact.layer}
        functions = {artifact.function: artifact for artifact in self.artifacts if artifact.function}
        totals = []
        for name, function in sorted(self.layer_sets.items()):
            if name not in functions:
                continue
            parts = [functions[name], *(layers[layer] for layer in function.layers)]
            totals.append(
                FunctionTotal(name, function.layers, sum(p.unzipped for p in parts), sum(p.zipped for p in parts))
            )
        return totals


def artifact_for(name: str, zip_path: Path, layer: str | None = None, function: str | None = None) -> Artifact:
    return Artifact(name, zip_path, zip_unzipped_size(zip_path), zip_path.stat().st_size, layer, function)


def _totals(build: ArchitectureBuild) -> list[tuple[str, int]]:
    """(what, unzipped bytes) to check: each function with its layers, or, with no function to go by, everything."""
    totals = build.function_totals()
    if not totals:
        return [("functions + layers", build.unzipped)]
    return [(f"functions/{t.function} + layers {', '.join(t.layers)}", t.unzipped) for t in totals]


def check_limits(
    builds: Sequence[ArchitectureBuild],
    limit_mb: float = LAMBDA_UNZIPPED_LIMIT_MB,
    goal_mb: float = GOAL_UNZIPPED_MB,
) -> tuple[list[str], list[str]]:
    """(errors, warnings): a function and its layers above Lambda's unzipped limit, or above the size goal."""
    errors, warnings = [], []
    for build in builds:
        for what, size in _totals(build):
            total = size / MB
            if total > limit_mb:
                errors.append(f"{build.arch}: {what} are {total:.1f} MB unzipped, above Lambda's {limit_mb:g} MB limit")
            elif total > goal_mb:
                warnings.append(f"{build.arch}: {what} are {total:.1f} MB unzipped, above the {goal_mb:g} MB goal")
    return errors, warnings


def size_table(builds: Sequence[ArchitectureBuild]) -> str:
    rows = [("arch", "artifact", "unzipped MB", "zipped MB")]
    for build in builds:
        for artifact in build.artifacts:
            rows.append((build.arch, artifact.name, f"{artifact.unzipped / MB:.1f}", f"{artifact.zipped / MB:.1f}"))
        totals = build.function_totals()
        for total in totals:
            what = f"TOTAL {total.function} (+ {', '.join(total.layers)})"
            rows.append((build.arch, what, f"{total.unzipped / MB:.1f}", f"{total.zipped / MB:.1f}"))
        if not totals:
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
