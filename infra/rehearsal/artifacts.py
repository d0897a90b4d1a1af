"""What a packaged template (the output of `sam package`) references in S3, and the proof that each object exists.

`sam package` uploads every local path the template names as code or content and rewrites it as an s3:// URI; a
path it skipped, or an upload that did not land, would only show when CloudFormation fails to fetch it in the middle
of a deploy. Here every such property must be an s3://bucket/key URI of the packaging bucket whose object exists with
a non-zero size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

# The properties `sam package` uploads, per resource type, among those this project's template can hold.
ARTIFACT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::Serverless::Function": ("CodeUri",),
    "AWS::Serverless::LayerVersion": ("ContentUri",),
    "AWS::Serverless::Api": ("DefinitionUri",),
    "AWS::Serverless::HttpApi": ("DefinitionUri",),
    "AWS::Serverless::StateMachine": ("DefinitionUri",),
    "AWS::Serverless::Application": ("Location",),
    "AWS::Lambda::Function": ("Code",),
    "AWS::Lambda::LayerVersion": ("Content",),
    "AWS::CloudFormation::Stack": ("TemplateURL",),
}


@dataclass(frozen=True)
class Reference:
    resource: str
    prop: str
    value: Any  # what the packaged template says: an s3:// URI when packaging worked


@dataclass(frozen=True)
class Uploaded:
    resource: str
    prop: str
    uri: str
    size: int


class MissingArtifacts(Exception):
    """Some artifact the packaged template references is not in the bucket; the message lists each."""


def references(template: Mapping[str, Any]) -> list[Reference]:
    """Every artifact property of the template's resources, sorted by resource; inline values (a Serverless::Api's
    DefinitionBody, say) are not artifacts and are not listed."""
    found = []
    for name, resource in sorted((template.get("Resources") or {}).items()):
        properties = resource.get("Properties") or {}
        for prop in ARTIFACT_PROPERTIES.get(resource.get("Type", ""), ()):
            if prop in properties:
                found.append(Reference(name, prop, properties[prop]))
    return found


def s3_location(value: Any) -> tuple[str, str] | None:
    """(bucket, key) of an s3://bucket/key URI, or of the {Bucket, Key} / {S3Bucket, S3Key} forms; else None."""
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme == "s3" and parts.netloc and parts.path.strip("/"):
            return parts.netloc, parts.path.lstrip("/")
        return None
    if isinstance(value, Mapping):
        for bucket, key in (("Bucket", "Key"), ("S3Bucket", "S3Key")):
            if isinstance(value.get(bucket), str) and isinstance(value.get(key), str):
                return value[bucket], value[key]
    return None


def check_uploaded(refs: Iterable[Reference], bucket: str, s3: Any) -> list[Uploaded]:
    """Each reference's object, with its size, from `s3` (a boto3 client); `MissingArtifacts` when any is not an
    S3 location in `bucket`, is missing or is empty."""
    uploaded, problems = [], []
    for ref in refs:
        where = f"{ref.resource}.{ref.prop}"
        location = s3_location(ref.value)
        if location is None:
            problems.append(f"{where} is {ref.value!r}, not an s3:// location: sam package did not upload it")
            continue
        if location[0] != bucket:
            problems.append(f"{where} points at bucket {location[0]!r}, not the packaging bucket {bucket!r}")
            continue
        try:
            size = int(s3.head_object(Bucket=location[0], Key=location[1])["ContentLength"])
        except ClientError as exc:
            problems.append(f"{where}: s3://{location[0]}/{location[1]} cannot be read: {exc}")
            continue
        if size == 0:
            problems.append(f"{where}: s3://{location[0]}/{location[1]} is empty")
            continue
        uploaded.append(Uploaded(ref.resource, ref.prop, f"s3://{location[0]}/{location[1]}", size))
    if problems:
        raise MissingArtifacts("\n".join(problems))
    return uploaded
