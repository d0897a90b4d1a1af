"""What a bulk queue message asks for, and the names a job derives from its upload.

Messages are S3 event notifications for `uploads/` (lead files) and `market-signals/` (market signal files:
`aiqleads.markets.imports`), keys URL-encoded as S3 sends them (moto's records carry fewer fields than AWS's, so
only bucket, key and, when present, version and ETag are read); S3's `s3:TestEvent` (ignored); a continuation
the bulk function sent itself: `{"type": "bulk.continue", "tenant_id", "job_id"}`; or a rescoring job (submitted
when a tenant's production alias moved, and its own continuations): `{"type": "rescore", "tenant_id", "job_id"}`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any, Literal

from aws_lambda_powertools.utilities.data_classes import S3Event

UploadKind = Literal["leads", "market_signals"]
UPLOADS_PREFIX = "uploads/"
MARKET_SIGNALS_PREFIX = "market-signals/"
UPLOAD_KINDS: dict[str, UploadKind] = {UPLOADS_PREFIX: "leads", MARKET_SIGNALS_PREFIX: "market_signals"}
RESULTS_PREFIX = "results/"
WORK_PREFIX = "bulk-work/"  # checkpoint objects (output tail, errors so far); outside uploads/: no notification
CONTINUE_TYPE = "bulk.continue"
RESCORE_TYPE = "rescore"  # aiqleads.rescoring.jobs.MESSAGE_TYPE
TENANT_METADATA = "tenant-id"  # x-amz-meta-tenant-id


@dataclass(frozen=True, slots=True)
class UploadRequest:
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    kind: UploadKind = "leads"  # by prefix: uploads/ holds lead files, market-signals/ market signal files


@dataclass(frozen=True, slots=True)
class ContinueRequest:
    tenant_id: str
    job_id: str


@dataclass(frozen=True, slots=True)
class RescoreRequest:
    tenant_id: str
    job_id: str


BulkRequest = UploadRequest | ContinueRequest | RescoreRequest


class MalformedMessage(ValueError):
    """A message that is neither an S3 notification nor a continuation (retried, then dead-lettered)."""


def parse_message(body: str) -> list[BulkRequest]:
    """The requests in one SQS message body; [] for S3's test event and for objects outside the upload prefixes."""
    try:
        message = json.loads(body)
    except json.JSONDecodeError as exc:
        raise MalformedMessage(f"bulk message is not JSON: {exc.msg}") from None
    if not isinstance(message, dict):
        raise MalformedMessage("bulk message is not a JSON object")
    if message.get("Event") == "s3:TestEvent":
        return []
    if message.get("type") in (CONTINUE_TYPE, RESCORE_TYPE):
        tenant, job = message.get("tenant_id"), message.get("job_id")
        if not isinstance(tenant, str) or not isinstance(job, str) or not tenant or not job:
            raise MalformedMessage(f"{message['type']} message without tenant_id and job_id")
        return [ContinueRequest(tenant, job) if message["type"] == CONTINUE_TYPE else RescoreRequest(tenant, job)]
    if "Records" not in message:
        raise MalformedMessage("bulk message is neither an S3 notification nor a continuation")
    requests: list[BulkRequest] = []
    for record in S3Event(message).records:
        if not str(record.get("eventName", "ObjectCreated")).startswith("ObjectCreated"):
            continue
        key = S3Event({"Records": [record.raw_event]}).object_key  # unquote_plus, as S3 encodes keys
        prefix = _upload_prefix(key)
        if prefix is None or key.endswith("/"):
            continue
        s3_object = record.s3.get_object
        requests.append(
            UploadRequest(
                bucket=record.s3.bucket.name,
                key=key,
                version_id=s3_object.version_id or None,
                etag=s3_object.etag.strip('"') or None,
                kind=UPLOAD_KINDS[prefix],
            )
        )
    return requests


def _upload_prefix(key: str) -> str | None:
    return next((prefix for prefix in UPLOAD_KINDS if key.startswith(prefix)), None)


def tenant_for(key: str, metadata: dict[str, str]) -> str | None:
    """The object's `tenant-id` metadata, else the folder in `uploads/<tenant>/<file>` (or
    `market-signals/<tenant>/<file>`), else None: never a default tenant (`bulk.tenancy` refuses the upload)."""
    tagged = metadata.get(TENANT_METADATA, "").strip()
    if tagged:
        return tagged
    parts = key.removeprefix(_upload_prefix(key) or "").split("/")
    if len(parts) > 1 and parts[0].strip():
        return parts[0].strip()
    return None


def job_id_for(bucket: str, key: str, version: str, prefix: str = "bulk") -> str:
    """Stable per uploaded object version (or ETag): a redelivered notification finds the same job."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()
    return f"{prefix}-{digest[:32]}"


def results_keys(key: str) -> tuple[str, str]:
    """(results key, errors key): uploads/a/leads.csv -> results/a/leads.scored.csv, results/a/leads.errors.jsonl"""
    relative = PurePosixPath(key.removeprefix(UPLOADS_PREFIX))
    stem = relative.name[: -len(relative.suffix)] if relative.suffix else relative.name
    folder = RESULTS_PREFIX + (f"{relative.parent}/" if str(relative.parent) != "." else "")
    return f"{folder}{stem}.scored{relative.suffix}", f"{folder}{stem}.errors.jsonl"


def work_prefix(tenant_id: str, job_id: str) -> str:
    return f"{WORK_PREFIX}{tenant_id}/{job_id}/"


def as_continuation(tenant_id: str, job_id: str) -> dict[str, Any]:
    return {"type": CONTINUE_TYPE, "tenant_id": tenant_id, "job_id": job_id}
