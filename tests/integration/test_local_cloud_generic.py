"""The resource layer is generic: a small template of its own exercises what template.yaml does not use today
(Conditions and Fn::If, AWS::NoValue, generated names, FIFO queues, provisioned tables, inline subscriptions,
Fn::Join/Select/Split/FindInMap) and the errors a broken template must give."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from infra.local_cloud import LocalCloud, ResourceCreationError, UnresolvableError, create_resources
from infra.local_cloud.intrinsics import Resolver

from .conftest import receive_until

pytestmark = pytest.mark.integration

Aws = Callable[[str], Any]


def generic_template() -> dict[str, Any]:
    return {
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev", "AllowedValues": ["dev", "prod"]},
            "Zones": {"Type": "CommaDelimitedList", "Default": "a,b,c"},
        },
        "Mappings": {"Sizes": {"dev": {"Capacity": 2}, "prod": {"Capacity": 20}}},
        "Conditions": {
            "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
            "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        },
        "Resources": {
            "Orders": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "FifoQueue": True,
                    "ContentBasedDeduplication": True,
                    "DelaySeconds": {"Fn::If": ["IsProd", 5, {"Ref": "AWS::NoValue"}]},
                },
            },
            "Audit": {"Type": "AWS::SQS::Queue", "Properties": {}},
            "Archive": {"Type": "AWS::SQS::Queue", "Condition": "IsProd", "Properties": {}},
            "Changes": {
                "Type": "AWS::SNS::Topic",
                "Properties": {
                    "Subscription": [{"Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Audit", "Arn"]}}],
                },
            },
            "Counters": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "TableName": {"Fn::Join": ["-", [{"Ref": "AWS::StackName"}, "counters", {"Ref": "Stage"}]]},
                    "BillingMode": "PROVISIONED",
                    "ProvisionedThroughput": {
                        "ReadCapacityUnits": {"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Capacity"]},
                        "WriteCapacityUnits": 1,
                    },
                    "AttributeDefinitions": [
                        {"AttributeName": "id", "AttributeType": "S"},
                        {"AttributeName": "zone", "AttributeType": "S"},
                    ],
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "GlobalSecondaryIndexes": [
                        {
                            "IndexName": "ByZone",
                            "KeySchema": [{"AttributeName": "zone", "KeyType": "HASH"}],
                            "Projection": {"ProjectionType": "KEYS_ONLY"},
                        }
                    ],
                    "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
                },
            },
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
        },
        "Outputs": {
            "FirstZone": {"Value": {"Fn::Select": [0, {"Ref": "Zones"}]}},
            "Parts": {"Value": {"Fn::Join": ["+", {"Fn::Split": ["/", "x/y"]}]}},
            "RoleName": {"Value": {"Ref": "Role"}},
            "ArchiveUrl": {"Condition": "IsProd", "Value": {"Ref": "Archive"}},
            "Literal": {"Value": {"Fn::Sub": "${!NotAVariable}-${AWS::Region}-${Audit.QueueName}"}},
        },
    }


def test_a_generic_template_is_created(local_cloud: LocalCloud, aws: Aws) -> None:
    stack = f"generic-{uuid.uuid4().hex[:6]}"
    resources = create_resources(local_cloud.endpoint_url, generic_template(), stack_name=stack)

    assert set(resources.created) == {"Orders", "Audit", "Changes", "Counters"}
    assert resources.skipped["Archive"].reason == "condition IsProd is false"
    assert resources.skipped["Role"].type == "AWS::IAM::Role"

    # Generated names: <stack>-<LogicalId>, with .fifo for FIFO queues; explicit ones evaluated.
    assert resources.get_att("Orders", "QueueName") == f"{stack}-Orders.fifo"
    assert resources.get_att("Audit", "QueueName") == f"{stack}-Audit"
    assert resources.tables["Counters"] == f"{stack}-counters-dev"
    assert resources.get_att("Counters", "StreamArn").startswith("arn:aws:dynamodb:us-east-1:123456789012:table/")

    attributes = aws("sqs").get_queue_attributes(QueueUrl=resources.queues["Orders"], AttributeNames=["All"])[
        "Attributes"
    ]
    assert attributes["FifoQueue"] == "true"
    assert attributes["DelaySeconds"] == "0"  # Fn::If -> AWS::NoValue: the property is left out

    table = aws("dynamodb").describe_table(TableName=resources.tables["Counters"])["Table"]
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 2  # Fn::FindInMap
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "ByZone"

    # The topic's inline subscription delivers (wrapped in the SNS envelope: no RawMessageDelivery here).
    marker = uuid.uuid4().hex
    aws("sns").publish(TopicArn=resources.topics["Changes"], Message=marker)
    message, _ = receive_until(aws("sqs"), resources.queues["Audit"], lambda m: marker in m["Body"])
    assert json.loads(message["Body"])["Message"] == marker

    assert resources.outputs == {
        "FirstZone": "a",
        "Parts": "x+y",
        "Literal": f"${{NotAVariable}}-us-east-1-{stack}-Audit",
    }


def test_parameters_are_checked_and_conditions_follow_them() -> None:
    template = generic_template()
    assert Resolver(template, parameters={"Stage": "prod"}).condition("IsProd")
    assert Resolver(template).condition("IsDev")
    with pytest.raises(UnresolvableError, match="not one of"):
        Resolver(template, parameters={"Stage": "qa"})
    with pytest.raises(UnresolvableError, match="unknown parameter"):
        Resolver(template, parameters={"Stag": "dev"})


def test_a_reference_to_a_skipped_resource_names_it(local_cloud: LocalCloud) -> None:
    template = {
        "Resources": {
            "Fn": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "q-${Fn}"}}},
        }
    }
    with pytest.raises(ResourceCreationError, match=r"Queue .*AWS::Serverless::Function Fn is not created locally"):
        create_resources(local_cloud.endpoint_url, template, stack_name="skipped-ref")


def test_a_dependency_cycle_is_reported(local_cloud: LocalCloud) -> None:
    template = {
        "Resources": {
            "A": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::GetAtt": ["B", "QueueName"]}}},
            "B": {"Type": "AWS::SQS::Queue", "DependsOn": "A", "Properties": {}},
        }
    }
    with pytest.raises(ResourceCreationError, match="dependency cycle"):
        create_resources(local_cloud.endpoint_url, template, stack_name="cycle")
