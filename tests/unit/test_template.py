"""template.yaml: it loads as plain data, passes the check, and declares what the system needs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aiqleads.bulk.requests import MARKET_SIGNALS_PREFIX, UPLOAD_KINDS, UPLOADS_PREFIX
from aiqleads.settings import FUNCTION_SETTINGS, AuthorizerSettings, QueueConsumer
from aiqleads.webhooks.settings import parse_duration
from infra.iam.policies import sentinel_resolver
from infra.local_cloud.functions import discover_functions
from infra.local_cloud.gateway import GatewayConfig
from infra.local_cloud.intrinsics import Resolver
from infra.template import dangling_references, load_template, main

ROOT = Path(__file__).resolve().parents[2]

TEMPLATE = ROOT / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def resources_of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# ------------------------------------------------------------------------------------------ loading and checking


def test_short_form_tags_load_as_plain_data(template: dict[str, Any]) -> None:
    environment = template["Globals"]["Function"]["Environment"]["Variables"]
    assert environment["STAGE"] == {"Ref": "Stage"}
    assert environment["AIQLEADS_MODEL_DIR"] == {"Fn::Sub": "/opt/model_artifacts/lead_scorer/${ModelVersion}"}
    events = template["Resources"]["BulkScoreFunction"]["Properties"]["Events"]
    assert events["Upload"]["Properties"]["Queue"] == {"Fn::GetAtt": ["BulkQueue", "Arn"]}

    def types(value: Any) -> set[type]:
        if isinstance(value, dict):
            return {type(value)} | {type(key) for key in value} | set().union(*map(types, value.values()))
        if isinstance(value, list):
            return {list} | set().union(*map(types, value))
        return {type(value)}

    assert types(template) <= {dict, list, str, int, float, bool, type(None)}


def test_real_template_has_no_dangling_references(template: dict[str, Any]) -> None:
    assert dangling_references(template) == []


def test_check_passes_on_the_real_template(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(TEMPLATE)]) == 0, capsys.readouterr().out


BREAKAGES = {
    # cfn-lint 1.58 reports the first three (plain function properties) ...
    "        JOBS_QUEUE_URL: !Ref JobsQueue\n": "        JOBS_QUEUE_URL: !Ref JobsQueue\n        BROKEN_GLOBAL: !Ref NoSuchGlobal\n",
    "          POWERTOOLS_SERVICE_NAME: api  # Logger's service, the metrics' service dimension\n": (
        "          POWERTOOLS_SERVICE_NAME: api\n"
        "          BROKEN_REF: !Ref NoSuchTable\n"
        "          BROKEN_GETATT: !GetAtt Missing.Arn\n"
        '          BROKEN_SUB: !Sub "${AlsoMissing}"\n'
    ),
    # ... but not these, inside a function's Policies and event sources (nor the Globals one above).
    "Resource: !GetAtt ApiKeysTable.Arn": "Resource: !GetAtt NoSuchPolicyTable.Arn",
    "Queue: !GetAtt EventsQueue.Arn": "Queue: !GetAtt NoSuchQueue.Arn",
}
MISSING = ["NoSuchGlobal", "NoSuchTable", "Missing", "AlsoMissing", "NoSuchPolicyTable", "NoSuchQueue"]


@pytest.fixture(scope="module")
def broken_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    text = TEMPLATE.read_text()
    for good, bad in BREAKAGES.items():
        assert text.count(good) == 1, f"template.yaml changed: update BREAKAGES for {good!r}"
        text = text.replace(good, bad)
    path = tmp_path_factory.mktemp("broken") / "template.yaml"
    path.write_text(text)
    return path


def test_dangling_references_are_found_in_a_broken_copy(broken_template: Path) -> None:
    problems = dangling_references(load_template(broken_template))
    assert len(problems) == len(MISSING), problems
    for name, problem in zip(MISSING, problems, strict=True):
        assert f"named {name!r}" in problem
    assert "Globals.Function.Environment.Variables.BROKEN_GLOBAL" in problems[0]
    assert "Resources.AuthorizerFunction.Properties.Policies[0].Statement[0].Resource" in problems[4]
    assert "Resources.EventsFunction.Properties.Events.Interactions.Properties.Queue" in problems[5]


def test_check_cli_fails_on_a_broken_copy(broken_template: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "infra.template", "check", str(broken_template)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    dangling = [line for line in result.stdout.splitlines() if "dangling reference" in line]
    assert len(dangling) == len(MISSING), result.stdout
    assert "(line " in dangling[0]  # the CLI points at the line


def sub_template(value: Any, **resources: Any) -> dict[str, Any]:
    return {
        "Parameters": {"Stage": {"Type": "String"}},
        "Resources": {"Thing": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": value}}, **resources},
    }


@pytest.mark.parametrize(
    "value",
    [
        {"Fn::Sub": "${AWS::Region}-${Stage}-${Thing}-${Thing.TopicName}-${!Literal}"},
        {"Fn::Sub": ["${Local}-${Stage}", {"Local": {"Ref": "Thing"}}]},
        {"Fn::GetAtt": "Thing.TopicName"},
        {"Fn::GetAtt": ["Thing", "TopicName"]},
        {"Ref": "AWS::StackName"},
    ],
)
def test_valid_references_pass(value: Any) -> None:
    assert dangling_references(sub_template(value)) == []


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ({"Fn::Sub": "${Nope}"}, "Nope"),
        ({"Fn::Sub": "${Nope.Arn}"}, "Nope"),
        ({"Fn::Sub": ["${Local}-${Nope}", {"Local": "x"}]}, "Nope"),
        ({"Fn::Sub": ["${Local}", {"Local": {"Ref": "Nope"}}]}, "Nope"),
        ({"Fn::GetAtt": "Nope.Arn"}, "Nope"),
        ({"Fn::GetAtt": ["Stage", "Arn"]}, "Stage"),  # a parameter has no attributes
        ({"Fn::Join": ["", [{"Ref": "Nope"}]]}, "Nope"),
    ],
)
def test_dangling_references_are_reported(value: Any, name: str) -> None:
    problems = dangling_references(sub_template(value))
    assert len(problems) == 1
    assert f"named {name!r}" in problems[0]
    assert problems[0].startswith("Resources.Thing.Properties.DisplayName")


def test_sam_implicit_names_are_accepted_only_when_sam_creates_them() -> None:
    function = {
        "Type": "AWS::Serverless::Function",
        "Properties": {"Events": {"Get": {"Type": "Api", "Properties": {"Path": "/", "Method": "get"}}}},
    }
    uses = {"Ref": "ServerlessRestApi"}, {"Fn::GetAtt": ["FnRole", "Arn"]}, {"Ref": "MyApi.Stage"}
    api = {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "dev"}}
    assert dangling_references(sub_template(list(uses), Fn=function, MyApi=api)) == []

    own_api = {**function, "Properties": {"Role": "arn:aws:iam::1:role/x", "Events": {}}}
    problems = dangling_references(sub_template(list(uses), Fn=own_api))
    assert [problem.split(": ")[1] for problem in problems] == [
        "!Ref ServerlessRestApi",
        "!GetAtt FnRole.Arn",
        "!Ref MyApi.Stage",
    ]


# ------------------------------------------------------------------------------------------ what it declares


def test_functions_follow_the_layout(template: dict[str, Any]) -> None:
    functions = resources_of(template, "AWS::Serverless::Function")
    assert set(functions) == {
        "ApiFunction",
        "AuthorizerFunction",
        "BulkScoreFunction",
        "EventsFunction",
        "NotifyFunction",
        "PublisherFunction",
        "RecommendationsJobFunction",
        "TrainingFunction",
        "MonitorFunction",
    }
    function_globals = template["Globals"]["Function"]
    for name, function in functions.items():
        properties = function["Properties"]
        assert properties["CodeUri"] == f"functions/{snake(name.removesuffix('Function'))}/"
        assert properties["Handler"] == "handler.handler"
        # the Globals' layers; the training function adds its own (SAM appends a function's Layers to the Globals')
        assert properties.get("Layers") == ([{"Ref": "TrainingLayer"}] if name == "TrainingFunction" else None)
        assert "LogGroup" in properties["LoggingConfig"]
        log_group = template["Resources"][properties["LoggingConfig"]["LogGroup"]["Ref"]]
        assert log_group["Properties"]["RetentionInDays"] == 30
        assert properties["Policies"], f"{name} has no least-privilege policies"
    assert function_globals["Layers"] == [{"Ref": "CoreLayer"}, {"Ref": "DepsLayer"}]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"


def test_every_route_is_an_api_event(template: dict[str, Any]) -> None:
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"].values()
    routes = {(event["Properties"]["Method"].upper(), event["Properties"]["Path"]) for event in events}
    assert routes >= {
        ("POST", "/v1/leads"),
        ("POST", "/v1/leads/batch"),
        ("GET", "/v1/leads/{id}"),
        ("POST", "/v1/leads/score"),
        ("GET", "/v1/leads/{id}/score"),
        ("POST", "/v1/events"),
        ("POST", "/v1/conversions"),
        ("GET", "/v1/health"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/recommendations"),
        ("GET", "/v1/recommendations/{id}"),
        ("POST", "/v1/recommendations/generate"),
        ("GET", "/v1/jobs/{id}"),
        ("PATCH", "/v1/recommendations/{id}"),
        ("GET", "/v1/models"),
        ("GET", "/v1/models/{version}"),
        ("PUT", "/v1/models/aliases/{alias}"),
        ("POST", "/v1/models/aliases/production/rollback"),
        ("POST", "/v1/models/training-jobs"),
    }
    assert all(event["Type"] == "Api" and event["Properties"]["RestApiId"] == {"Ref": "Api"} for event in events)
    public = {event["Properties"]["Path"] for event in events if event["Properties"].get("Auth")}
    assert public == {"/v1/health", "/v1/openapi.json"}
    auth = template["Resources"]["Api"]["Properties"]["Auth"]
    authorizer = auth["Authorizers"][auth["DefaultAuthorizer"]]
    assert authorizer["FunctionArn"] == {"Fn::GetAtt": ["AuthorizerFunction", "Arn"]}
    assert authorizer["Identity"]["Header"] == "x-api-key"


def test_every_queue_has_a_dead_letter_queue_and_an_alarm(template: dict[str, Any]) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    dead_letter = {
        queue["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for queue in queues.values()
        if "RedrivePolicy" in queue["Properties"]
    }
    stream_failures = {  # where a stream's event source mapping sends a batch it gave up on
        event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]["Fn::GetAtt"][0]
        for function in resources_of(template, "AWS::Serverless::Function").values()
        for event in (function["Properties"].get("Events") or {}).values()
        if event["Type"] == "DynamoDB"
    }
    assert stream_failures == {"PublisherDeadLetterQueue"}
    sources = set(queues) - dead_letter - stream_failures
    assert sources == {"BulkQueue", "EventsQueue", "NotifyQueue", "JobsQueue", "TrainingQueue", "MonitorQueue"}
    resolver = Resolver(template)
    for name in sources:
        redrive = queues[name]["Properties"]["RedrivePolicy"]
        target = redrive["deadLetterTargetArn"]["Fn::GetAtt"]
        assert target[1] == "Arn"
        assert "RedrivePolicy" not in queues[target[0]]["Properties"]
        long_runs = {"TrainingQueue", "MonitorQueue"}  # a training or monitoring run is long: fewer receives
        assert redrive["maxReceiveCount"] == {"Fn::FindInMap": ["QueueRedrive", name, "MaxReceiveCount"]}
        assert resolver.resolve(redrive["maxReceiveCount"]) == (3 if name in long_runs else 5)
    alarmed = {
        alarm["Properties"]["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in resources_of(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertsTopic"}]
        and alarm["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert alarmed == dead_letter | stream_failures


def test_queue_visibility_is_six_times_the_consumer_timeout(template: dict[str, Any]) -> None:
    default_timeout = template["Globals"]["Function"]["Timeout"]
    consumers = 0
    for function in resources_of(template, "AWS::Serverless::Function").values():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                queue = template["Resources"][event["Properties"]["Queue"]["Fn::GetAtt"][0]]
                timeout = function["Properties"].get("Timeout", default_timeout)
                assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout
                assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
                consumers += 1
    assert consumers == 6


def test_every_consumer_knows_its_queue_s_last_receive(template: dict[str, Any]) -> None:
    """A queue consumer alerts a message failing on its last receive (queue.dead_lettered): QUEUE_MAX_RECEIVES names
    every consumed queue (by ARN) with the very mapping entry its RedrivePolicy reads, so they cannot drift apart."""
    resolver = sentinel_resolver(template)  # a queue's Arn resolves to "{LogicalId}"
    variable = template["Globals"]["Function"]["Environment"]["Variables"]["QUEUE_MAX_RECEIVES"]
    stated = {arn.strip("{}"): count for arn, count in json.loads(resolver.resolve(variable)).items()}
    consumed = {
        event["Properties"]["Queue"]["Fn::GetAtt"][0]
        for function in resources_of(template, "AWS::Serverless::Function").values()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "SQS"
    }
    redrives = {
        name: int(resolver.resolve(queue["Properties"]["RedrivePolicy"]["maxReceiveCount"]))
        for name, queue in resources_of(template, "AWS::SQS::Queue").items()
        if name in consumed
    }
    assert set(redrives) == consumed  # every consumed queue has a redrive policy
    assert stated == redrives
    settings = QueueConsumer.from_env({"QUEUE_MAX_RECEIVES": json.dumps(stated)})
    assert settings.queue_max_receives == stated


def test_every_table_has_point_in_time_recovery(template: dict[str, Any]) -> None:
    tables = resources_of(template, "AWS::DynamoDB::Table")
    assert len(tables) == 11
    for table in tables.values():
        properties = table["Properties"]
        assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["SSESpecification"] == {"SSEEnabled": True}
    assert tables["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expiration"
    assert tables["LeadsTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
    assert tables["ApiKeysTable"]["Properties"]["KeySchema"] == [{"AttributeName": "key_hash", "KeyType": "HASH"}]
    (by_key_id,) = tables["ApiKeysTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert by_key_id["KeySchema"] == [{"AttributeName": "key_id", "KeyType": "HASH"}]
    assert tables["TenantsTable"]["Properties"]["KeySchema"] == [{"AttributeName": "tenant_id", "KeyType": "HASH"}]


def test_every_gateway_response_echoes_the_callers_request_id(template: dict[str, Any]) -> None:
    responses = template["Resources"]["Api"]["Properties"]["GatewayResponses"]
    assert {"DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED"} <= set(responses)
    for response in responses.values():
        assert response["ResponseParameters"]["Headers"]["X-Request-ID"] == "method.request.header.X-Request-ID"


def test_the_authorizer_states_the_rates_the_usage_plans_enforce(
    template: dict[str, Any],
) -> None:
    """Both come from Mappings.TierThrottle: what the authorizer passes to the API (X-RateLimit-Limit, per minute)
    is what API Gateway's usage plans (per second) and the local gateway enforce, at the published figures."""
    resolver = Resolver(template)
    variables = template["Resources"]["AuthorizerFunction"]["Properties"]["Environment"]["Variables"]
    environment = {name: str(resolver.resolve(value)) for name, value in variables.items()}
    settings = AuthorizerSettings.from_env({"API_KEYS_TABLE": "keys", **environment})
    stated = {tier.value: rate for tier, rate in settings.requests_per_minute.items()}
    assert stated == {"basic": 60, "pro": 300, "enterprise": 1000}
    plans = {
        plan["Metadata"]["AIQLeads"]["tier"]: resolver.resolve(plan["Properties"]["Throttle"])
        for plan in resources_of(template, "AWS::ApiGateway::UsagePlan").values()
    }
    assert set(plans) == set(stated)
    config = GatewayConfig.from_template(template, discover_functions(template, ROOT), resolver.resolve)
    local = {plan.tier: plan for plan in config.usage_plans.values()}
    for tier, throttle in plans.items():
        assert round(throttle["RateLimit"] * 60) == stated[tier]
        assert (round(local[tier].requests_per_minute), local[tier].burst) == (stated[tier], throttle["BurstLimit"])


def test_uploads_notify_the_bulk_queue(template: dict[str, Any]) -> None:
    """Lead files (uploads/) and market signal files (market-signals/) both go to BulkQueue, by the prefixes the
    bulk function's parser reads."""
    bucket = template["Resources"]["UploadsBucket"]
    notifications = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert all(n["Event"] == "s3:ObjectCreated:*" for n in notifications)
    assert all(n["Queue"] == {"Fn::GetAtt": ["BulkQueue", "Arn"]} for n in notifications)
    prefixes = [rule["Value"] for n in notifications for rule in n["Filter"]["S3Key"]["Rules"]]
    assert prefixes == [UPLOADS_PREFIX, MARKET_SIGNALS_PREFIX] == list(UPLOAD_KINDS)
    (statement,) = template["Resources"]["BulkQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert bucket["DependsOn"] == "BulkQueuePolicy"


def test_every_function_behind_the_api_ends_within_the_gateways_integration_limit(template: dict[str, Any]) -> None:
    """API Gateway gives up on an integration after 29 s; a function behind it must stop first (Globals'
    Timeout is for the queue consumers)."""
    default_timeout = template["Globals"]["Function"]["Timeout"]
    behind_api = {
        name: function["Properties"].get("Timeout", default_timeout)
        for name, function in resources_of(template, "AWS::Serverless::Function").items()
        if any(event["Type"] == "Api" for event in function["Properties"].get("Events", {}).values())
    }
    assert set(behind_api) == {"ApiFunction"}
    assert all(timeout < 29 for timeout in behind_api.values()), behind_api
    authorizer = template["Resources"]["AuthorizerFunction"]["Properties"]
    assert authorizer.get("Timeout", default_timeout) < 29


def test_idempotency_records_outlive_every_message_they_guard(template: dict[str, Any]) -> None:
    """A message lives at most its queue's retention and then its dead-letter queue's (a redrive sends it back):
    every consumer that keeps idempotency records keeps them longer, or a late redrive is applied twice."""
    idempotent = {
        name
        for name, function in resources_of(template, "AWS::Serverless::Function").items()
        if "IDEMPOTENCY_TABLE" in FUNCTION_SETTINGS[snake(name.removesuffix("Function"))].variables()
    }
    assert idempotent == {"EventsFunction"}
    for name in idempotent:
        properties = template["Resources"][name]["Properties"]
        expires = parse_duration(properties["Environment"]["Variables"]["IDEMPOTENCY_EXPIRES_AFTER"])
        (event,) = [event for event in properties["Events"].values() if event["Type"] == "SQS"]
        queue = template["Resources"][event["Properties"]["Queue"]["Fn::GetAtt"][0]]["Properties"]
        dead_letter = queue["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        longest = (
            queue["MessageRetentionPeriod"] + template["Resources"][dead_letter]["Properties"]["MessageRetentionPeriod"]
        )
        assert longest == 18 * 86400
        assert expires > longest, (name, expires, longest)


def test_the_api_has_only_its_declared_stage(template: dict[str, Any]) -> None:
    """Without an OpenApiVersion SAM adds a stage named "Stage" to every REST API, beside StageName's: one with
    no usage plan and no tracing. Setting it (any valid version) removes that stage."""
    globals_api = template["Globals"]["Api"]
    for name, api in resources_of(template, "AWS::Serverless::Api").items():
        version = api["Properties"].get("OpenApiVersion", globals_api.get("OpenApiVersion"))
        assert isinstance(version, str), name
        assert re.fullmatch(r"2\.0|3\.0\.\d+", version), name
        assert api["Properties"]["StageName"] == {"Ref": "Stage"}
    for plan in resources_of(template, "AWS::ApiGateway::UsagePlan").values():
        assert plan["Properties"]["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "Api.Stage"}}]


def test_data_is_kept_but_a_failed_first_deploy_leaves_nothing_behind(template: dict[str, Any]) -> None:
    """Tables and the bucket survive a stack delete or replacement (Retain), but not the rollback of the deploy
    that created them (RetainExceptOnCreate): a retained named bucket would make the redeploy fail."""
    kept = {name: resource for name, resource in template["Resources"].items() if "DeletionPolicy" in resource}
    transient = {"IdempotencyTable", "JobsTable", "OutboxTable"}  # records that expire anyway go with the stack
    stateful = resources_of(template, "AWS::DynamoDB::Table") | resources_of(template, "AWS::S3::Bucket")
    assert set(kept) == set(stateful) - transient
    assert "UploadsBucket" in kept
    for name, resource in kept.items():
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert resource["UpdateReplacePolicy"] == "Retain", name


NAME_PROPERTIES = ("Name", "LayerName", "UsagePlanName", "LogGroupName", "BucketName", "QueueName", "TopicName")
NAME_PROPERTIES += ("AlarmName",)


def test_two_stacks_of_one_stage_share_no_name(template: dict[str, Any]) -> None:
    """Every name the template gives derives from the stack (its name, or its id for the bucket, whose name must be
    lower case), so a second stack of the same stage in the account collides with nothing; the bucket policy names
    the bucket it belongs to."""

    def names(stack: str, stack_uuid: str) -> dict[str, str]:
        resolver = Resolver(template, stack_name=stack)
        resolver.pseudo["AWS::StackId"] = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{stack}/{stack_uuid}"
        given = {
            f"{name}.{key}": str(resolver.resolve(resource["Properties"][key]))
            for name, resource in template["Resources"].items()
            for key in NAME_PROPERTIES
            if key in resource.get("Properties", {}) and not resource["Type"].startswith("AWS::Serverless::Function")
        }
        condition = template["Resources"]["BulkQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
        source_arn = str(resolver.resolve(condition["Condition"]["ArnEquals"]["aws:SourceArn"]))
        assert source_arn == f"arn:aws:s3:::{given['UploadsBucket.BucketName']}"
        return given

    blue = names("aiqleads-dev", "0f1e2d3c-aaaa-bbbb-cccc-000000000001")
    green = names("aiqleads-dev-green", "9a8b7c6d-aaaa-bbbb-cccc-000000000002")
    assert {"UploadsBucket.BucketName", "EventsQueue.QueueName", "ApiFunctionLogGroup.LogGroupName"} <= set(blue)
    assert len(blue) >= 20
    assert not set(blue.values()) & set(green.values())
    # A stack named aiqleads-<stage> (what `redrive --stage` assumes) keeps the names a stage had before.
    assert blue["EventsQueue.QueueName"] == "aiqleads-dev-events"
    assert blue["UploadsBucket.BucketName"] == "aiqleads-uploads-dev-123456789012-us-east-1-0f1e2d3c"
    assert len(blue["UploadsBucket.BucketName"].replace("us-east-1", "ap-southeast-2")) <= 63
