"""API Gateway's API keys and usage plans: the registry of keys API Gateway admits (`tenants.service.KeyRegistry`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from aiqleads.models import Tier
from aiqleads.storage.aws import client


class GatewayKeyRegistry:
    """Each key an enabled API key in its tier's usage plan (`usage_plans`: tier -> usage plan id)."""

    def __init__(self, usage_plans: Mapping[Tier, str], apigateway: Any | None = None) -> None:
        self.usage_plans = dict(usage_plans)
        self._apigateway = apigateway

    @property
    def apigateway(self) -> Any:
        return self._apigateway or client("apigateway")

    def register(self, api_key: str, tier: Tier, name: str) -> str:
        plan = self.usage_plans.get(tier)
        if plan is None:
            raise LookupError(f"no usage plan for the {tier.value} tier")
        key_id = str(self.apigateway.create_api_key(name=name, value=api_key, enabled=True)["id"])
        try:
            self.apigateway.create_usage_plan_key(usagePlanId=plan, keyId=key_id, keyType="API_KEY")
        except BaseException:
            # A key in no usage plan is admitted nowhere; deleting it keeps the account's key list honest.
            self.apigateway.delete_api_key(apiKey=key_id)
            raise
        return key_id

    def disable(self, key_id: str) -> None:
        try:
            self.apigateway.update_api_key(
                apiKey=key_id, patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NotFoundException":
                raise  # a key deleted by hand is as disabled as it gets
