"""Per architecture: the artifacts built, their unzipped and zipped sizes, the table the build prints and the
check against Lambda's unzipped limit and the size goal, function by function (its zip plus the layers it deploys
with, `layer_sets`; reported per set of layers, by its largest function)."""

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
class LayerSetTotal:
    """The largest function deploying with one set of layers, its zip plus those layers: Lambda's limit is per
    function, and the functions of a set differ by their zips only."""

    layers: tuple[str, ...]
    functions: tuple[str, ...]  # every built function with these layers; none: no function uses them yet
    largest: str | None
    unzipped: int
    zipped: int

    @property
    def label(self) -> str:
        if self.largest is None:
            return f"TOTAL {', '.join(self.layers)} (layers only: no function uses them yet)"
        others = f", largest of {len(self.functions)}" if len(self.functions) > 1 else ""
        return f"TOTAL {self.largest} (+ {', '.join(self.layers)}{others})"

    @property
    def what(self) -> str:
        if self.largest is None:
            return f"layers {', '.join(self.layers)} (before any function's zip)"
        others = (
            f" (the largest of {len(self.functions)} functions with these layers)" if len(self.functions) > 1 else ""
        )
        return f"functions/{self.largest} + layers {', '.join(self.layers)}{others}"


@dataclass
class ArchitectureBuild:
    arch: str
    artifacts: list[Artifact] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    layer_sets: dict[str, FunctionLayers] = field(default_factory=dict)  # function -> its layers (template.yaml)
    # sets of layers to check though no built function uses them (the training layer before functions/training)
    unused_layer_sets: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def unzipped(self) -> int:
        return sum(artifact.unzipped for artifact in self.artifacts)

    @property
    def zipped(self) -> int:
        return sum(artifact.zipped for artifact in self.artifacts)

    def totals(self) -> list[LayerSetTotal]:
        """Per set of layers, the largest function's zip plus those layers, as Lambda adds them up."""
        layers = {artifact.layer: artifact for artifact in self.artifacts if artifact.layer}
        functions = {artifact.function: artifact for artifact in self.artifacts if artifact.function}
        groups: dict[tuple[str, ...], list[str]] = {}
        for name, function in sorted(self.layer_sets.items()):
            if name in functions:
                groups.setdefault(function.layers, []).append(name)
        for unused in self.unused_layer_sets:
            groups.setdefault(unused, [])
        totals = []
        for layer_set, names in groups.items():
            base = [layers[layer] for layer in layer_set]
            largest = max(names, key=lambda name: (functions[name].unzipped, name)) if names else None
            parts = [*base, *([functions[largest]] if largest else [])]
            unzipped, zipped = sum(p.unzipped for p in parts), sum(p.zipped for p in parts)
            totals.append(LayerSetTotal(layer_set, tuple(names), largest, unzipped, zipped))
        return totals


def artifact_for(name: str, zip_path: Path, layer: str | None = None, function: str | None = None) -> Artifact:
    return Artifact(name, zip_path, zip_unzipped_size(zip_path), zip_path.stat().st_size, layer, function)


def _totals(build: ArchitectureBuild) -> list[tuple[str, int]]:
    """(what, unzipped bytes) to check: each set of layers with its largest function, or, with no function to go
    by, everything."""
    totals = build.totals()
    if not totals:
        return [("functions + layers", build.unzipped)]
    return [(total.what, total.unzipped) for total in totals]


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
        totals = build.totals()
        for total in totals:
            rows.append((build.arch, total.label, f"{total.unzipped / MB:.1f}", f"{total.zipped / MB:.1f}"))
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
