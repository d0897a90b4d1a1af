"""ApiKeysTable: API keys by their SHA-256 (the key itself is never stored)."""

from __future__ import annotations

from aiqleads.storage.aws import DynamoTable
from aiqleads.storage.codec import decode_item, encode_item
from aiqleads.tenants.api_keys import ApiKeyRecord


class ApiKeyRepository(DynamoTable):
    def get(self, key_hash: str) -> ApiKeyRecord | None:
        response = self.dynamodb.get_item(TableName=self.table_name, Key={"key_hash": {"S": key_hash}})
        item = response.get("Item")
        return ApiKeyRecord.model_validate(decode_item(item)) if item else None

    def put(self, record: ApiKeyRecord) -> None:
        self.dynamodb.put_item(TableName=self.table_name, Item=encode_item(record.model_dump(mode="json")))
