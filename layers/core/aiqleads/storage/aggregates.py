"""AggregatesTable: behaviour counters per lead, updated atomically (ADD) as interactions arrive, and the log of
the interactions applied.

    pk = <tenant>#<lead id>, sk = total                                  the running totals
    pk = <tenant>#<lead id>, sk = interaction#<timestamp>#<event id>     one applied interaction (action, actor)

A session is a run of activity with gaps under 30 minutes: the first interaction after such a gap counts a new
session. The condition expression decides that inside DynamoDB, so concurrent events cannot both start one
(`BehaviourTotals.apply` is the same rule as a pure function).

The totals only know the present. The log lets a training set rebuild a lead's behaviour as it was at any moment
(its outcome's time): `InteractionLogReader.before` reads a lead's items older than that, in time order, from one
partition. Its sort key is the interaction's time (fixed-width ISO, microseconds) then the event id, so the same
event applied twice writes the same item, and a time bound is a key condition.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.features.behaviour import (
    ACTION_COUNTERS,
    COUNTERS,
    SESSION_GAP,
    SIGNAL_COUNTERS,
    BehaviourTotals,
    day_attribute,
)
from aiqleads.iam import Access, access
from aiqleads.models import Action, Interaction
from aiqleads.storage.aws import DynamoTable, condition_failed
from aiqleads.storage.batch import batch_get
from aiqleads.storage.codec import decode_item, encode_item
from aiqleads.storage.leads import lead_key

TOTAL_SK = "total"
LOG_PREFIX = "interaction#"
ATTRIBUTES = (*COUNTERS, "tenant_id", "lead_id", "first_contact_at", "last_activity_at")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_item(tenant_id: str, interaction: Interaction, event_id: str) -> dict[str, Any]:
    """One applied interaction as a log item (plain values)."""
    at = _iso(interaction.timestamp)
    return {
        "pk": lead_key(tenant_id, interaction.lead_id),
        "sk": f"{LOG_PREFIX}{at}#{event_id}",
        "tenant_id": tenant_id,
        "lead_id": interaction.lead_id,
        "action": interaction.action.value,
        "actor": interaction.actor,
        "at": at,
        "event_id": event_id,
    }


class InteractionLogReader(DynamoTable):
    """A lead's logged interactions before a moment (the training set's behaviour as of a label time)."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:Query", on="table_name"),)

    def before(self, tenant_id: str, lead_id: str, moment: datetime) -> list[tuple[Action, datetime]]:
        """(action, timestamp) of the lead's interactions with timestamp < `moment`, oldest first."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :moment",
            # An item at exactly `moment` sorts after the bound (its sk goes on with #<event id>): left out.
            "ExpressionAttributeValues": {
                ":pk": {"S": lead_key(tenant_id, lead_id)},
                ":first": {"S": LOG_PREFIX},
                ":moment": {"S": f"{LOG_PREFIX}{_iso(moment)}"},
            },
            "ProjectionExpression": "#action, #at",
            "ExpressionAttributeNames": {"#action": "action", "#at": "at"},
        }
        pages = self.dynamodb.get_paginator("query").paginate(**request)
        return [
            (Action(item["action"]["S"]), datetime.fromisoformat(item["at"]["S"]))
            for page in pages
            for item in page.get("Items", [])
        ]


class AggregateReader(DynamoTable):
    """A lead's totals, read (the API scores with them); applying interactions is the events function's."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:GetItem", on="table_name"),)

    def get(self, tenant_id: str, lead_id: str) -> BehaviourTotals | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": lead_key(tenant_id, lead_id)}, "sk": {"S": TOTAL_SK}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return BehaviourTotals.from_item(decode_item(item)) if item else None

    def record(self, tenant_id: str, interaction: Interaction, event_id: str) -> BehaviourTotals:
        raise RuntimeError("interactions are applied by the events function (EventsQueue), not here")


class AggregateBatchReader(DynamoTable):
    """Many leads' totals at once (rescoring a page of leads): BatchGetItem only."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:BatchGetItem", on="table_name"),)

    def get_many(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, BehaviourTotals]:
        """The totals of those leads that have any (an untracked lead has none), by lead id."""
        prefix = len(tenant_id) + 1
        keys = [{"pk": {"S": lead_key(tenant_id, i)}, "sk": {"S": TOTAL_SK}} for i in dict.fromkeys(lead_ids)]
        found: dict[str, BehaviourTotals] = {}
        for raw in batch_get(self.dynamodb, self.table_name, keys):
            item = decode_item(raw)
            found[item["pk"][prefix:]] = BehaviourTotals.from_item(item)
        return found


class AggregateRepository(AggregateReader):
    IAM = (*AggregateReader.IAM, access("dynamodb:UpdateItem", "dynamodb:PutItem", on="table_name"))

    def record(self, tenant_id: str, interaction: Interaction, event_id: str) -> BehaviourTotals:
        """Apply one interaction (log it, then count it); returns the totals after it."""
        # The log first: a failure after it leaves the message to be retried, and the retry rewrites the same
        # item (its key holds the event id), so the log never holds an interaction twice nor loses a counted one.
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(log_item(tenant_id, interaction, event_id)))
        counter = ACTION_COUNTERS.get(interaction.action)
        at = _iso(interaction.timestamp)
        cutoff = _iso(interaction.timestamp - SESSION_GAP)
        # Attribute names go through placeholders: several (views, sessions, ...) are DynamoDB reserved words.
        adds = ["#interactions :one"] + ([f"#{counter} :one", f"#day_{counter} :one"] if counter else [])
        day_names = {f"#day_{name}": day_attribute(name, interaction.timestamp) for name in SIGNAL_COUNTERS}
        sets = ["#tenant_id = :tenant", "#lead_id = :lead"]
        if interaction.action is Action.CONTACT:
            sets.append("#first_contact_at = if_not_exists(#first_contact_at, :at)")
        values = {
            ":one": {"N": "1"},
            ":tenant": {"S": tenant_id},
            ":lead": {"S": interaction.lead_id},
            ":at": {"S": at},
        }
        key = {"pk": {"S": lead_key(tenant_id, interaction.lead_id)}, "sk": {"S": TOTAL_SK}}
        attempts = [
            # a new session: nothing yet, or the last activity is more than SESSION_GAP before this one
            (
                ["#sessions :one", "#day_sessions :one", *adds],
                [*sets, "#last_activity_at = :at"],
                "attribute_not_exists(#last_activity_at) OR #last_activity_at < :cutoff",
                {":cutoff": {"S": cutoff}},
            ),
            # same session, newer than the last activity
            (adds, [*sets, "#last_activity_at = :at"], "#last_activity_at < :at", {}),
            # an older event arriving late: count it, keep the latest activity time
            (adds, sets, None, {}),
        ]
        for add, assign, condition, extra in attempts:
            update = f"ADD {', '.join(add)} SET {', '.join(assign)}"
            condition_text = condition or ""
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "Key": key,
                "UpdateExpression": update,
                "ExpressionAttributeNames": {
                    f"#{name}": name for name in ATTRIBUTES if f"#{name}" in update or f"#{name}" in condition_text
                }
                | {placeholder: name for placeholder, name in day_names.items() if placeholder in update},
                "ExpressionAttributeValues": {
                    placeholder: value
                    for placeholder, value in {**values, **extra}.items()
                    if placeholder in update or placeholder in condition_text
                },
                "ReturnValues": "ALL_NEW",
            }
            if condition:
                request["ConditionExpression"] = condition
            try:
                response = self.dynamodb.update_item(**request)
            except ClientError as error:
                if condition_failed(error):
                    continue
                raise
            return BehaviourTotals.from_item(decode_item(response["Attributes"]))
        raise AssertionError("the last attempt has no condition")  # pragma: no cover
