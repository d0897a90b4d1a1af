"""The deploy rehearsal's checks (make rehearse runs them on the real SAM output in CI): every artifact a packaged
template references is an object in the packaging bucket, the translated template has no cycle, and the SAM CLI
is pointed at nothing but the loopback endpoint."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from infra.local_cloud.server import NotLoopbackError, client
from infra.packaging.config import FUNCTIONS_DIR
from infra.rehearsal import artifacts, resources
from infra.rehearsal.__main__ import TEMPLATE
from infra.rehearsal.sam import SamCli
from infra.template import load_template


def packaged(bucket: str) -> dict[str, Any]:
    return {
        "Resources": {
            "ApiFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": f"s3://{bucket}/p/api", "Handler": "handler.handler"},
            },
            "DepsLayer": {
                "Type": "AWS::Serverless::LayerVersion",
                "Properties": {"ContentUri": f"s3://{bucket}/p/deps"},
            },
            "Api": {"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": {"openapi": "3.0.1"}}},
            "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
        }
    }


@pytest.fixture
def bucket(moto_server: str) -> tuple[str, Any]:
    name = f"rehearsal-{uuid.uuid4().hex[:12]}"
    s3 = client("s3", moto_server)
    s3.create_bucket(Bucket=name)
    return name, s3


def test_every_artifact_of_a_packaged_template_is_found_with_its_size(bucket: tuple[str, Any]):
    name, s3 = bucket
    s3.put_object(Bucket=name, Key="p/api", Body=b"zip" * 10)
    s3.put_object(Bucket=name, Key="p/deps", Body=b"z" * 1000)
    refs = artifacts.references(packaged(name))
    assert [(ref.resource, ref.prop) for ref in refs] == [("ApiFunction", "CodeUri"), ("DepsLayer", "ContentUri")]
    assert artifacts.check_uploaded(refs, name, s3) == [
        artifacts.Uploaded("ApiFunction", "CodeUri", f"s3://{name}/p/api", 30),
        artifacts.Uploaded("DepsLayer", "ContentUri", f"s3://{name}/p/deps", 1000),
    ]


def test_a_local_path_a_missing_or_empty_object_or_another_bucket_fails_and_each_is_named(bucket: tuple[str, Any]):
    name, s3 = bucket
    s3.put_object(Bucket=name, Key="p/empty", Body=b"")
    template = packaged(name)
    resources_ = template["Resources"]
    resources_["ApiFunction"]["Properties"]["CodeUri"] = "functions/api/"  # not uploaded
    resources_["Other"] = {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": f"s3://{name}/p/empty"}}
    resources_["Elsewhere"] = {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Code": {"S3Bucket": "someone-elses", "S3Key": "k"}},
    }
    with pytest.raises(artifacts.MissingArtifacts) as raised:
        artifacts.check_uploaded(artifacts.references(template), name, s3)
    problems = str(raised.value).splitlines()
    assert (
        problems[0] == "ApiFunction.CodeUri is 'functions/api/', not an s3:// location: sam package did not upload it"
    )
    assert problems[1].startswith("DepsLayer.ContentUri: s3://")
    assert "cannot be read" in problems[1]
    assert problems[2] == "Elsewhere.Code points at bucket 'someone-elses', not the packaging bucket " + repr(name)
    assert problems[3] == f"Other.CodeUri: s3://{name}/p/empty is empty"


def test_s3_locations_in_their_three_spellings():
    assert artifacts.s3_location("s3://b/k/v") == ("b", "k/v")
    assert artifacts.s3_location({"Bucket": "b", "Key": "k"}) == ("b", "k")
    assert artifacts.s3_location({"S3Bucket": "b", "S3Key": "k"}) == ("b", "k")
    assert artifacts.s3_location("s3://b/") is None
    assert artifacts.s3_location("build/package/arm64/deps/") is None


def test_the_project_templates_artifacts_are_all_found():
    """What `sam package` must upload: every function's code and the three layers."""
    refs = artifacts.references(load_template(TEMPLATE))
    assert {ref.prop for ref in refs} == {"CodeUri", "ContentUri"}
    assert {ref.value for ref in refs if ref.prop == "ContentUri"} == {
        "build/package/arm64/core/",
        "build/package/arm64/deps/",
        "build/package/arm64/training/",
    }
    assert len(refs) == 3 + len([p for p in FUNCTIONS_DIR.iterdir() if (p / "handler.py").is_file()])


def test_dependencies_follow_ref_getatt_sub_and_depends_on_and_a_cycle_is_found():
    template = {
        "Resources": {
            "Role": {"Type": "AWS::IAM::Role", "Properties": {"Arn": {"Fn::Sub": "${Queue.Arn}/${AWS::Region}"}}},
            "Queue": {"Type": "AWS::SQS::Queue", "DependsOn": "Topic", "Properties": {}},
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"Owner": {"Fn::GetAtt": ["Role", "Arn"]}}},
            "Alone": {"Type": "AWS::SNS::Topic", "Properties": {"Name": {"Ref": "AWS::StackName"}}},
        }
    }
    graph = resources.dependencies(template)
    assert graph == {"Role": {"Queue"}, "Queue": {"Topic"}, "Topic": {"Role"}, "Alone": set()}
    assert resources.find_cycle(graph) == ["Queue", "Topic", "Role", "Queue"]
    del template["Resources"]["Topic"]["Properties"]["Owner"]
    assert resources.find_cycle(resources.dependencies(template)) is None
    assert resources.by_type(template) == {"AWS::SNS::Topic": 2, "AWS::IAM::Role": 1, "AWS::SQS::Queue": 1}


def test_the_sam_cli_sees_only_dummy_credentials_and_the_loopback_endpoint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-real-one")
    sam = SamCli(Path(".venv-sam"), "/opt/python3.13/bin/python3.13", Path("build/sam-state"))
    environment = sam.environment("http://127.0.0.1:4566")
    assert "AWS_PROFILE" not in environment
    assert environment["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert environment["AWS_ENDPOINT_URL"] == environment["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4566"
    assert environment["PATH"].split(":")[0] == "/opt/python3.13/bin"
    with pytest.raises(NotLoopbackError):
        sam.environment("https://s3.amazonaws.com")
