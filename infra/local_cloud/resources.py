"""Create, on the local endpoint, every resource template.yaml declares that has a local meaning.

    resources = create_resources(server.endpoint_url, "template.yaml")
    resources.tables["LeadsTable"]        # physical table name
    resources.queues["BulkQueue"]         # queue URL
    resources.ref("DomainEventsTopic")    # what !Ref gives (topic ARN), resources.get_att("BulkQueue", "Arn")
    resources.skipped["ApiFunction"]      # SkippedResource(type="AWS::Serverless::Function", reason=...)

Resources are created in dependency order (Ref, Fn::GetAtt, Fn::Sub and DependsOn), so a dead-letter queue exists
before the queue whose RedrivePolicy names its ARN, and the queue before the bucket that notifies it. Physical names
are the template's own (TableName, QueueName, TopicName, BucketName) or `<stack>-<LogicalId>`. Types with no local
meaning (functions, layers, the REST API, IAM, logs, alarms) are listed in `skipped` with the reason; properties the
local cloud does not apply are listed in `notes`. Running it again on the same server converges instead of failing.
Usage plans are created in moto's API Gateway, so API keys can be registered in them as in AWS; the local API server
serves them on its stage (`resources.usage_plans`: tier -> usage plan id).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.template import load_template

from .intrinsics import CreatedResource, Resolver, SkippedResource, UnresolvableError, references
from .server import REGION, LocalCloudError, client

DEFAULT_STACK_NAME = "aiqleads-local"


class ResourceCreationError(LocalCloudError):
    """A resource could not be created locally (the message names it)."""


# Types the local cloud does not create, by type or type prefix, with the reason.
SKIPPED_TYPES: dict[str, str] = {
    "AWS::Serverless::Function": "moto runs no Lambda code: the local cloud invokes the handlers in-process",
    "AWS::Lambda::": "moto runs no Lambda code: the local cloud invokes the handlers in-process",
    "AWS::Serverless::LayerVersion": "layers are the local virtualenv's packages",
    "AWS::Serverless::Api": "served by the local API server from the template's routes",
    "AWS::Serverless::HttpApi": "served by the local API server from the template's routes",
    "AWS::ApiGateway::": "API Gateway is emulated by the local API server (usage plans are created in moto)",
    "AWS::ApiGatewayV2::": "API Gateway is emulated by the local API server",
    "AWS::IAM::": "IAM is not enforced locally",
    "AWS::Logs::": "each function logs to <log dir>/<FunctionLogicalId>.log locally (see logs.py)",
    "AWS::CloudWatch::": "no CloudWatch locally: the EMF metric lines are in the function logs; no alarms or dashboards",
}


def skip_reason(resource_type: str) -> str | None:
    """Why a resource of this type is not created locally; None for the types that are."""
    if resource_type in _HANDLERS:
        return None
    for prefix, reason in SKIPPED_TYPES.items():
        if resource_type == prefix or (prefix.endswith("::") and resource_type.startswith(prefix)):
            return reason
    return "the local cloud has no equivalent for this resource type"


@dataclass
class LocalResources:
    """What exists on the local endpoint, by the template's logical ids."""

    endpoint_url: str
    region: str
    account_id: str
    stack_name: str
    parameters: dict[str, Any]
    created: dict[str, CreatedResource]
    skipped: dict[str, SkippedResource]
    outputs: dict[str, Any]  # the template's Outputs whose values exist locally
    notes: list[str]  # properties not applied locally, and similar departures from AWS
    _resolver: Resolver = field(repr=False, compare=False)

    def ref(self, logical_id: str) -> Any:
        """What `!Ref logical_id` gives (table/bucket name, queue URL, topic ARN, parameter value)."""
        return self._resolver.ref(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        """What `!GetAtt logical_id.attribute` gives (Arn, QueueName, QueueUrl, StreamArn, TopicName, ...)."""
        return self._resolver.get_att(logical_id, attribute)

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsic functions in any template fragment against the local resources."""
        return self._resolver.resolve(value)

    def of_type(self, resource_type: str) -> dict[str, CreatedResource]:
        return {name: item for name, item in self.created.items() if item.type == resource_type}

    @property
    def tables(self) -> dict[str, str]:
        """Logical id -> table name."""
        return {name: item.physical_id for name, item in self.of_type("AWS::DynamoDB::Table").items()}

    @property
    def buckets(self) -> dict[str, str]:
        """Logical id -> bucket name."""
        return {name: item.physical_id for name, item in self.of_type("AWS::S3::Bucket").items()}

    @property
    def queues(self) -> dict[str, str]:
        """Logical id -> queue URL."""
        return {name: item.physical_id for name, item in self.of_type("AWS::SQS::Queue").items()}

    @property
    def topics(self) -> dict[str, str]:
        """Logical id -> topic ARN."""
        return {name: item.physical_id for name, item in self.of_type("AWS::SNS::Topic").items()}

    @property
    def usage_plans(self) -> dict[str, str]:
        """Tier (the plan's `Metadata.AIQLeads.tier`) -> usage plan id in moto's API Gateway."""
        declared = self._resolver.template.get("Resources") or {}
        plans: dict[str, str] = {}
        for name, item in self.of_type("AWS::ApiGateway::UsagePlan").items():
            tier = ((declared[name].get("Metadata") or {}).get("AIQLeads") or {}).get("tier")
            if tier is not None:
                plans[str(tier)] = item.physical_id
        return plans

    def function_environment(self, function_id: str | None = None) -> dict[str, str]:
        """A function's environment variables as deployed: Globals.Function's merged with the function's own,
        resolved against the local resources (the AWS endpoint variables come from the server, not from here)."""
        template = self._resolver.template
        variables: dict[str, Any] = {}
        globals_section = (template.get("Globals") or {}).get("Function") or {}
        variables.update(((globals_section.get("Environment") or {}).get("Variables")) or {})
        if function_id is not None:
            resource = (template.get("Resources") or {}).get(function_id)
            if not isinstance(resource, dict):
                raise KeyError(f"no resource named {function_id!r}")
            properties = resource.get("Properties") or {}
            variables.update(((properties.get("Environment") or {}).get("Variables")) or {})
        return {name: str(value) for name, value in self.resolve(variables).items()}

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: endpoint, names/URLs/ARNs by logical id, outputs, skipped resources, notes."""
        return {
            "aws_endpoint_url": self.endpoint_url,
            "region": self.region,
            "account_id": self.account_id,
            "stack_name": self.stack_name,
            "parameters": self.parameters,
            "tables": self.tables,
            "buckets": self.buckets,
            "queues": self.queues,
            "topics": self.topics,
            "usage_plans": self.usage_plans,
            "resources": {
                name: {"type": item.type, "ref": item.physical_id, **dict(item.attributes)}
                for name, item in self.created.items()
            },
            "outputs": self.outputs,
            "skipped": {name: {"type": item.type, "reason": item.reason} for name, item in self.skipped.items()},
            "notes": self.notes,
        }


# ---------------------------------------------------------------------------------------------------- helpers


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _is_true(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _attribute_text(value: Any) -> str:
    """An SQS/SNS attribute value as those APIs take it: strings, booleans as true/false, documents as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _tags_dict(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(key): str(value) for key, value in tags.items()}
    return {str(tag["Key"]): str(tag["Value"]) for tag in tags or []}


class _Context:
    """Shared by the per-type creators: clients, names, the resolver and the notes."""

    def __init__(self, endpoint_url: str, region: str, resolver: Resolver, notes: list[str]) -> None:
        self.endpoint_url = endpoint_url
        self.region = region
        self.resolver = resolver
        self.notes = notes
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = client(service, self.endpoint_url, self.region)
        return self._clients[service]

    @property
    def account_id(self) -> str:
        return self.resolver.account_id

    def generated_name(self, logical_id: str, limit: int, suffix: str = "") -> str:
        """CloudFormation-style `<stack>-<LogicalId>` (without its random suffix), within the service's limit."""
        return f"{self.resolver.stack_name}-{logical_id}"[: limit - len(suffix)] + suffix

    def unapplied(self, logical_id: str, properties: Mapping[str, Any], handled: set[str]) -> None:
        for name in sorted(set(properties) - handled):
            self.notes.append(f"{logical_id}: property {name} is not applied locally")


Creator = Callable[[_Context, str, dict[str, Any]], CreatedResource]


# ---------------------------------------------------------------------------------------------------- DynamoDB

_TABLE_PROPERTIES = {
    "TableName",
    "KeySchema",
    "AttributeDefinitions",
    "BillingMode",
    "ProvisionedThroughput",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
    "StreamSpecification",
    "SSESpecification",
    "TableClass",
    "DeletionProtectionEnabled",
    "Tags",
    "TimeToLiveSpecification",
    "PointInTimeRecoverySpecification",
}


def _throughput(value: Any) -> dict[str, int]:
    value = value or {}
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }


def _index_requests(indexes: list[dict[str, Any]], billing: str) -> list[dict[str, Any]]:
    entries = []
    for index in indexes:
        entry = {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
        if billing == "PROVISIONED":
            entry["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput"))
        entries.append(entry)
    return entries


def _table_request(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """CreateTable's request from the template's properties (CloudFormation's names where they differ)."""
    billing = str(properties.get("BillingMode", "PROVISIONED"))
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": properties["KeySchema"],
        "AttributeDefinitions": properties["AttributeDefinitions"],
        "BillingMode": billing,
    }
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = _throughput(properties.get("ProvisionedThroughput"))
    if properties.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = _index_requests(properties["GlobalSecondaryIndexes"], billing)
    if properties.get("LocalSecondaryIndexes"):
        # A local index shares the table's throughput: no ProvisionedThroughput of its own.
        request["LocalSecondaryIndexes"] = _index_requests(properties["LocalSecondaryIndexes"], "PAY_PER_REQUEST")
    stream = properties.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = properties.get("SSESpecification")
    if sse:  # CloudFormation's SSEEnabled is the API's Enabled
        request["SSESpecification"] = {"Enabled": _is_true(sse.get("SSEEnabled"))}
        for key in ("SSEType", "KMSMasterKeyId"):
            if key in sse:
                request["SSESpecification"][key] = sse[key]
    if "TableClass" in properties:
        request["TableClass"] = properties["TableClass"]
    if "DeletionProtectionEnabled" in properties:
        request["DeletionProtectionEnabled"] = _is_true(properties["DeletionProtectionEnabled"])
    if properties.get("Tags"):
        request["Tags"] = [{"Key": key, "Value": value} for key, value in _tags_dict(properties["Tags"]).items()]
    return request


def _apply_table_settings(dynamodb: Any, name: str, properties: dict[str, Any]) -> None:
    """What CreateTable cannot set: time to live and point-in-time recovery (changed only when they differ)."""
    ttl = properties.get("TimeToLiveSpecification")
    if ttl:
        wanted = {"AttributeName": str(ttl["AttributeName"]), "Enabled": _is_true(ttl.get("Enabled", True))}
        current = dynamodb.describe_time_to_live(TableName=name).get("TimeToLiveDescription", {})
        current_enabled = current.get("TimeToLiveStatus") in {"ENABLED", "ENABLING"}
        if (current.get("AttributeName"), current_enabled) != (wanted["AttributeName"], wanted["Enabled"]):
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=wanted)
    pitr = properties.get("PointInTimeRecoverySpecification")
    if pitr and _is_true(pitr.get("PointInTimeRecoveryEnabled")):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )


def _create_table(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    dynamodb = context.client("dynamodb")
    name = str(properties.get("TableName") or context.generated_name(logical_id, 255))
    request = _table_request(name, properties)
    try:
        description = dynamodb.create_table(**request)["TableDescription"]
    except Exception as error:
        if _error_code(error) != "ResourceInUseException":
            raise
        description = dynamodb.describe_table(TableName=name)["Table"]
        if description.get("KeySchema") != request["KeySchema"]:
            raise ResourceCreationError(
                f"{logical_id}: table {name} exists with key schema {description.get('KeySchema')}, the template "
                f"says {request['KeySchema']}; restart the local cloud to recreate it"
            ) from error
    _apply_table_settings(dynamodb, name, properties)
    context.unapplied(logical_id, properties, _TABLE_PROPERTIES)
    attributes = {"Arn": str(description["TableArn"])}
    if description.get("LatestStreamArn"):
        attributes["StreamArn"] = str(description["LatestStreamArn"])
    return CreatedResource(logical_id, "AWS::DynamoDB::Table", name, attributes)


# ---------------------------------------------------------------------------------------------------- S3

_BUCKET_PROPERTIES = {
    "BucketName",
    "VersioningConfiguration",
    "BucketEncryption",
    "PublicAccessBlockConfiguration",
    "OwnershipControls",
    "LifecycleConfiguration",
    "CorsConfiguration",
    "NotificationConfiguration",
    "Tags",
}


def _bucket_name(context: _Context, logical_id: str) -> str:
    name = re.sub(r"[^a-z0-9.-]+", "-", context.generated_name(logical_id, 63).lower()).strip("-.")
    return name[:63]


def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudFormation lifecycle rule in the S3 API's shape (the common fields)."""
    converted: dict[str, Any] = {"Status": rule.get("Status", "Enabled")}
    if "Id" in rule:
        converted["ID"] = rule["Id"]
    converted["Filter"] = {"Prefix": rule.get("Prefix", "")}
    expiration: dict[str, Any] = {}
    if "ExpirationInDays" in rule:
        expiration["Days"] = int(rule["ExpirationInDays"])
    if "ExpirationDate" in rule:
        expiration["Date"] = rule["ExpirationDate"]
    if "ExpiredObjectDeleteMarker" in rule:
        expiration["ExpiredObjectDeleteMarker"] = _is_true(rule["ExpiredObjectDeleteMarker"])
    if expiration:
        converted["Expiration"] = expiration
    noncurrent = rule.get("NoncurrentVersionExpiration") or (
        {"NoncurrentDays": rule["NoncurrentVersionExpirationInDays"]}
        if "NoncurrentVersionExpirationInDays" in rule
        else None
    )
    if noncurrent:
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": int(noncurrent["NoncurrentDays"])}
    abort = rule.get("AbortIncompleteMultipartUpload")
    if abort:
        converted["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": int(abort["DaysAfterInitiation"])}
    if "Transitions" in rule:
        converted["Transitions"] = [
            {"Days": int(item["TransitionInDays"]), "StorageClass": item["StorageClass"]}
            for item in rule["Transitions"]
            if "TransitionInDays" in item
        ]
    return converted


def _notification_configuration(context: _Context, logical_id: str, notification: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the S3 API's shape (queues and topics)."""

    def filter_of(entry: Mapping[str, Any]) -> dict[str, Any]:
        rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        return {"Key": {"FilterRules": [{"Name": rule["Name"], "Value": rule["Value"]} for rule in rules]}}

    configuration: dict[str, Any] = {}
    for cfn_key, api_key, arn_key, target in (
        ("QueueConfigurations", "QueueConfigurations", "QueueArn", "Queue"),
        ("TopicConfigurations", "TopicConfigurations", "TopicArn", "Topic"),
    ):
        entries = []
        for index, entry in enumerate(notification.get(cfn_key) or []):
            converted: dict[str, Any] = {
                "Id": f"{logical_id}-{target.lower()}-{index}",
                arn_key: entry[target],
                "Events": [entry["Event"]],
            }
            if entry.get("Filter"):
                converted["Filter"] = filter_of(entry)
            entries.append(converted)
        if entries:
            configuration[api_key] = entries
    for name in sorted(set(notification) - {"QueueConfigurations", "TopicConfigurations"}):
        context.notes.append(
            f"{logical_id}: NotificationConfiguration.{name} is not applied locally "
            "(the local cloud runs functions on their event sources itself)"
        )
    return configuration


def _notification_signature(configuration: Mapping[str, Any]) -> set[tuple[Any, ...]]:
    """Compare notification configurations regardless of ids, order and filter-name case."""
    signature: set[tuple[Any, ...]] = set()
    for kind, arn_key in (("QueueConfigurations", "QueueArn"), ("TopicConfigurations", "TopicArn")):
        for entry in configuration.get(kind) or []:
            rules = ((entry.get("Filter") or {}).get("Key") or {}).get("FilterRules") or []
            signature.add(
                (
                    kind,
                    entry.get(arn_key),
                    tuple(sorted(entry.get("Events") or [])),
                    tuple(sorted((str(rule["Name"]).lower(), rule["Value"]) for rule in rules)),
                )
            )
    return signature


def _configure_bucket_security(s3: Any, name: str, properties: dict[str, Any]) -> None:
    """Versioning, default encryption, public access block and object ownership."""
    if properties.get("VersioningConfiguration"):
        s3.put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": properties["VersioningConfiguration"]["Status"]}
        )
    encryption = properties.get("BucketEncryption")
    if encryption:
        rules = []
        for rule in encryption.get("ServerSideEncryptionConfiguration") or []:
            converted: dict[str, Any] = {}
            if rule.get("ServerSideEncryptionByDefault"):
                converted["ApplyServerSideEncryptionByDefault"] = rule["ServerSideEncryptionByDefault"]
            if "BucketKeyEnabled" in rule:
                converted["BucketKeyEnabled"] = _is_true(rule["BucketKeyEnabled"])
            rules.append(converted)
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    block = properties.get("PublicAccessBlockConfiguration")
    if block:
        s3.put_public_access_block(
            Bucket=name, PublicAccessBlockConfiguration={key: _is_true(value) for key, value in block.items()}
        )
    if properties.get("OwnershipControls"):
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=properties["OwnershipControls"])


def _configure_bucket_rules(context: _Context, logical_id: str, s3: Any, name: str, properties: dict[str, Any]) -> None:
    """Lifecycle, CORS, tags and event notifications."""
    lifecycle = properties.get("LifecycleConfiguration")
    if lifecycle and lifecycle.get("Rules"):
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in lifecycle["Rules"]]}
        )
        context.notes.append(f"{logical_id}: lifecycle rules are stored but moto never expires objects")
    cors = properties.get("CorsConfiguration")
    if cors and cors.get("CorsRules"):
        renamed = {"Id": "ID", "MaxAge": "MaxAgeSeconds", "ExposedHeaders": "ExposeHeaders"}
        s3.put_bucket_cors(
            Bucket=name,
            CORSConfiguration={
                "CORSRules": [
                    {renamed.get(key, key): value for key, value in rule.items()} for rule in cors["CorsRules"]
                ]
            },
        )
    if properties.get("Tags"):
        tags = [{"Key": key, "Value": value} for key, value in _tags_dict(properties["Tags"]).items()]
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    notification = properties.get("NotificationConfiguration")
    if notification:
        wanted = _notification_configuration(context, logical_id, notification)
        current = s3.get_bucket_notification_configuration(Bucket=name)
        # Putting a configuration makes S3 (and moto) send an s3:TestEvent to each destination: only when it changes.
        if _notification_signature(current) != _notification_signature(wanted):
            s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration=wanted)


def _create_bucket(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    s3 = context.client("s3")
    name = str(properties.get("BucketName") or _bucket_name(context, logical_id))
    request: dict[str, Any] = {"Bucket": name}
    if context.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": context.region}
    try:
        s3.create_bucket(**request)
    except Exception as error:
        if _error_code(error) != "BucketAlreadyOwnedByYou":
            raise

    _configure_bucket_security(s3, name, properties)
    _configure_bucket_rules(context, logical_id, s3, name, properties)

    context.unapplied(logical_id, properties, _BUCKET_PROPERTIES)
    region = context.region
    attributes = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
    }
    return CreatedResource(logical_id, "AWS::S3::Bucket", name, attributes)


def _needs_tls(statement: Any) -> bool:
    conditions = statement.get("Condition") if isinstance(statement, dict) else None
    return isinstance(conditions, dict) and any(
        isinstance(keys, dict) and any(str(key).lower() == "aws:securetransport" for key in keys)
        for keys in conditions.values()
    )


def _create_bucket_policy(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    bucket = str(properties["Bucket"])
    document = dict(properties["PolicyDocument"])
    statements = document.get("Statement")
    statements = statements if isinstance(statements, list) else [statements]
    # moto enforces bucket policies' Deny statements, and the local endpoint is plain HTTP on loopback: a statement
    # about aws:SecureTransport (e.g. DenyInsecureTransport) would deny every request, so it is left out.
    kept = [statement for statement in statements if not _needs_tls(statement)]
    for statement in statements:
        if _needs_tls(statement):
            sid = statement.get("Sid", "(no Sid)")
            context.notes.append(
                f"{logical_id}: statement {sid} (aws:SecureTransport) not applied: the local endpoint is plain HTTP"
            )
    if kept:
        document["Statement"] = kept
        context.client("s3").put_bucket_policy(Bucket=bucket, Policy=_attribute_text(document))
    context.unapplied(logical_id, properties, {"Bucket", "PolicyDocument"})
    return CreatedResource(logical_id, "AWS::S3::BucketPolicy", bucket)


# ---------------------------------------------------------------------------------------------------- SQS

_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def _create_queue(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    sqs = context.client("sqs")
    fifo = _is_true(properties.get("FifoQueue"))
    name = str(properties.get("QueueName") or context.generated_name(logical_id, 80, ".fifo" if fifo else ""))
    attributes = {key: _attribute_text(properties[key]) for key in _QUEUE_ATTRIBUTES if key in properties}
    request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
    if properties.get("Tags"):
        request["tags"] = _tags_dict(properties["Tags"])
    try:
        url = sqs.create_queue(**request)["QueueUrl"]
    except Exception as error:
        if _error_code(error) not in {
            "QueueAlreadyExists",
            "QueueNameExists",
            "AWS.SimpleQueueService.QueueNameExists",
        }:
            raise
        # The queue exists with other attributes (the template changed while the server ran): converge.
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        changeable = {key: value for key, value in attributes.items() if key != "FifoQueue"}
        if changeable:
            sqs.set_queue_attributes(QueueUrl=url, Attributes=changeable)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    context.unapplied(logical_id, properties, {*_QUEUE_ATTRIBUTES, "QueueName", "Tags"})
    return CreatedResource(
        logical_id, "AWS::SQS::Queue", str(url), {"Arn": str(arn), "QueueName": name, "QueueUrl": str(url)}
    )


def _create_queue_policy(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    sqs = context.client("sqs")
    policy = _attribute_text(properties["PolicyDocument"])
    for url in properties["Queues"]:
        sqs.set_queue_attributes(QueueUrl=str(url), Attributes={"Policy": policy})
    context.unapplied(logical_id, properties, {"Queues", "PolicyDocument"})
    return CreatedResource(logical_id, "AWS::SQS::QueuePolicy", context.generated_name(logical_id, 255))


# ---------------------------------------------------------------------------------------------------- SNS

_TOPIC_ATTRIBUTES = (
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DisplayName",
    "FifoTopic",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
)
_SUBSCRIPTION_ATTRIBUTES = (
    "DeliveryPolicy",
    "FilterPolicy",
    "FilterPolicyScope",
    "RawMessageDelivery",
    "RedrivePolicy",
    "ReplayPolicy",
    "SubscriptionRoleArn",
)


def _subscribe(context: _Context, topic_arn: str, protocol: str, endpoint: str, attributes: dict[str, str]) -> str:
    sns = context.client("sns")
    # SNS (and moto) return the existing subscription for the same topic, protocol and endpoint: no duplicates.
    arn = str(
        sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint, ReturnSubscriptionArn=True)[
            "SubscriptionArn"
        ]
    )
    for key, value in attributes.items():
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName=key, AttributeValue=value)
    return arn


def _create_topic(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    sns = context.client("sns")
    fifo = _is_true(properties.get("FifoTopic"))
    name = str(properties.get("TopicName") or context.generated_name(logical_id, 256, ".fifo" if fifo else ""))
    attributes = {key: _attribute_text(properties[key]) for key in _TOPIC_ATTRIBUTES if key in properties}
    request: dict[str, Any] = {"Name": name, "Attributes": attributes}
    if properties.get("Tags"):
        request["Tags"] = [{"Key": key, "Value": value} for key, value in _tags_dict(properties["Tags"]).items()]
    arn = str(sns.create_topic(**request)["TopicArn"])
    for subscription in properties.get("Subscription") or []:
        _subscribe(context, arn, str(subscription["Protocol"]), str(subscription["Endpoint"]), {})
    context.unapplied(logical_id, properties, {*_TOPIC_ATTRIBUTES, "TopicName", "Tags", "Subscription"})
    return CreatedResource(logical_id, "AWS::SNS::Topic", arn, {"TopicArn": arn, "TopicName": name})


def _create_subscription(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    region = properties.get("Region")
    if region and region != context.region:
        context.notes.append(f"{logical_id}: Region {region} ignored; everything is in {context.region} locally")
    attributes = {key: _attribute_text(properties[key]) for key in _SUBSCRIPTION_ATTRIBUTES if key in properties}
    arn = _subscribe(
        context, str(properties["TopicArn"]), str(properties["Protocol"]), str(properties["Endpoint"]), attributes
    )
    context.unapplied(logical_id, properties, {*_SUBSCRIPTION_ATTRIBUTES, "TopicArn", "Protocol", "Endpoint", "Region"})
    return CreatedResource(logical_id, "AWS::SNS::Subscription", arn, {"Arn": arn})


def _create_topic_policy(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    sns = context.client("sns")
    policy = _attribute_text(properties["PolicyDocument"])
    for topic_arn in properties["Topics"]:
        sns.set_topic_attributes(TopicArn=str(topic_arn), AttributeName="Policy", AttributeValue=policy)
    context.unapplied(logical_id, properties, {"Topics", "PolicyDocument"})
    return CreatedResource(logical_id, "AWS::SNS::TopicPolicy", context.generated_name(logical_id, 255))


# ---------------------------------------------------------------------------------------------------- API Gateway

# Properties about the REST API itself, which moto does not hold (the local API server emulates it): resolving them
# would name a skipped resource.
_UNRESOLVED_PROPERTIES = {"AWS::ApiGateway::UsagePlan": {"ApiStages"}}


def _create_usage_plan(context: _Context, logical_id: str, properties: dict[str, Any]) -> CreatedResource:
    """The plan in moto's API Gateway, where API keys are registered as in AWS; the local API server reads which
    plan holds a key from there. Found again by name, so a second run keeps the keys registered in it."""
    apigateway = context.client("apigateway")
    name = str(properties.get("UsagePlanName") or context.generated_name(logical_id, 255))
    existing = [
        plan
        for page in apigateway.get_paginator("get_usage_plans").paginate()
        for plan in page.get("items", [])
        if plan.get("name") == name
    ]
    if existing:
        plan_id = str(existing[0]["id"])
    else:
        request: dict[str, Any] = {"name": name}
        if properties.get("Description"):
            request["description"] = str(properties["Description"])
        throttle = properties.get("Throttle") or {}
        if throttle:
            request["throttle"] = {
                **({"rateLimit": float(throttle["RateLimit"])} if "RateLimit" in throttle else {}),
                **({"burstLimit": int(throttle["BurstLimit"])} if "BurstLimit" in throttle else {}),
            }
        quota = properties.get("Quota") or {}
        if quota:
            request["quota"] = {key[0].lower() + key[1:]: value for key, value in quota.items()}
        if properties.get("Tags"):
            request["tags"] = _tags_dict(properties["Tags"])
        plan_id = str(apigateway.create_usage_plan(**request)["id"])
    note = "usage plans: ApiStages name the emulated REST API; the local API server serves the plans on its stage"
    if note not in context.notes:
        context.notes.append(note)
    context.unapplied(logical_id, properties, {"UsagePlanName", "Description", "Throttle", "Quota", "Tags"})
    return CreatedResource(logical_id, "AWS::ApiGateway::UsagePlan", plan_id, {"Id": plan_id})


_HANDLERS: dict[str, Creator] = {
    "AWS::DynamoDB::Table": _create_table,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::S3::BucketPolicy": _create_bucket_policy,
    "AWS::SQS::Queue": _create_queue,
    "AWS::SQS::QueuePolicy": _create_queue_policy,
    "AWS::SNS::Topic": _create_topic,
    "AWS::SNS::Subscription": _create_subscription,
    "AWS::SNS::TopicPolicy": _create_topic_policy,
    "AWS::ApiGateway::UsagePlan": _create_usage_plan,
}

CREATED_TYPES = frozenset(_HANDLERS)


# ---------------------------------------------------------------------------------------------------- ordering


def creation_order(resources: Mapping[str, Any]) -> list[str]:
    """Logical ids such that each comes after every resource it refers to (Ref, GetAtt, Sub, DependsOn);
    template order among independent ones. A dependency cycle raises `ResourceCreationError`."""
    dependencies: dict[str, set[str]] = {}
    for name, resource in resources.items():
        resource = resource if isinstance(resource, dict) else {}
        needed = set(references(resource.get("Properties") or {}))
        depends_on = resource.get("DependsOn") or []
        needed.update([depends_on] if isinstance(depends_on, str) else [str(item) for item in depends_on])
        dependencies[name] = {item for item in needed if item in resources and item != name}

    order: list[str] = []
    done: set[str] = set()
    pending = list(resources)
    while pending:
        ready = [name for name in pending if dependencies[name] <= done]
        if not ready:
            cycle = ", ".join(f"{name} -> {sorted(dependencies[name] - done)}" for name in pending)
            raise ResourceCreationError(f"dependency cycle among resources: {cycle}")
        for name in ready:
            order.append(name)
            done.add(name)
        pending = [name for name in pending if name not in done]
    return order


# ---------------------------------------------------------------------------------------------------- entry point


def create_resources(
    endpoint_url: str,
    template: Mapping[str, Any] | str | Path = "template.yaml",
    *,
    parameters: Mapping[str, Any] | None = None,
    stack_name: str = DEFAULT_STACK_NAME,
    region: str = REGION,
) -> LocalResources:
    """Create every resource of `template` (a path or `load_template`'s data) that has a local meaning on the
    loopback `endpoint_url`; skip and list the rest. Idempotent: a second run on the same server converges."""
    data: Mapping[str, Any] = load_template(template) if isinstance(template, str | Path) else template
    identity = client("sts", endpoint_url, region).get_caller_identity()
    resolver = Resolver(
        data, parameters=parameters, region=region, account_id=str(identity["Account"]), stack_name=stack_name
    )
    notes: list[str] = []
    context = _Context(endpoint_url, region, resolver, notes)
    declared: Mapping[str, Any] = data.get("Resources") or {}

    for logical_id in creation_order(declared):
        resource = declared[logical_id] if isinstance(declared[logical_id], dict) else {}
        resource_type = str(resource.get("Type", ""))
        condition = resource.get("Condition")
        if condition is not None and not resolver.condition(str(condition)):
            resolver.skipped[logical_id] = SkippedResource(logical_id, resource_type, f"condition {condition} is false")
            continue
        reason = skip_reason(resource_type)
        if reason is not None:
            resolver.skipped[logical_id] = SkippedResource(logical_id, resource_type, reason)
            continue
        try:
            unresolved = _UNRESOLVED_PROPERTIES.get(resource_type, set())
            declared_properties = resource.get("Properties") or {}
            properties = resolver.resolve({k: v for k, v in declared_properties.items() if k not in unresolved})
            resolver.created[logical_id] = _HANDLERS[resource_type](context, logical_id, properties)
        except LocalCloudError as error:
            raise ResourceCreationError(f"{logical_id} ({resource_type}): {error}") from error
        except Exception as error:
            raise ResourceCreationError(f"{logical_id} ({resource_type}): {type(error).__name__}: {error}") from error

    outputs: dict[str, Any] = {}
    for name, output in (data.get("Outputs") or {}).items():
        if not isinstance(output, dict) or (output.get("Condition") and not resolver.condition(output["Condition"])):
            continue
        try:
            outputs[name] = resolver.resolve(output.get("Value"))
        except UnresolvableError:
            continue  # e.g. the API URL: it refers to a skipped resource; the local API server reports its own

    return LocalResources(
        endpoint_url=endpoint_url,
        region=region,
        account_id=resolver.account_id,
        stack_name=stack_name,
        parameters=dict(resolver.parameters),
        created={name: resolver.created[name] for name in declared if name in resolver.created},  # template order
        skipped={name: resolver.skipped[name] for name in declared if name in resolver.skipped},
        outputs=outputs,
        notes=notes,
        _resolver=resolver,
    )
