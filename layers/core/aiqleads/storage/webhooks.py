"""BuyersTable: webhook endpoints, per-(event, endpoint) delivery state and attempt history.

    pk = <tenant>#~webhooks              sk = webhook#<endpoint id>       the endpoint (url, event types, filter,
                                                                          status, failing_since, secrets)
    pk = <tenant>#~webhook#<endpoint id> sk = event#<event id>            delivery state: status in_flight |
                                                                          retrying | delivered | dead | dropped,
                                                                          round, attempt, lease_until; TTL 14 d
    pk = <tenant>#~webhook#<endpoint id> sk = attempt#<at>#<event>#<r.n>  one attempt (status code, latency,
                                                                          outcome, error); TTL 30 d

The sort-key prefixes differ from the buyer items' (profile, purchase#, feedback#), so these never collide with a
buyer whose id happens to start with "~". `expires_at` is the table's TTL attribute (epoch seconds).
The claim on a delivery state is a conditional write: the guard that keeps a redelivered message from sending
the same (event, endpoint) twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.iam import Access, access
from aiqleads.storage.aws import DynamoTable, condition_failed
from aiqleads.storage.codec import decode_item, encode_item, encode_value
from aiqleads.webhooks.models import DeliveryAttempt, DeliveryTask, WebhookEndpoint
from aiqleads.webhooks.store import Claim, FinalStatus

ENDPOINT_PREFIX = "webhook#"
STATE_PREFIX = "event#"
ATTEMPT_PREFIX = "attempt#"
STATE_TTL_SECONDS = 14 * 86400
ATTEMPT_TTL_SECONDS = 30 * 86400
NAMES = {"#s": "status", "#r": "round", "#a": "attempt"}


def endpoints_key(tenant_id: str) -> str:
    return f"{tenant_id}#~webhooks"


def endpoint_key(tenant_id: str, endpoint_id: str) -> str:
    return f"{tenant_id}#~webhook#{endpoint_id}"


def _values(expressions: str, values: dict[str, Any]) -> dict[str, Any]:
    """Only the placeholders the expressions use (DynamoDB rejects unused ones)."""
    used = set(re.findall(r":\w+", expressions))
    return {name: encode_value(value) for name, value in values.items() if name in used}


def _names(expressions: str) -> dict[str, str]:
    used = set(re.findall(r"#\w+", expressions))
    return {name: value for name, value in NAMES.items() if name in used}


class WebhookRepository(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (
        # endpoints (put, get, list, update, delete), delivery claims and attempts (update, get, put, query)
        access(
            "dynamodb:PutItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            on="table_name",
        ),
    )

    # ------------------------------------------------------------------------------------------ endpoints

    def _endpoint_item_key(self, tenant_id: str, endpoint_id: str) -> dict[str, Any]:
        return {"pk": {"S": endpoints_key(tenant_id)}, "sk": {"S": ENDPOINT_PREFIX + endpoint_id}}

    def _update_endpoint(
        self, tenant_id: str, endpoint_id: str, update: str, condition: str, values: dict[str, Any]
    ) -> bool:
        return self._update_if(self._endpoint_item_key(tenant_id, endpoint_id), update, condition, values)

    def _update_if(self, key: dict[str, Any], update: str, condition: str, values: dict[str, Any]) -> bool:
        """Apply `update` if `condition` holds; False when it does not."""
        expressions = update + " " + condition
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": key,
            "UpdateExpression": update,
            "ConditionExpression": condition,
        }
        if _names(expressions):
            request["ExpressionAttributeNames"] = _names(expressions)
        if _values(expressions, values):
            request["ExpressionAttributeValues"] = _values(expressions, values)
        try:
            self.dynamodb.update_item(**request)
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def create_endpoint(self, endpoint: WebhookEndpoint) -> None:
        item = {
            "pk": endpoints_key(endpoint.tenant_id),
            "sk": ENDPOINT_PREFIX + endpoint.id,
            **endpoint.model_dump(mode="json", exclude_none=True),
        }
        self.dynamodb.put_item(
            TableName=self.table_name, Item=encode_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def get_endpoint(self, tenant_id: str, endpoint_id: str) -> WebhookEndpoint | None:
        response = self.dynamodb.get_item(
            TableName=self.table_name, Key=self._endpoint_item_key(tenant_id, endpoint_id), ConsistentRead=True
        )
        item = response.get("Item")
        return WebhookEndpoint.model_validate(decode_item(item)) if item else None

    def list_endpoints(self, tenant_id: str) -> list[WebhookEndpoint]:
        endpoints: list[WebhookEndpoint] = []
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": endpoints_key(tenant_id)}, ":prefix": {"S": ENDPOINT_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            response = self.dynamodb.query(**request)
            endpoints.extend(WebhookEndpoint.model_validate(decode_item(item)) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return endpoints
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> bool:
        response = self.dynamodb.delete_item(
            TableName=self.table_name, Key=self._endpoint_item_key(tenant_id, endpoint_id), ReturnValues="ALL_OLD"
        )
        return bool(response.get("Attributes"))

    def rotate_secret(
        self, tenant_id: str, endpoint_id: str, secret: str, previous: str, previous_expires_at: datetime, now: datetime
    ) -> bool:
        return self._update_endpoint(
            tenant_id,
            endpoint_id,
            "SET secret = :secret, previous_secret = :previous, previous_secret_expires_at = :expires, "
            "updated_at = :now",
            "attribute_exists(pk)",
            {
                ":secret": secret,
                ":previous": previous,
                ":expires": previous_expires_at.isoformat(),
                ":now": now.isoformat(),
            },
        )

    def enable_endpoint(self, tenant_id: str, endpoint_id: str, now: datetime) -> bool:
        return self._update_endpoint(
            tenant_id,
            endpoint_id,
            "SET #s = :active, updated_at = :now REMOVE disabled_reason, failing_since",
            "attribute_exists(pk)",
            {":active": "active", ":now": now.isoformat()},
        )

    def disable_endpoint(self, tenant_id: str, endpoint_id: str, reason: str, now: datetime) -> bool:
        return self._update_endpoint(
            tenant_id,
            endpoint_id,
            "SET #s = :disabled, disabled_reason = :reason, updated_at = :now",
            "#s = :active",
            {":disabled": "disabled", ":reason": reason, ":now": now.isoformat(), ":active": "active"},
        )

    def mark_failing(self, tenant_id: str, endpoint_id: str, now: datetime) -> datetime | None:
        try:
            response = self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._endpoint_item_key(tenant_id, endpoint_id),
                UpdateExpression="SET failing_since = if_not_exists(failing_since, :now)",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":now": {"S": now.isoformat()}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if condition_failed(error):
                return None
            raise
        return datetime.fromisoformat(response["Attributes"]["failing_since"]["S"])

    def clear_failing(self, tenant_id: str, endpoint_id: str) -> None:
        self._update_endpoint(tenant_id, endpoint_id, "REMOVE failing_since", "attribute_exists(failing_since)", {})

    # ------------------------------------------------------------------------------------------ delivery state

    def _state_key(self, task: DeliveryTask) -> dict[str, Any]:
        return {
            "pk": {"S": endpoint_key(task.tenant_id, task.endpoint_id)},
            "sk": {"S": STATE_PREFIX + task.event_id},
        }

    def claim(self, task: DeliveryTask, now: float, lease_until: float) -> Claim:
        r, n = task.round, task.attempt
        if task.dead_lettered:  # redriven from the dead-letter queue: a new round of attempts
            condition = "#s = :dead AND #r = :r"
            new_round, new_attempt = r + 1, 1
        elif n == 1 and r == 0:
            condition = "attribute_not_exists(pk) OR (#s = :inflight AND #a = :n AND #r = :r AND lease_until < :now)"
            new_round, new_attempt = r, n
        else:
            condition = (
                "#r = :r AND ((#s = :retrying AND #a = :prev) OR (#s = :inflight AND #a = :n AND lease_until < :now))"
            )
            new_round, new_attempt = r, n
        update = (
            "SET #s = :inflight, #r = :newr, #a = :newa, lease_until = :lease, updated_at = :now, "
            "expires_at = :expires, event_type = :type"
        )
        values = {
            ":inflight": "in_flight",
            ":retrying": "retrying",
            ":dead": "dead",
            ":r": r,
            ":n": n,
            ":prev": n - 1,
            ":newr": new_round,
            ":newa": new_attempt,
            ":lease": lease_until,
            ":now": now,
            ":expires": int(now) + STATE_TTL_SECONDS,
            ":type": task.event_type,
        }
        if not self._update_if(self._state_key(task), update, condition, values):
            item = self.dynamodb.get_item(TableName=self.table_name, Key=self._state_key(task), ConsistentRead=True)
            state = decode_item(item.get("Item") or {})
            status = str(state.get("status", ""))
            if (
                not task.dead_lettered
                and status in ("retrying", "dead")
                and state.get("round") == r
                and state.get("attempt") == n
            ):
                return Claim("resume", r, n, status)
            return Claim("duplicate", r, n, status)
        return Claim("claimed", new_round, new_attempt, "in_flight")

    def finish(self, task: DeliveryTask, status: FinalStatus, now: float) -> bool:
        condition = "#s = :inflight AND #r = :r AND #a = :n"
        update = "SET #s = :status, updated_at = :now REMOVE lease_until"
        values = {":inflight": "in_flight", ":r": task.round, ":n": task.attempt, ":status": status, ":now": now}
        return self._update_if(self._state_key(task), update, condition, values)

    # ------------------------------------------------------------------------------------------ attempts

    def record_attempt(self, tenant_id: str, endpoint_id: str, attempt: DeliveryAttempt) -> None:
        at = attempt.at.isoformat(timespec="milliseconds")
        item = {
            "pk": endpoint_key(tenant_id, endpoint_id),
            "sk": f"{ATTEMPT_PREFIX}{at}#{attempt.event_id}#{attempt.round}.{attempt.attempt}",
            "expires_at": int(attempt.at.timestamp()) + ATTEMPT_TTL_SECONDS,
            **attempt.model_dump(mode="json", exclude_none=True),
        }
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(item))

    def list_attempts(self, tenant_id: str, endpoint_id: str, limit: int) -> list[DeliveryAttempt]:
        response = self.dynamodb.query(
            TableName=self.table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={
                ":pk": {"S": endpoint_key(tenant_id, endpoint_id)},
                ":prefix": {"S": ATTEMPT_PREFIX},
            },
            ScanIndexForward=False,
            Limit=limit,
        )
        return [DeliveryAttempt.model_validate(decode_item(item)) for item in response.get("Items", [])]
