"""The domain's data: one pydantic model per concept; JSON Schema, OpenAPI and GraphQL types derive from these.

Cleaning is part of validation: strings are trimmed, emails lower-cased, phones normalised to E.164, slugs
lower-cased, numbers range-checked. Every error names its field. The numeric limits live in `LIMITS` so the
columnar validator (bulk files) enforces exactly the same rules.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Optional, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)

from aiqleads.validation import grammar


class PropertyType(StrEnum):
    SINGLE_FAMILY = "single_family"
    CONDO = "condo"
    TOWNHOUSE = "townhouse"
    MULTI_FAMILY = "multi_family"
    LAND = "land"
    OTHER = "other"


class Intent(StrEnum):
    BUY = "buy"
    SELL = "sell"


class Timeline(StrEnum):
    ASAP = "asap"
    WITHIN_3_MONTHS = "0-3 months"
    WITHIN_6_MONTHS = "3-6 months"
    WITHIN_12_MONTHS = "6-12 months"
    LATER = "12+ months"
    UNKNOWN = "unknown"


class Action(StrEnum):
    VIEW = "view"
    CLICK = "click"
    INQUIRY = "inquiry"
    MESSAGE = "message"
    SCHEDULE = "schedule"
    PURCHASE = "purchase"
    CONTACT = "contact"


class Outcome(StrEnum):
    CONVERTED = "converted"
    LOST = "lost"


class Tier(StrEnum):
    BASIC = "basic"
    PRO = "pro"
    ENTERPRISE = "enterprise"


class Grade(StrEnum):
    A = "A"
    B = "B"
    C = "C"
    D = "D"


# (minimum, maximum) inclusive, shared with the columnar validator.
LIMITS: dict[str, tuple[float, float]] = {
    "price": (1_000, 100_000_000),
    "beds": (0, 50),
    "baths": (0, 50),
    "sqft": (100, 200_000),
    "lat": (-90, 90),
    "lon": (-180, 180),
}
TEXT_MAX = {"id": 128, "name": 200, "description": 5000, "source": 64, "market": 64}
CREATED_AT_YEARS = (2000, 2100)


def _email(value: str) -> str:
    return grammar.normalize_email(value)


def _phone(value: str) -> str:
    return grammar.normalize_phone(value)


def _slug(value: str) -> str:
    return grammar.normalize_slug(value)


def _created_at(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=grammar.UTC)
    value = value.astimezone(grammar.UTC)
    low, high = CREATED_AT_YEARS
    if not low <= value.year <= high:
        raise ValueError(f"year must be between {low} and {high}")
    return value


# The schemas state what the validators check, so a client generating from the OpenAPI sends what is accepted: the
# compact forms (the validators also take a phone's separators, and any case in a slug, and normalise).
SLUG_SCHEMA_PATTERN = r"^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$"
PHONE_SCHEMA_PATTERN = f"({grammar.NANP_PATTERN})|({grammar.INTERNATIONAL_PATTERN})"
# An ISO 8601 date-time in UTC years 2000-2100, as a pattern (not `format: date-time` with a year pattern, which
# generators can only meet by filtering): years 2001-2099 in its own offset (any offset keeps it inside 2000-2100),
# a day that exists in its month (29 February left out), seconds, an optional fraction and offset.
DATETIME_SCHEMA_PATTERN = (
    r"^(200[1-9]|20[1-9][0-9])-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])?$"
)
DATETIME_SCHEMA = {"type": "string", "pattern": DATETIME_SCHEMA_PATTERN, "description": "ISO 8601 date-time"}
Email = Annotated[str, AfterValidator(_email), Field(json_schema_extra={"pattern": grammar.EMAIL_PATTERN})]
Phone = Annotated[str, AfterValidator(_phone), Field(json_schema_extra={"pattern": PHONE_SCHEMA_PATTERN})]
Slug = Annotated[
    str,
    Field(min_length=1, max_length=TEXT_MAX["market"], json_schema_extra={"pattern": SLUG_SCHEMA_PATTERN}),
    AfterValidator(_slug),
]
UtcDatetime = Annotated[datetime, AfterValidator(_created_at), WithJsonSchema(DATETIME_SCHEMA)]


class IdentifierMark:
    """Annotated metadata: the field holds an identifier (GraphQL types it `ID`; JSON Schema is unchanged)."""

    def __repr__(self) -> str:
        return "IDENTIFIER"


IDENTIFIER = IdentifierMark()
Id = Annotated[str, IDENTIFIER]
"""A string that identifies something (a lead, a buyer, a recommendation, a job): the one rule GraphQL's ID follows."""

ID_PATTERN = grammar.ID_PATTERN
ClientId = Annotated[
    str,
    IDENTIFIER,
    Field(min_length=1, max_length=TEXT_MAX["id"], pattern=ID_PATTERN, description=f"an id you choose: {ID_PATTERN}"),
]
"""An id a client chooses (a lead's, a buyer's): one alphabet, enforced at creation, so it reads back by URL."""

# Free-form lead attributes: bounded so that a stored lead stays far below DynamoDB's 400 KB item limit.
ATTRIBUTES_MAX_KEYS = 50
ATTRIBUTE_KEY_MAX = 64
ATTRIBUTE_VALUE_MAX = 1000
ATTRIBUTES_MAX_BYTES = 32 * 1024  # serialized as JSON (UTF-8): the bound that holds whatever the characters
AttributeKey = Annotated[str, StringConstraints(min_length=1, max_length=ATTRIBUTE_KEY_MAX)]
AttributeValue = Annotated[str, StringConstraints(max_length=ATTRIBUTE_VALUE_MAX)] | int | float | bool | None


def _bounded(name: str) -> Any:
    low, high = LIMITS[name]
    return Field(default=None, ge=low, le=high)


class Model(BaseModel):
    # NaN and infinities (JSON's NaN, Infinity, 1e400) are refused: no stored or scored number can hold them.
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid", use_enum_values=False, allow_inf_nan=False)

    # A nested field's flat column is its own name unless that would be ambiguous in a flat row.
    flat_names: ClassVar[dict[str, str]] = {}


class Contact(Model):
    name: str | None = Field(default=None, max_length=TEXT_MAX["name"])
    email: Email | None = None
    phone: Phone | None = None


class Property(Model):
    type: PropertyType | None = None
    price: float | None = _bounded("price")
    beds: int | None = _bounded("beds")
    baths: float | None = _bounded("baths")
    sqft: float | None = _bounded("sqft")
    lat: float | None = _bounded("lat")
    lon: float | None = _bounded("lon")
    market: Slug

    flat_names: ClassVar[dict[str, str]] = {"type": "property_type"}


def _reachable_by(field: str) -> dict[str, Any]:
    """The schema of `Lead._reachable` for one way of reaching the lead."""
    contact = {"properties": {field: {"type": "string"}}, "required": [field]}
    return {"properties": {"contact": contact}, "required": ["contact"]}


class Lead(Model):
    """A lead as it arrives; the tenant comes from the caller's API key, never from the body."""

    model_config = ConfigDict(
        **Model.model_config, json_schema_extra={"anyOf": [_reachable_by("email"), _reachable_by("phone")]}
    )

    id: ClientId
    source: Slug
    created_at: UtcDatetime | None = None
    contact: Contact = Field(default_factory=Contact)
    property: Property
    intent: Intent
    timeline: Timeline = Timeline.UNKNOWN
    description: str | None = Field(default=None, max_length=TEXT_MAX["description"])
    attributes: dict[AttributeKey, AttributeValue] = Field(
        default_factory=dict,
        max_length=ATTRIBUTES_MAX_KEYS,
        description=f"free-form: at most {ATTRIBUTES_MAX_KEYS} keys of up to {ATTRIBUTE_KEY_MAX} characters, string "
        f"values up to {ATTRIBUTE_VALUE_MAX} characters, {ATTRIBUTES_MAX_BYTES} bytes as JSON in all",
    )

    # Free-form attributes have no column of their own in the flat form.
    not_flat: ClassVar[frozenset[str]] = frozenset({"attributes"})

    @field_validator("attributes")
    @classmethod
    def _attributes_size(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > ATTRIBUTES_MAX_BYTES:
            raise ValueError(f"attributes must be at most {ATTRIBUTES_MAX_BYTES} bytes as JSON, got {size}")
        return value

    @model_validator(mode="after")
    def _reachable(self) -> Lead:
        if self.contact.email is None and self.contact.phone is None:
            raise ValueError("a lead needs an email or a phone to be reachable")
        return self

    def flat(self) -> dict[str, Any]:
        """The flat form used by bulk files and the feature builders (enums as their values, numbers as floats)."""
        return {column: read(self) for column, read in _FLAT_READERS}


def _flat_paths() -> dict[str, tuple[str, ...]]:
    paths: dict[str, tuple[str, ...]] = {}
    for name, info in Lead.model_fields.items():
        nested = info.annotation
        if isinstance(nested, type) and issubclass(nested, Model):
            for inner in nested.model_fields:
                paths[nested.flat_names.get(inner, inner)] = (name, inner)
        elif name not in Lead.not_flat:
            paths[name] = (name,)
    return paths


LEAD_FLAT_PATHS: dict[str, tuple[str, ...]] = _flat_paths()
"""Each flat column of a lead (in file order) and where it sits in the nested wire format."""


def flat_types(column: str) -> frozenset[Any]:
    """The value types a flat lead column can hold (None left out), e.g. {float} for price."""
    *outer, name = LEAD_FLAT_PATHS[column]
    model: Any = Lead.model_fields[outer[0]].annotation if outer else Lead
    annotation = model.model_fields[name].annotation
    found = set()
    for kind in get_args(annotation) if get_origin(annotation) in (Union, UnionType) else (annotation,):
        found.add(get_args(kind)[0] if get_origin(kind) is Annotated else kind)
    return frozenset(found - {type(None)})


def _flat_reader(column: str) -> Callable[[Lead], Any]:
    get = attrgetter(".".join(LEAD_FLAT_PATHS[column]))
    kinds = flat_types(column)
    if any(isinstance(kind, type) and issubclass(kind, StrEnum) for kind in kinds):
        return lambda lead: None if (value := get(lead)) is None else value.value
    if int in kinds:
        return lambda lead: None if (value := get(lead)) is None else float(value)
    return get


# One precomputed reader per column: Lead.flat() runs once per scored lead.
_FLAT_READERS: tuple[tuple[str, Callable[[Lead], Any]], ...] = tuple((c, _flat_reader(c)) for c in LEAD_FLAT_PATHS)


class Interaction(Model):
    lead_id: ClientId
    actor: str = Field(
        min_length=1, max_length=TEXT_MAX["id"], pattern=ID_PATTERN, description="'lead' or the id of a buyer"
    )
    action: Action
    timestamp: UtcDatetime


class Conversion(Model):
    lead_id: ClientId
    outcome: Outcome
    at: UtcDatetime


Via = Literal["api", "bulk"]


class LeadOutcome(BaseModel):
    """One recorded outcome of a lead, as a dataset builder reads it: the label, when it happened (and whether
    the reporter said so or it is the upload's time), when we learned it, and who reported it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lead_id: Id
    outcome: Outcome
    at: datetime
    at_reported: bool
    recorded_at: datetime
    via: Via
    job_id: Id | None = None  # the bulk job whose upload carried it


def latest_outcomes(outcomes: Iterable[LeadOutcome]) -> dict[str, LeadOutcome]:
    """Each lead's outcome: its latest by `at` (a later report supersedes, e.g. lost then won back)."""
    latest: dict[str, LeadOutcome] = {}
    for outcome in outcomes:
        known = latest.get(outcome.lead_id)
        if known is None or (outcome.at, outcome.recorded_at) >= (known.at, known.recorded_at):
            latest[outcome.lead_id] = outcome
    return latest


PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"


class MarketSignals(Model):
    """One market's signals for one month: the body of PUT /v1/markets/{market}/snapshots/{period}."""

    median_price: float = Field(gt=0)
    inventory: int = Field(ge=0)
    days_on_market: float = Field(ge=0)
    views: int = Field(default=0, ge=0)
    inquiries: int = Field(default=0, ge=0)
    offers: int = Field(default=0, ge=0)
    price_trend: float = Field(default=0.0, ge=-1, le=10, description="fractional change over 3 months")


class MarketPeriod(Model):
    market: Slug
    period: str = Field(pattern=PERIOD_PATTERN, description="calendar month, YYYY-MM")


# MarketSignals first among the bases: pydantic orders fields from the last base on, so market and period lead.
class MarketSnapshot(MarketSignals, MarketPeriod):
    """A market's signals in one month (a tenant's own: MarketSignalsTable is keyed by tenant and market)."""


class BuyerPreferences(Model):
    property_types: list[PropertyType] = Field(default_factory=list)
    price_min: float | None = Field(default=None, ge=0)
    price_max: float | None = Field(default=None, ge=0)
    markets: list[Slug] = Field(default_factory=list)

    @model_validator(mode="after")
    def _price_range(self) -> BuyerPreferences:
        if self.price_min is not None and self.price_max is not None and self.price_min > self.price_max:
            raise ValueError("price_min must not exceed price_max")
        return self


class Buyer(Model):
    id: ClientId
    name: str | None = Field(default=None, max_length=TEXT_MAX["name"])
    tier: Tier = Tier.BASIC
    authorised_markets: list[Slug] = Field(default_factory=list)
    preferences: BuyerPreferences = Field(default_factory=BuyerPreferences)
    purchased_lead_ids: list[Id] = Field(default_factory=list)


class Reason(Model):
    # Frozen: scoring hands out one shared instance per (feature bin, direction) instead of building four per lead.
    model_config = ConfigDict(frozen=True)

    feature: str
    direction: Literal["up", "down"]
    text: str
    impact: float = Field(description="log-odds contribution, positive raises the score")


class Score(Model):
    lead_id: Id
    probability: float = Field(ge=0, le=1)
    score: int = Field(ge=0, le=100)
    grade: Grade
    fit: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="who the lead is (property, price against its market, source, timeline, contact quality): its "
        "percentile among the model's training leads; never moved by behaviour",
    )
    engagement: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="what the lead has done (interactions and their recency, fading with time): 0 with nothing "
        "recorded, else the percentile of its lift among engaged training leads; never moved by lead fields",
    )
    matrix_grade: str | None = Field(
        default=None,
        pattern=r"^[A-D][1-3]$",
        description="letter from fit (A from 75, B 50, C 25, else D), digit from engagement (1 from 67, 2 from 33, "
        "else 3): A1 fits and engages, D3 neither",
    )
    reasons: list[Reason]
    model_version: str
    # Which baseline bin each model input fell in (monitoring.baseline.InputCodes), stored on the score item for
    # drift monitoring; private: never in a response, a schema or a history entry.
    _inputs: str | None = PrivateAttr(default=None)


class ScoreCause(StrEnum):
    """Why a lead's score was (re)written: what a score history entry records."""

    INGEST = "ingest"  # stored and scored: the API (single, batch) or a bulk upload
    EVENT = "event"  # an interaction moved the score or the grade
    RESCORING = "rescoring"  # a scheduled rescoring of open leads
    PROMOTION = "promotion"  # the rescoring after a new model was promoted


class TrendDirection(StrEnum):
    IMPROVING = "improving"
    STEADY = "steady"
    DECLINING = "declining"


class ScoreTrend(Model):
    """How the score moved over the last `window_days` (aiqleads/leads/trend.py defines the rule)."""

    direction: TrendDirection
    delta: int = Field(description="score points now minus the score in force at the window's start")
    since: datetime = Field(description="when the score it is compared with was written")
    window_days: int = Field(ge=1)


# Score fields a history entry has carried from the start: any other (added to Score later) is optional on an
# entry, since entries written before the field existed do not have it.
_HISTORY_ORIGINAL_FIELDS = frozenset({"probability", "score", "grade", "model_version"})
HISTORY_EXCLUDED_FIELDS = frozenset({"lead_id", "reasons"})  # the path names the lead; reasons are not kept


def _history_fields() -> dict[str, Any]:
    fields: dict[str, Any] = {
        "at": (datetime, Field(description="when the score was written")),
        "cause": (ScoreCause, Field(description="what wrote it: ingest, event, rescoring or promotion")),
    }
    for name, info in Score.model_fields.items():
        if name in HISTORY_EXCLUDED_FIELDS:
            continue
        if name in _HISTORY_ORIGINAL_FIELDS or not info.is_required():
            fields[name] = (info.annotation, info)
        else:
            fields[name] = (Optional[info.annotation], Field(default=None, description=info.description))  # noqa: UP045
    return fields


# Derived from Score (all its fields but the lead id and the reasons), so a field added to Score is kept in the
# history and served by REST and GraphQL without another definition.
ScoreHistoryEntry: type[Model] = create_model(
    "ScoreHistoryEntry",
    __base__=Model,
    __doc__="One written score of a lead: when, why, and the score's fields (newest first in a history).",
    **_history_fields(),
)


class NextBestAction(Model):
    action: Literal["call_now", "schedule_viewing", "request_valuation", "send_email", "send_text", "nurture"]
    priority: Literal["high", "medium", "low"]
    reason: str


class RecommendationMetadata(Model):
    """What produced a recommendation: the model, how sure it is, and every input ranking used."""

    confidence: float = Field(
        ge=0, le=1, description="share of the lead's descriptive fields that are filled in (evidence behind the score)"
    )
    features_used: list[str]
    probability: float = Field(ge=0, le=1)
    rank_score: float = Field(ge=0, description="probability x fit x freshness: the order of the list")
    fit: float = Field(ge=0)
    freshness: float = Field(ge=0, le=1)
    fraud_signal: float = Field(ge=0, le=1)
    as_of: str = Field(description="the time ranking was computed at (freshness and purchases count up to it)")


class Recommendation(Model):
    buyer_id: Id
    lead_id: Id
    rank: int = Field(ge=1)
    score: Score
    insights: list[str] = Field(default_factory=list)
    next_best_actions: list[str] = Field(default_factory=list, description="action names, most urgent first")
    model_version: str
    id: Id | None = Field(default=None, description="stable per buyer and lead: GET/PATCH /v1/recommendations/{id}")
    market: str | None = None
    source: str | None = None
    actions: list[NextBestAction] = Field(default_factory=list, description="next-best actions with priority")
    metadata: RecommendationMetadata | None = None


FeedbackStatus = Literal[
    "new", "contacted", "appointment_set", "converted", "not_interested", "unreachable", "dismissed"
]


class RecommendationFeedback(Model):
    """A buyer's verdict on a recommendation, stored for training (at least one field)."""

    accuracy: int | None = Field(default=None, ge=1, le=5, description="1-5: was the score right about this lead?")
    usefulness: int | None = Field(default=None, ge=1, le=5, description="1-5: was it worth the buyer's time?")
    status: FeedbackStatus | None = None
    notes: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _something(self) -> RecommendationFeedback:
        if self.accuracy is None and self.usefulness is None and self.status is None and not self.notes:
            raise ValueError("give at least one of accuracy, usefulness, status, notes")
        return self


class PurchaseRequest(Model):
    lead_id: ClientId
    exclusive: bool = Field(default=False, description="an exclusive purchase: no other buyer can get the lead")
    price_paid: float | None = Field(default=None, ge=0)
