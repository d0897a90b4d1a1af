"""LeadsTable: a tenant's leads, their current scores and their conversions.

    pk = <tenant>#<lead id>
    sk = lead | score | conversion#<at> | history#<at, microseconds>#<suffix>
    ScoreIndex   (score items)       gsi1pk = <tenant>#<market>,   gsi1sk = <score 000-100>#<lead id>
    TenantIndex  (lead items)        gsi2pk = <tenant>,            gsi2sk = <created_at>#<lead id>
                 (conversion items)  gsi2pk = <tenant>#outcomes,   gsi2sk = <at>#<lead id>

A history item is one written score (`history_item`): every writer of a score item writes it in the same
TransactWriteItems (API ingest, events) or the same BatchWriteItem call (bulk, rescoring), so the two cannot
diverge; its sk's suffix derives from the cause, the event or job id and the score, so a retried write puts the
same item. It carries no index attribute (neither `recent` nor the ScoreIndex sees it) and expires with the
retention (`expires_at`, ScoreHistoryRetentionDays). `get` reads the partition around the history items (two
key ranges) and `history` reads them alone, newest first.

Shadow scores live in their own partitions, `<tenant>#shadow#<version>` (storage/shadow.py).

The lead is stored as its JSON wire form (exact round trip, no Decimal conversions); the score's number fields
are attributes so the index and filters can use them.

An outcome, converted or lost, is a conversion item whoever reported it (`POST /v1/conversions` or a bulk
upload's `outcome` column): `at` when it happened, `recorded_at` when we learned it, `at_reported` false when the
upload gave no `outcome_at` (then `at` is the upload's time: the latest it can have happened). A lead with no
conversion item has no known outcome. Conversion items sit in their own TenantIndex partition, so a training job
reads a tenant's outcomes in time order (`LeadRepository.outcomes`) without walking its leads, and `recent`
never sees them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.errors import Conflict
from aiqleads.iam import Access, access
from aiqleads.leads import trend
from aiqleads.leads.history import HistoryStamp
from aiqleads.models import (
    HISTORY_EXCLUDED_FIELDS,
    Conversion,
    Lead,
    Score,
    ScoreCause,
    ScoreHistoryEntry,
    ScoreTrend,
    Via,
)

# The domain's (models.py), named here too for the readers of outcomes, which get them from this module.
from aiqleads.models import LeadOutcome as LeadOutcome
from aiqleads.models import latest_outcomes as latest_outcomes
from aiqleads.notifications.domain_events import DomainEvent
from aiqleads.recommendations.card import LeadCard
from aiqleads.storage.aws import DynamoTable, condition_failed
from aiqleads.storage.batch import BATCH_GET_LIMIT, batch_get, batch_put, batch_write_json
from aiqleads.storage.codec import decode_item, encode_item, encode_value
from aiqleads.storage.outbox import Outbox

LEAD_SK = "lead"
SCORE_SK = "score"
CONVERSION_PREFIX = "conversion#"
OUTCOMES_PARTITION = "#outcomes"  # after the tenant id: TenantIndex's partition of the tenant's conversion items
HISTORY_PREFIX = "history#"
AFTER_HISTORY = "history$"  # sorts after every history# key ("$" follows "#"): where `get`'s upper range starts
HISTORY_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width: the sk sorts in time order
DEFAULT_HISTORY_RETENTION_DAYS = 180  # template.yaml: ScoreHistoryRetentionDays

HALVES = ("fit", "engagement", "matrix_grade")  # a score item has them when its model does


def lead_key(tenant_id: str, lead_id: str) -> str:
    return f"{tenant_id}#{lead_id}"


def _iso(value: datetime | None) -> str:
    return (value or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conversion_item(
    tenant_id: str,
    lead_id: str,
    outcome: str,
    at: datetime,
    *,
    recorded_at: datetime | None = None,
    via: Via = "api",
    at_reported: bool = True,
    job_id: str | None = None,
) -> dict[str, Any]:
    """A conversion item (plain values): the one shape of an outcome, whoever reports it."""
    at_text = _iso(at)
    item: dict[str, Any] = {
        "pk": lead_key(tenant_id, lead_id),
        "sk": f"{CONVERSION_PREFIX}{at_text}",
        "tenant_id": tenant_id,
        "lead_id": lead_id,
        "outcome": outcome,
        "at": at_text,
        "recorded_at": _iso(recorded_at),
        "at_reported": at_reported,
        "via": via,
        "gsi2pk": f"{tenant_id}{OUTCOMES_PARTITION}",
        "gsi2sk": f"{at_text}#{lead_id}",
    }
    if job_id is not None:
        item["job_id"] = job_id
    return item


def outcome_from_item(item: dict[str, Any]) -> LeadOutcome:
    """A decoded conversion item; one stored before items said when and by whom counts as reported by the API."""
    return LeadOutcome(
        lead_id=item["lead_id"],
        outcome=item["outcome"],
        at=item["at"],
        at_reported=item.get("at_reported", True),
        recorded_at=item.get("recorded_at", item["at"]),
        via=item.get("via", "api"),
        job_id=item.get("job_id"),
    )


def history_time(at: datetime) -> str:
    return at.astimezone(UTC).strftime(HISTORY_TIME)


def history_suffix(cause: str, key: str, content: str = "") -> str:
    """The sk's last part: the same cause, event or job id (`key`) and score give the same item."""
    return hashlib.sha256(f"{cause}|{key}|{content}".encode()).hexdigest()[:16]


def history_fields(score: Score) -> dict[str, Any]:
    """The score as a history entry keeps it: every field but the lead id and the reasons (a field added to Score
    is kept without a change here)."""
    return score.model_dump(mode="json", exclude=set(HISTORY_EXCLUDED_FIELDS))


def history_item(
    tenant_id: str, score: Score, stamp: HistoryStamp, retention_days: int = DEFAULT_HISTORY_RETENTION_DAYS
) -> dict[str, Any]:
    """A history item (plain values): no index attributes, `expires_at` the retention after `at`."""
    fields = history_fields(score)
    at = history_time(stamp.at)
    content = "" if stamp.key else json.dumps(fields, sort_keys=True)  # an event or job id is key enough
    suffix = history_suffix(stamp.cause.value, stamp.key, content)
    return {
        "pk": lead_key(tenant_id, score.lead_id),
        "sk": f"{HISTORY_PREFIX}{at}#{suffix}",
        "tenant_id": tenant_id,
        "lead_id": score.lead_id,
        "at": at,
        "cause": stamp.cause.value,
        **fields,
        "expires_at": int((stamp.at + timedelta(days=retention_days)).timestamp()),
    }


def history_entry(item: Mapping[str, Any]) -> Any:
    """A decoded history item as a `ScoreHistoryEntry` (fields it has, of those the entry names)."""
    names = ScoreHistoryEntry.model_fields
    return ScoreHistoryEntry.model_validate({name: item[name] for name in names if name in item})


@dataclass(frozen=True, slots=True)
class LeadRecord:
    """A stored lead with its current score and recorded outcomes."""

    lead: Lead
    score: Score | None
    conversions: list[Conversion]
    stored_at: str | None = None
    scored_at: str | None = None
    recent_scores: tuple[trend.Point, ...] = ()  # the score item's points for the trend (leads/trend.py)

    def trend(self, now: datetime) -> ScoreTrend | None:
        """The score's trend at `now` (None without a score or points)."""
        return None if self.score is None else trend.trend(self.recent_scores, now, self.score.score)


class LeadBatchWriter(DynamoTable):
    """Upserts of lead and score items in bulk (the bulk job, the demo seeder): BatchWriteItem only."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:BatchWriteItem", on="table_name"),)

    def write_items(self, items: Iterable[dict[str, Any]]) -> int:
        """Upsert plain items (LeadRepository.lead_item/score_item dicts) with BatchWriteItem."""
        return batch_put(self.dynamodb, self.table_name, items)

    def write_requests(self, requests: Sequence[str]) -> int:
        """Upsert items given as the JSON of their put requests (`storage.lead_items`) with BatchWriteItem."""
        return batch_write_json(self.dynamodb, self.table_name, requests)


class LeadHistoryReader(DynamoTable):
    """A tenant's whole history, for a training set: every stored lead (TenantIndex, page by page, then the items
    by BatchGetItem: the index holds keys only) and every recorded outcome. Reads only."""

    IAM: ClassVar[tuple[Access, ...]] = (
        access("dynamodb:BatchGetItem", on="table_name"),
        access("dynamodb:Query", on="table_name", path="index/TenantIndex"),
    )

    def leads(self, tenant_id: str, page_size: int = 1000) -> Iterator[Lead]:
        """Every lead of the tenant, oldest first, each with its `created_at` (a lead stored without one has the
        time it was stored, as its index key does)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "TenantIndex",
            "KeyConditionExpression": "gsi2pk = :tenant",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}},
            "PaginationConfig": {"PageSize": page_size},
        }
        for page in self.dynamodb.get_paginator("query").paginate(**request):
            pks = [item["pk"]["S"] for item in page.get("Items", [])]
            for start in range(0, len(pks), BATCH_GET_LIMIT):
                found = self._lead_items(pks[start : start + BATCH_GET_LIMIT])
                for pk in pks[start : start + BATCH_GET_LIMIT]:
                    if pk in found:  # else deleted between the index read and this one
                        yield found[pk]

    def _lead_items(self, pks: Sequence[str]) -> dict[str, Lead]:
        keys = [{"pk": {"S": pk}, "sk": {"S": LEAD_SK}} for pk in pks]
        found: dict[str, Lead] = {}
        for raw in batch_get(self.dynamodb, self.table_name, keys):
            item = decode_item(raw)
            lead = Lead.model_validate_json(item["lead"])
            if lead.created_at is None:
                lead = lead.model_copy(update={"created_at": datetime.fromisoformat(item["created_at"])})
            found[item["pk"]] = lead
        return found

    def outcomes(self, tenant_id: str, since: datetime | None = None) -> list[LeadOutcome]:
        """Every outcome recorded for the tenant's leads (API and bulk alike), oldest first; with `since`, those
        that happened at or after it. `latest_outcomes` gives each lead's current one; a lead absent from both
        has no known outcome."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "TenantIndex",
            "KeyConditionExpression": "gsi2pk = :partition",
            "ExpressionAttributeValues": {":partition": {"S": f"{tenant_id}{OUTCOMES_PARTITION}"}},
        }
        if since is not None:
            request["KeyConditionExpression"] += " AND gsi2sk >= :since"
            request["ExpressionAttributeValues"][":since"] = {"S": _iso(since)}
        pages = self.dynamodb.get_paginator("query").paginate(**request)
        keys = [{"pk": item["pk"], "sk": item["sk"]} for page in pages for item in page.get("Items", [])]
        found: dict[tuple[str, str], LeadOutcome] = {}
        for raw in batch_get(self.dynamodb, self.table_name, keys):  # the index holds keys only: the items say the rest
            item = decode_item(raw)
            found[item["pk"], item["sk"]] = outcome_from_item(item)
        ordered = (found.get((key["pk"]["S"], key["sk"]["S"])) for key in keys)
        return [outcome for outcome in ordered if outcome is not None]


class LeadRepository(LeadHistoryReader):
    IAM: ClassVar[tuple[Access, ...]] = (
        # create and put_score (transactions of puts and an update), put_conversion; get, history; exists,
        # recent and outcomes
        access("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchGetItem", on="table_name"),
        access("dynamodb:Query", on="table_name", path="index/TenantIndex"),  # recent, outcomes
    )

    def __init__(
        self,
        table_name: str,
        dynamodb: Any | None = None,
        *,
        history_retention_days: int = DEFAULT_HISTORY_RETENTION_DAYS,
        clock: Callable[[], datetime] | None = None,
        outbox: Outbox | None = None,
    ):
        super().__init__(table_name, dynamodb)
        self.history_retention_days = history_retention_days
        self.clock = clock or (lambda: datetime.now(UTC))
        self.outbox = outbox  # where `announce`d events are written, in the write's own transaction

    def _announcing(self, announce: DomainEvent | None) -> list[dict[str, Any]]:
        if announce is None:
            return []
        if self.outbox is None:
            raise RuntimeError("an event to announce, but this repository has no outbox")
        return [self.outbox.transaction_put(announce)]

    # ---------------------------------------------------------------- items
    def lead_item(self, tenant_id: str, lead: Lead) -> dict[str, Any]:
        created = _iso(lead.created_at)
        return {
            "pk": lead_key(tenant_id, lead.id),
            "sk": LEAD_SK,
            "tenant_id": tenant_id,
            "lead_id": lead.id,
            "market": lead.property.market,
            "source": lead.source,
            "created_at": created,
            "stored_at": _iso(None),
            "lead": lead.model_dump_json(exclude_none=True),
            "gsi2pk": tenant_id,
            "gsi2sk": f"{created}#{lead.id}",
        }

    def score_item(
        self,
        tenant_id: str,
        market: str,
        score: Score,
        lead: Lead | None = None,
        recent: Sequence[trend.Point] | None = None,
    ) -> dict[str, Any]:
        """The score item; with the lead, its card (what ranking needs) rides along, so the ScoreIndex returns
        recommendation candidates ready to rank; with `recent`, the trend's points (leads/trend.py)."""
        item = {
            "pk": lead_key(tenant_id, score.lead_id),
            "sk": SCORE_SK,
            "tenant_id": tenant_id,
            "lead_id": score.lead_id,
            "market": market,
            "probability": score.probability,
            "score": score.score,
            "grade": score.grade.value,
            "reasons": json.dumps([reason.model_dump() for reason in score.reasons]),
            "model_version": score.model_version,
            "scored_at": _iso(None),
            "gsi1pk": f"{tenant_id}#{market}",
            "gsi1sk": f"{score.score:03d}#{score.lead_id}",
        }
        item |= {name: value for name in HALVES if (value := getattr(score, name)) is not None}
        if score._inputs is not None:
            item["inputs"] = score._inputs  # what the model saw, in its baseline's bins: drift monitoring reads it
        if lead is not None:
            item["card"] = json.dumps(LeadCard.of(lead).as_dict(), separators=(",", ":"))
        if recent is not None:
            item["recent_scores"] = trend.dumps(recent)
        return item

    def history_item(self, tenant_id: str, score: Score, stamp: HistoryStamp) -> dict[str, Any]:
        return history_item(tenant_id, score, stamp, self.history_retention_days)

    # ---------------------------------------------------------------- writes
    def create(
        self,
        tenant_id: str,
        lead: Lead,
        score: Score,
        stamp: HistoryStamp | None = None,
        announce: DomainEvent | None = None,
    ) -> None:
        """Store a new lead, its score, the score's history item and the event `announce` (to the outbox)
        atomically (cause `ingest` unless `stamp` says otherwise); an existing id is a conflict (never
        overwritten, nothing announced)."""
        stamp = stamp or HistoryStamp(self.clock(), ScoreCause.INGEST)
        recent = trend.extend([], stamp.at, score.score)
        score_item = self.score_item(tenant_id, lead.property.market, score, lead, recent)
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": encode_item(self.lead_item(tenant_id, lead)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table_name, "Item": encode_item(score_item)}},
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": encode_item(self.history_item(tenant_id, score, stamp)),
                        }
                    },
                    *self._announcing(announce),
                ]
            )
        except ClientError as error:
            if condition_failed(error):
                raise Conflict(f"lead {lead.id!r} already exists", {"id": lead.id}) from None
            raise

    def put_score(
        self,
        tenant_id: str,
        market: str,
        score: Score,
        stamp: HistoryStamp,
        recent: Sequence[trend.Point] = (),
        announce: DomainEvent | None = None,
    ) -> None:
        """Replace the score's attributes (UpdateItem: the lead's card and sale marks on the item stay) and put its
        history item and the event `announce` (to the outbox), in one transaction; `recent` are the points the
        replaced item had (the new one is added)."""
        item = self.score_item(tenant_id, market, score, recent=trend.extend(recent, stamp.at, score.score))
        key = {"pk": encode_value(item.pop("pk")), "sk": encode_value(item.pop("sk"))}
        names = {f"#a{i}": name for i, name in enumerate(item)}
        update = {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(item))),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":a{i}": encode_value(value) for i, value in enumerate(item.values())},
        }
        history = encode_item(self.history_item(tenant_id, score, stamp))
        self.dynamodb.transact_write_items(
            TransactItems=[
                {"Update": update},
                {"Put": {"TableName": self.table_name, "Item": history}},
                *self._announcing(announce),
            ]
        )

    def put_conversion(self, tenant_id: str, conversion: Conversion) -> None:
        item = conversion_item(tenant_id, conversion.lead_id, conversion.outcome.value, conversion.at)
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(item))

    # ---------------------------------------------------------------- reads
    def get(self, tenant_id: str, lead_id: str, *, conversions: bool = True) -> LeadRecord | None:
        """The lead, its score and its conversions: the partition but its history items, in two key ranges (after
        `history#`: lead, sale, score; before it: the conversions, not read with `conversions` False), so a long
        history costs `get` nothing."""
        pk = {":pk": {"S": lead_key(tenant_id, lead_id)}}
        items: list[dict[str, Any]] = []
        ranges = (("sk > :bound", AFTER_HISTORY), ("sk < :bound", HISTORY_PREFIX))
        for condition, bound in ranges if conversions else ranges[:1]:
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "KeyConditionExpression": f"pk = :pk AND {condition}",
                "ExpressionAttributeValues": {**pk, ":bound": {"S": bound}},
            }
            for page in self.dynamodb.get_paginator("query").paginate(**request):
                items.extend(decode_item(item) for item in page.get("Items", []))
            if not any(item["sk"] == LEAD_SK for item in items):
                return None  # no lead: its conversions (if any) are not read
        lead_items = [item for item in items if item["sk"] == LEAD_SK]
        lead_item = lead_items[0]
        score_items = [item for item in items if item["sk"] == SCORE_SK]
        return LeadRecord(
            lead=Lead.model_validate_json(lead_item["lead"]),
            score=self.score_from_item(score_items[0]) if score_items else None,
            conversions=[
                Conversion(lead_id=lead_id, outcome=item["outcome"], at=item["at"])
                for item in items
                if item["sk"].startswith(CONVERSION_PREFIX)
            ],
            stored_at=lead_item.get("stored_at"),
            scored_at=score_items[0].get("scored_at") if score_items else None,
            recent_scores=tuple(trend.loads(score_items[0].get("recent_scores"))) if score_items else (),
        )

    def history(
        self, tenant_id: str, lead_id: str, limit: int, after: str | None = None
    ) -> tuple[list[tuple[str, Any]], str | None] | None:
        """Up to `limit` history entries of the lead (each with its sk), newest first, after the entry whose sk is `after`, and the
        sk to resume after (None at the end); None when the tenant has no such lead. One Query: the range from
        `history#` to `lead` read backwards starts with the lead item itself (its existence check), then the
        history; a page that resumes checks the lead with BatchGetItem instead."""
        pk = lead_key(tenant_id, lead_id)
        upper = after if after is not None else LEAD_SK
        if after is not None and not self.exists(tenant_id, [lead_id]):
            return None
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":low": {"S": HISTORY_PREFIX}, ":high": {"S": upper}},
            "ScanIndexForward": False,
        }
        wanted = limit + 1 + (1 if after is None else 0)  # the lead item on the first page; one more: is there more?
        found: list[dict[str, Any]] = []
        seen_lead = after is not None
        for page in self.dynamodb.get_paginator("query").paginate(**request, PaginationConfig={"PageSize": wanted}):
            for raw in page.get("Items", []):
                item = decode_item(raw)
                if item["sk"] == LEAD_SK:
                    seen_lead = True
                elif item["sk"].startswith(HISTORY_PREFIX) and item["sk"] != after:
                    found.append(item)
            if len(found) > limit:
                break
        if not seen_lead:
            return None
        more = len(found) > limit
        found = found[:limit]
        return [(item["sk"], history_entry(item)) for item in found], (found[-1]["sk"] if more and found else None)

    def exists(self, tenant_id: str, lead_ids: Sequence[str]) -> set[str]:
        """Which of `lead_ids` the tenant has (BatchGetItem, 100 keys per call)."""
        keys = [{"pk": {"S": lead_key(tenant_id, i)}, "sk": {"S": LEAD_SK}} for i in dict.fromkeys(lead_ids)]
        return {
            item["lead_id"]["S"]
            for item in batch_get(self.dynamodb, self.table_name, keys, ProjectionExpression="lead_id")
        }

    def recent(
        self, tenant_id: str, limit: int, start_after: dict[str, str] | None = None
    ) -> tuple[list[tuple[LeadRecord, dict[str, str]]], dict[str, str] | None]:
        """A page of the tenant's leads, newest first (TenantIndex), each with its index position (resume after
        it with `start_after`), and where the next page starts (None at the end)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": "TenantIndex",
            "KeyConditionExpression": "gsi2pk = :tenant",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if start_after:
            request["ExclusiveStartKey"] = {name: {"S": value} for name, value in start_after.items()}
        response = self.dynamodb.query(**request)
        positions = [{name: value["S"] for name, value in item.items()} for item in response.get("Items", [])]
        records = self._records([position["pk"] for position in positions])
        paired = [(records[p["pk"]], p) for p in positions if p["pk"] in records]
        last = response.get("LastEvaluatedKey")
        return paired, None if last is None else {name: value["S"] for name, value in last.items()}

    def _records(self, pks: Sequence[str]) -> dict[str, LeadRecord]:
        """Lead and score items of `pks` (BatchGetItem), by pk."""
        keys = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk in pks for sk in (LEAD_SK, SCORE_SK)]
        found: dict[tuple[str, str], dict[str, Any]] = {}
        for item in batch_get(self.dynamodb, self.table_name, keys):
            decoded = decode_item(item)
            found[decoded["pk"], decoded["sk"]] = decoded
        records: dict[str, LeadRecord] = {}
        for pk in pks:
            lead_item = found.get((pk, LEAD_SK))
            if lead_item is None:
                continue  # deleted between the index read and this one
            score_item = found.get((pk, SCORE_SK))
            records[pk] = LeadRecord(
                lead=Lead.model_validate_json(lead_item["lead"]),
                score=self.score_from_item(score_item) if score_item else None,
                conversions=[],
                stored_at=lead_item.get("stored_at"),
                scored_at=score_item.get("scored_at") if score_item else None,
                recent_scores=tuple(trend.loads(score_item.get("recent_scores"))) if score_item else (),
            )
        return records

    @staticmethod
    def score_from_item(item: dict[str, Any]) -> Score:
        return Score(
            lead_id=item["lead_id"],
            probability=float(item["probability"]),
            score=int(item["score"]),
            grade=item["grade"],
            **{name: item[name] for name in HALVES if item.get(name) is not None},
            reasons=json.loads(item.get("reasons") or "[]"),
            model_version=item["model_version"],
        )
