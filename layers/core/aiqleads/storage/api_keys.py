"""ApiKeysTable: API keys by their SHA-256 (the key itself is never stored), and by API Gateway's key id."""

from __future__ import annotations

from typing import Any, ClassVar

from aiqleads.iam import Access, access
from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.codec import decode_item, encode_item
from aiqleads.tenants.api_keys import ApiKeyRecord

KEY_ID_INDEX = "KeyIdIndex"


class ApiKeyReader(DynamoTable):
    """What the authorizer needs: a key's record by its hash."""

    IAM: ClassVar[tuple[Access, ...]] = (access("dynamodb:GetItem", on="table_name"),)

    def get(self, key_hash: str) -> ApiKeyRecord | None:
        response = self.dynamodb.get_item(TableName=self.table_name, Key={"key_hash": {"S": key_hash}})
        item = response.get("Item")
        return ApiKeyRecord.model_validate(decode_item(item)) if item else None


class ApiKeyRepository(ApiKeyReader):
    """The key service's (operators' commands): stores keys, finds them by API Gateway's key id, lists those
    retiring."""

    IAM = (
        *ApiKeyReader.IAM,
        access("dynamodb:PutItem", "dynamodb:Scan", on="table_name"),
        access("dynamodb:Query", on="table_name", path=f"index/{KEY_ID_INDEX}"),
    )

    def put(self, record: ApiKeyRecord) -> None:
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(record.model_dump(mode="json")))

    def by_key_id(self, key_id: str) -> ApiKeyRecord | None:
        response = self.dynamodb.query(
            TableName=self.table_name,
            IndexName=KEY_ID_INDEX,
            KeyConditionExpression="key_id = :key_id",
            ExpressionAttributeValues={":key_id": {"S": key_id}},
        )
        items = response.get("Items", [])
        return ApiKeyRecord.model_validate(decode_item(items[0])) if items else None

    def retiring(self) -> list[ApiKeyRecord]:
        # A Scan: the table holds one item per key ever issued (thousands at most), and only operators' commands
        # read it this way, never a request.
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "attribute_exists(expires_at) AND #status = :active",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {":active": {"S": "active"}},
        }
        records: list[ApiKeyRecord] = []
        while True:
            response = self.dynamodb.scan(**request)
            records.extend(ApiKeyRecord.model_validate(decode_item(item)) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return records
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
