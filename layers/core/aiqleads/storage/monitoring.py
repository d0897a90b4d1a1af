"""MonitoringTable: monitoring runs, each model version's latest health, and the marks that keep alerts to one a day.

    pk = <tenant>
    sk = run#<at, ISO>#<run id>                   the run (JSON), newest last; expires after MonitorRetentionDays
    sk = health#<version>                         the version's latest run (JSON), overwritten by each run
    sk = alert#<YYYY-MM-DD>#<version>#<kind>      written once a day at most (conditional put): the alert went out

Runs are JSON strings: their figures are floats, and nothing queries inside them.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.errors import InvalidInput
from aiqleads.iam import Access, access
from aiqleads.monitoring.report import AlertKind, HealthView, MonitorRun, MonitorRunPage
from aiqleads.storage.aws import DynamoTable, condition_failed

_RUN, _HEALTH, _ALERT = "run#", "health#", "alert#"
ALERT_MARK_DAYS = 3  # a mark outlives its day, so a retried run the next morning still finds yesterday's


class MonitorRunReader(DynamoTable):
    """What the API reads: a version's latest health and the run history."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:GetItem", "dynamodb:Query", on="table_name"),)

    def health(self, tenant_id: str, version: str) -> HealthView | None:
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={"pk": {"S": tenant_id}, "sk": {"S": _HEALTH + version}}
        ).get("Item")
        return HealthView.model_validate_json(item["record"]["S"]) if item else None

    def runs(self, tenant_id: str, limit: int, cursor: str | None = None) -> MonitorRunPage:
        """Runs newest first; `cursor` is a page's `next_cursor`."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :tenant AND begins_with(sk, :run)",
            "ExpressionAttributeValues": {":tenant": {"S": tenant_id}, ":run": {"S": _RUN}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            request["ExclusiveStartKey"] = {"pk": {"S": tenant_id}, "sk": {"S": _decode(cursor)}}
        response = self.dynamodb.query(**request)
        runs = [MonitorRun.model_validate_json(item["record"]["S"]) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return MonitorRunPage(runs=runs, next_cursor=_encode(last["sk"]["S"]) if last else None)


def _encode(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        sk = ""
    if not sk.startswith(_RUN):
        raise InvalidInput(
            "cursor: not one this endpoint returned", [{"field": "cursor", "message": "not one this endpoint returned"}]
        )
    return sk


class MonitorRunRepository(MonitorRunReader):
    """What the monitor function writes."""

    IAM = (access("dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:Query", on="table_name"),)

    def __init__(self, table_name: str, retention_days: int = 90, dynamodb: Any | None = None):
        super().__init__(table_name, dynamodb)
        self.retention_days = retention_days

    def save(self, run: MonitorRun) -> None:
        expires = int((run.at + timedelta(days=self.retention_days)).timestamp())
        record = run.model_dump_json()
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={
                "pk": {"S": run.tenant_id},
                "sk": {"S": f"{_RUN}{run.at.isoformat()}#{run.id}"},
                "record": {"S": record},
                "expires_at": {"N": str(expires)},
            },
        )
        for health in filter(None, (run.production, run.shadow)):
            alerts = [a for a in run.alerts if a.model_version == health.version]
            view = HealthView(
                run_id=run.id,
                at=run.at,
                window_start=run.window_start,
                window_end=run.window_end,
                health=health,
                alerts=alerts,
            )
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": run.tenant_id},
                    "sk": {"S": _HEALTH + health.version},
                    "record": {"S": view.model_dump_json()},
                },
            )

    def mark_alert(self, tenant_id: str, version: str, kind: AlertKind, at: datetime) -> bool:
        """Claim today's alert of this kind for this model: True if none went out yet today."""
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": tenant_id},
                    "sk": {"S": _mark(version, kind, at)},
                    "expires_at": {"N": str(int((at + timedelta(days=ALERT_MARK_DAYS)).timestamp()))},
                    "at": {"S": at.isoformat()},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def unmark_alert(self, tenant_id: str, version: str, kind: AlertKind, at: datetime) -> None:
        """Give the claim back when the alert could not be published, so a retry sends it."""
        self.dynamodb.delete_item(
            TableName=self.table_name, Key={"pk": {"S": tenant_id}, "sk": {"S": _mark(version, kind, at)}}
        )


def _mark(version: str, kind: AlertKind, at: datetime) -> str:
    return f"{_ALERT}{at:%Y-%m-%d}#{version}#{kind}"
