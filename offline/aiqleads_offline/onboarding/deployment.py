"""Where a deployment's tenants, keys and usage plans are: from its CloudFormation stack in AWS, or from the state
file the running local cloud writes. Both give the same `Deployment`, so every command works the same on either."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from aiqleads.errors import DomainError
from aiqleads.models import Tier

if TYPE_CHECKING:
    from aiqleads.tenants.service import KeyService

DEFAULT_LOCAL_STATE = Path(".aiqleads/local.json")
TABLES = {"api_keys_table": "ApiKeysTable", "tenants_table": "TenantsTable"}
USAGE_PLAN = "AWS::ApiGateway::UsagePlan"
# The local endpoint takes any credentials; these never reach AWS (the local cloud listens on loopback only).
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class DeploymentError(Exception):
    """The deployment cannot be found or is incomplete (the message says what to do)."""


class Deployment(BaseModel):
    described_as: str  # for messages: "stack aiqleads-dev" or "the local cloud (...)"
    api_keys_table: str
    tenants_table: str
    usage_plans: dict[Tier, str]
    region: str | None = None
    endpoint_url: str | None = None  # the local cloud's; None in AWS

    def client(self, service: str) -> Any:
        from aiqleads.storage.aws import new_client

        options: dict[str, Any] = {"region_name": self.region} if self.region else {}
        if self.endpoint_url is not None:
            options |= {"endpoint_url": self.endpoint_url, **LOCAL_CREDENTIALS}
        return new_client(service, **options)

    def key_service(self) -> KeyService:
        from aiqleads.storage.api_keys import ApiKeyRepository
        from aiqleads.storage.gateway_keys import GatewayKeyRegistry
        from aiqleads.storage.tenants import TenantRepository
        from aiqleads.tenants.service import KeyService

        dynamodb = self.client("dynamodb")
        return KeyService(
            TenantRepository(self.tenants_table, dynamodb),
            ApiKeyRepository(self.api_keys_table, dynamodb),
            GatewayKeyRegistry(self.usage_plans, self.client("apigateway")),
        )


def _usage_plans(plans: dict[str, str], where: str) -> dict[Tier, str]:
    """Tier -> plan id, with every tier present."""
    missing = [tier.value for tier in Tier if tier.value not in plans]
    if missing:
        raise DeploymentError(f"{where} has no usage plan for {', '.join(missing)} (Metadata.AIQLeads.tier)")
    return {tier: plans[tier.value] for tier in Tier}


def from_stack(stack: str, cloudformation: Any) -> Deployment:
    """The stack's physical resources (ListStackResources) and, from its processed template (GetTemplate), which
    usage plan serves which tier (`Metadata.AIQLeads.tier`)."""
    where = f"stack {stack}"
    physical: dict[str, str] = {}
    types: dict[str, str] = {}
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for summary in page.get("StackResourceSummaries", []):
            if summary.get("PhysicalResourceId"):
                physical[summary["LogicalResourceId"]] = summary["PhysicalResourceId"]
                types[summary["LogicalResourceId"]] = summary["ResourceType"]
    body = cloudformation.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    declared = template.get("Resources") or {}
    tables = {}
    for field, logical_id in TABLES.items():
        if logical_id not in physical:
            raise DeploymentError(f"{where} has no {logical_id}: deploy the current template.yaml first")
        tables[field] = physical[logical_id]
    plans = {
        str(((declared.get(name) or {}).get("Metadata") or {}).get("AIQLeads", {}).get("tier")): plan_id
        for name, plan_id in physical.items()
        if types[name] == USAGE_PLAN
    }
    region = cloudformation.meta.region_name
    return Deployment(described_as=where, usage_plans=_usage_plans(plans, where), region=region, **tables)


def from_local_state(path: Path) -> Deployment:
    where = f"the local cloud ({path})"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeploymentError(
            f"no --stack given and no local cloud running ({path} not found): start one with `make run`, "
            "or name a deployed stack with --stack NAME"
        ) from None
    except (OSError, ValueError) as error:
        raise DeploymentError(f"{path}: not a local cloud state file ({error})") from None
    tables = info.get("tables") or {}
    missing = [logical_id for logical_id in TABLES.values() if logical_id not in tables]
    if missing or "usage_plans" not in info:
        raise DeploymentError(f"{where} has no {', '.join(missing) or 'usage plans'}: restart it (make run)")
    return Deployment(
        described_as=where,
        usage_plans=_usage_plans(info["usage_plans"], where),
        region=info.get("region"),
        endpoint_url=info["aws_endpoint_url"],
        **{field: tables[logical_id] for field, logical_id in TABLES.items()},
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("deployment (default: the running local cloud)")
    where.add_argument("--stack", help="the CloudFormation stack of a deployment in AWS (credentials from the "
                       "usual AWS variables or profile)")  # fmt: skip
    where.add_argument("--region", help="the stack's region (default: AWS_DEFAULT_REGION or the profile's)")
    where.add_argument(
        "--local-state",
        type=Path,
        default=DEFAULT_LOCAL_STATE,
        help=f"the local cloud's state file ({DEFAULT_LOCAL_STATE})",
    )


def locate(args: argparse.Namespace) -> Deployment:
    if args.stack:
        from aiqleads.storage.aws import new_client

        options = {"region_name": args.region} if args.region else {}
        return from_stack(args.stack, new_client("cloudformation", **options))
    return from_local_state(args.local_state)


def _aws_error(error: Any) -> str:
    details = error.response.get("Error", {})
    operation = getattr(error, "operation_name", "the request")
    return f"{operation} failed: {details.get('Code', 'error')}: {details.get('Message', error)}"


def run(command: Callable[[KeyService, argparse.Namespace], Any]) -> Callable[[argparse.Namespace], int]:
    """A subcommand: locate the deployment, run `command` on its KeyService, print its result as JSON. A user's
    mistake or an AWS refusal is one line on stderr and exit status 1, never a traceback."""

    def main(args: argparse.Namespace) -> int:
        # Imported here: the offline commands (generate, score, train) should not pay for boto3.
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

        try:
            result = command(locate(args).key_service(), args)
        except (DeploymentError, DomainError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except NoCredentialsError:
            print("error: no AWS credentials found (set AWS_PROFILE or the AWS_* variables)", file=sys.stderr)
            return 1
        except NoRegionError:
            print("error: no AWS region: pass --region or set AWS_DEFAULT_REGION", file=sys.stderr)
            return 1
        except ClientError as error:
            print(f"error: {_aws_error(error)}", file=sys.stderr)
            return 1
        except BotoCoreError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        print(json.dumps(result, indent=1, default=str))
        return 0

    return main
