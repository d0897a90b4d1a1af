"""Each API key's GraphQL cost bucket (tenants/query_budget.py), kept in JobsTable beside the jobs.

The bucket's item is pk `graphql-cost#<key id>`, sk `cost-bucket`: no job's key (pk `<tenant>#<job id>`, sk
`job`) can equal it, and JobsTable's TTL (expires_at) drops a bucket once it would be full again anyway.
"""

from __future__ import annotations

from typing import Any, ClassVar

from botocore.exceptions import ClientError

from aiqleads.iam import Access, access
from aiqleads.storage.aws import DynamoTable, condition_failed
from aiqleads.tenants.query_budget import Bucket

BUCKET_SK = "cost-bucket"


class QueryBudgetRepository(DynamoTable):
    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:GetItem", "dynamodb:UpdateItem", on="table_name"),)

    @staticmethod
    def _key(key: str) -> dict[str, Any]:
        return {"pk": {"S": f"graphql-cost#{key}"}, "sk": {"S": BUCKET_SK}}

    def get(self, key: str) -> Bucket | None:
        item = self.dynamodb.get_item(TableName=self.table_name, Key=self._key(key), ConsistentRead=True).get("Item")
        if not item:
            return None
        return Bucket(available=float(item["available"]["N"]), at=float(item["at"]["N"]))

    def replace(self, key: str, bucket: Bucket, expected: Bucket | None, expires_at: int) -> bool:
        # A compare-and-set on `at` (the time of the charge that wrote it): a charge another instance wrote in
        # between fails the condition, and the caller recomputes from the bucket that charge left.
        condition = "attribute_not_exists(pk)" if expected is None else "#at = :expected"
        values: dict[str, Any] = {
            ":available": {"N": repr(bucket.available)},
            ":at": {"N": repr(bucket.at)},
            ":expires": {"N": str(expires_at)},
        }
        if expected is not None:
            values[":expected"] = {"N": repr(expected.at)}
        try:
            self.dynamodb.update_item(
                TableName=self.table_name,
                Key=self._key(key),
                UpdateExpression="SET available = :available, #at = :at, expires_at = :expires",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#at": "at"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True
