"""The declarative feature spec: the one description of every model input.

A spec lists input columns with their types and the features built from them. Training, real-time scoring and
bulk scoring all read it (`aiqleads.features.record` for one lead, `aiqleads.features.columnar` for Arrow
batches). It is stored in each model's manifest, with the parameters learnt at training time (category lists,
historical conversion rates) already filled in, so a model always travels with the exact features it expects.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

InputType = Literal["number", "text", "datetime"]
Kind = Literal["numeric", "categorical", "boolean", "derived"]
Group = Literal["lead_quality", "behaviour", "market", "conversion", "property", "custom"]
Source = Literal["lead", "behaviour", "market", "derived", "table"]
Transform = Literal[
    "number",  # the input as a float; missing -> `fill`
    "category",  # index of the value in `categories`; missing or unseen -> NaN
    "lookup",  # `table[value]`; unseen -> `default`; missing -> NaN
    "present",  # 1 when the input has a value, else 0
    "ratio",  # inputs[0] / inputs[1]; NaN when either is missing or the divisor is 0
    "sum",  # sum of inputs, missing counted as 0
    "completeness",  # share of inputs that have a value
    "keyword_count",  # how many times any of `keywords` occurs in the (lower-cased) text; missing -> NaN
    "email_domain_in",  # 1 when the email's domain is one of `domains`, else 0; missing -> NaN
    "datetime_part",  # `part` (hour, weekday, month) of a UTC date-time; missing -> NaN
    "fade",  # half_at / (half_at + max(x, 0)): 1 at 0, 1/2 at `half_at`, towards 0 as x grows; missing -> 0
]
ValueFormat = Literal[
    "number",
    "integer",
    "count",
    "money",
    "ratio",
    "percent",
    "minutes",
    "hours",
    "yes_no",
    "category",
    "month",
    "weekday",
]
Direction = Literal["up", "down"]
Side = Literal["fit", "engagement"]
VALUE_PLACEHOLDER = "{value}"
Schema = Literal["lead", "table"]


class Feature(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    label: str = Field(description="what a buyer reads in a reason, e.g. 'Lead source'")
    kind: Kind
    group: Group
    source: Source
    transform: Transform
    inputs: list[str] = Field(min_length=1)
    format: ValueFormat = "number"
    fill: float | None = None
    categories: list[str] | None = None
    table: dict[str, float] | None = None
    default: float | None = None
    fit: Literal["categories", "target_rate"] | None = Field(
        default=None, description="parameters learnt from the training data"
    )
    keywords: list[str] | None = None
    domains: list[str] | None = None
    part: Literal["hour", "weekday", "month"] | None = None
    half_at: float | None = Field(default=None, gt=0, description="fade: the input value at which it is 1/2")
    direction: Direction | None = Field(
        default=None,
        description="'up': more of it never lowers the score, 'down': never raises it (training enforces it)",
    )
    reason: str | None = Field(
        default=None, description="a reason's words, `{value}` standing for the lead's value; default 'label: value'"
    )
    none_reason: str | None = Field(
        default=None,
        description="a behaviour feature's words for 'nothing recorded' (e.g. 'No activity recorded yet'); "
        "without them that state is never given as a reason",
    )

    @property
    def side(self) -> Side:
        """Which half of the score it belongs to: engagement (what the lead has done) or fit (who it is)."""
        return "engagement" if self.group == "behaviour" else "fit"

    @property
    def none_value(self) -> float | None:
        """The value a behaviour feature has when nothing is recorded (every behaviour feature starts at 0)."""
        return 0.0 if self.side == "engagement" else None

    @model_validator(mode="after")
    def _parameters(self) -> Feature:
        needs = {
            "fade": self.half_at is not None,
            "ratio": len(self.inputs) == 2,
            "keyword_count": bool(self.keywords),
            "email_domain_in": bool(self.domains),
            "datetime_part": self.part is not None,
            "category": self.categories is not None or self.fit == "categories",
            "lookup": self.table is not None or self.fit == "target_rate",
        }
        if not needs.get(self.transform, True):
            raise ValueError(f"feature {self.name!r}: transform {self.transform!r} is missing its parameters")
        if self.reason is not None and VALUE_PLACEHOLDER not in self.reason:
            raise ValueError(f"feature {self.name!r}: its reason must name the lead's value as {VALUE_PLACEHOLDER}")
        if self.side == "engagement":
            self._check_engagement()
        return self

    def _check_engagement(self) -> None:
        """A behaviour feature is a known 0 when nothing is recorded (never missing) and has a direction, so
        monotone constraints cover every value it takes: first interactions can only move it up from 0."""
        if self.direction is None:
            raise ValueError(f"behaviour feature {self.name!r} must declare its direction ('up' or 'down')")
        known = {"number": self.fill == 0.0, "sum": True, "fade": True}
        if not known.get(self.transform, False):
            raise ValueError(
                f"behaviour feature {self.name!r}: transform {self.transform!r} must give 0 when nothing is "
                "recorded (number with fill 0, sum or fade)"
            )


class FeatureSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    schema_: Schema = Field(default="lead", alias="schema", description="'lead': rows validated as leads")
    inputs: dict[str, InputType]
    features: list[Feature]
    half_life_days: float = Field(
        default=30.0,
        gt=0,
        le=365,
        description="engagement fades: a stored interaction counts half after this many days (training and "
        "serving decay the behaviour counts alike; a tenant's configuration sets it for its own models)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> FeatureSpec:
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate feature names: {duplicates}")
        for feature in self.features:
            unknown = [c for c in feature.inputs if c not in self.inputs]
            if unknown:
                raise ValueError(f"feature {feature.name!r} reads undeclared inputs {unknown}")
        return self

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @staticmethod
    def keyword_pattern(keywords: list[str]) -> str:
        """One regex for a keyword list; both feature paths count its non-overlapping matches."""
        return "|".join(re.escape(keyword) for keyword in keywords)

    def monotone_constraints(self) -> list[int]:
        """LightGBM's monotone_constraints: +1 / -1 per feature with a direction, 0 for the others."""
        return [{"up": 1, "down": -1}.get(f.direction or "", 0) for f in self.features]

    def interaction_sets(self) -> list[list[int]]:
        """LightGBM's interaction_constraints: fit features and engagement features never share a tree, so the
        model's log-odds is a fit part plus an engagement part, each reading only its own features."""
        sides: dict[str, list[int]] = {}
        for j, feature in enumerate(self.features):
            sides.setdefault(feature.side, []).append(j)
        return [sides[side] for side in ("fit", "engagement") if side in sides]

    @property
    def fitted(self) -> bool:
        return all(f.fit is None for f in self.features)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def load(cls, path: Path) -> FeatureSpec:
        return cls.model_validate(json.loads(path.read_text()))


DEFAULT_SPEC_PATH = Path(__file__).with_name("lead_spec.json")


def default_spec() -> FeatureSpec:
    """The spec of the shipped lead model (unfitted: category lists and conversion rates come from training)."""
    return FeatureSpec.load(DEFAULT_SPEC_PATH)
