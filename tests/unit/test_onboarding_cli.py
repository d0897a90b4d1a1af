"""`aiqleads tenants|keys` find a deployment: from its CloudFormation stack, or from the local cloud's state file;
and an operator's mistake is one line and exit status 1."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from aiqleads.models import Tier
from aiqleads_offline.cli import main
from aiqleads_offline.onboarding.deployment import DeploymentError, from_stack
from aiqleads_offline.onboarding.keys import duration

PROCESSED = {
    "Resources": {
        "ApiKeysTable": {"Type": "AWS::DynamoDB::Table"},
        "TenantsTable": {"Type": "AWS::DynamoDB::Table"},
        "BasicUsagePlan": {"Type": "AWS::ApiGateway::UsagePlan", "Metadata": {"AIQLeads": {"tier": "basic"}}},
        "ProUsagePlan": {"Type": "AWS::ApiGateway::UsagePlan", "Metadata": {"AIQLeads": {"tier": "pro"}}},
        "EnterpriseUsagePlan": {"Type": "AWS::ApiGateway::UsagePlan", "Metadata": {"AIQLeads": {"tier": "enterprise"}}},
    }
}


def summary(logical_id: str, physical_id: str, resource_type: str) -> dict[str, object]:
    return {
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id,
        "ResourceType": resource_type,
        "LastUpdatedTimestamp": "2026-12-01T00:00:00Z",
        "ResourceStatus": "CREATE_COMPLETE",
    }


def stubbed(resources: list[dict[str, object]], template: dict[str, object]) -> tuple[object, Stubber]:
    cloudformation = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(cloudformation)
    stubber.add_response("list_stack_resources", {"StackResourceSummaries": resources}, {"StackName": "aiqleads-dev"})
    stubber.add_response(
        "get_template",
        {"TemplateBody": json.dumps(template)},
        {"StackName": "aiqleads-dev", "TemplateStage": "Processed"},
    )
    return cloudformation, stubber


def test_a_stack_names_its_tables_and_each_tiers_usage_plan() -> None:
    cloudformation, stubber = stubbed(
        [
            summary("ApiKeysTable", "aiqleads-dev-ApiKeysTable-1A2B", "AWS::DynamoDB::Table"),
            summary("TenantsTable", "aiqleads-dev-TenantsTable-3C4D", "AWS::DynamoDB::Table"),
            summary("BasicUsagePlan", "b1a2s3", "AWS::ApiGateway::UsagePlan"),
            summary("ProUsagePlan", "p1r2o3", "AWS::ApiGateway::UsagePlan"),
            summary("EnterpriseUsagePlan", "e1n2t3", "AWS::ApiGateway::UsagePlan"),
            summary("Api", "abc123", "AWS::ApiGateway::RestApi"),
        ],
        PROCESSED,
    )
    with stubber:
        deployment = from_stack("aiqleads-dev", cloudformation)
    assert deployment.api_keys_table == "aiqleads-dev-ApiKeysTable-1A2B"
    assert deployment.tenants_table == "aiqleads-dev-TenantsTable-3C4D"
    assert deployment.usage_plans == {Tier.BASIC: "b1a2s3", Tier.PRO: "p1r2o3", Tier.ENTERPRISE: "e1n2t3"}
    assert (deployment.region, deployment.endpoint_url) == ("eu-west-1", None)


def test_a_stack_deployed_before_tenants_existed_is_named_as_such() -> None:
    cloudformation, stubber = stubbed(
        [summary("ApiKeysTable", "keys", "AWS::DynamoDB::Table")], {"Resources": {"ApiKeysTable": {}}}
    )
    with stubber, pytest.raises(DeploymentError, match="stack aiqleads-dev has no TenantsTable"):
        from_stack("aiqleads-dev", cloudformation)


def test_without_a_stack_or_a_running_local_cloud_the_command_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "local.json"
    assert main(["keys", "issue", "--tenant", "t", "--tier", "pro", "--local-state", str(missing)]) == 1
    error = capsys.readouterr().err
    assert "no local cloud running" in error
    assert "make run" in error
    assert "--stack" in error
    assert "Traceback" not in error


def test_an_unreachable_local_cloud_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "local.json"
    state.write_text(
        json.dumps(
            {
                "aws_endpoint_url": "http://127.0.0.1:9",  # nothing listens on the discard port
                "region": "us-east-1",
                "tables": {"ApiKeysTable": "keys", "TenantsTable": "tenants"},
                "usage_plans": {"basic": "b", "pro": "p", "enterprise": "e"},
            }
        )
    )
    assert main(["tenants", "create", "acme-realty", "--local-state", str(state)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: Could not connect to the endpoint URL")
    assert len(error.splitlines()) == 1


@pytest.mark.parametrize(("text", "seconds"), [("24h", 86400), ("30m", 1800), ("90s", 90), ("7d", 604800), ("0", 0)])
def test_grace_periods_read_as_people_write_them(text: str, seconds: int) -> None:
    assert duration(text).total_seconds() == seconds


def test_a_bad_grace_period_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["keys", "rotate", "--key-id", "k", "--grace", "soon"])
    assert exit_info.value.code == 2
    assert "not a duration: 'soon'" in capsys.readouterr().err
