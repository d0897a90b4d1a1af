"""Bulk scoring pieces without AWS: message parsing, names, the multipart writer, Parquet segments, job status."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aiqleads.bulk.output import DEFAULT_PART_BYTES, MultipartOutput, UploadGone, merge_segments
from aiqleads.bulk.requests import (
    ContinueRequest,
    MalformedMessage,
    RescoreRequest,
    UploadRequest,
    as_continuation,
    job_id_for,
    parse_message,
    results_keys,
    tenant_for,
)
from aiqleads.bulk.runner import BulkSettings
from aiqleads.bulk.state import BulkJob, Checkpoint, job_view
from aiqleads.files.tabular import CONTENT_TYPES, ParquetTableWriter, file_format, format_of, unsupported_type
from aiqleads.jobs.status import ResultLocation
from aiqleads.rescoring.jobs import rescore_message
from aiqleads.storage.jobs import StoredJob


def test_s3_notifications_are_read_leniently_with_url_encoded_keys() -> None:
    moto_like = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads%2Facme%2Fmy+file%2B1.csv", "eTag": "e1"}},
            },
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/x.csv"}}},
            {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {"key": "results/x.csv"}}},
        ]
    }
    assert parse_message(json.dumps(moto_like)) == [UploadRequest("b", "uploads/acme/my file+1.csv", None, "e1")]
    aws_like = {
        "Records": [
            {
                "eventName": "ObjectCreated:CompleteMultipartUpload",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "uploads/a.csv", "versionId": "v1", "eTag": "e"}},
            }
        ]
    }
    assert parse_message(json.dumps(aws_like)) == [UploadRequest("b", "uploads/a.csv", "v1", "e")]


def test_test_events_continuations_and_junk() -> None:
    assert parse_message(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    assert parse_message(json.dumps(as_continuation("t", "j"))) == [ContinueRequest("t", "j")]
    assert parse_message(json.dumps(rescore_message("t", "j"))) == [RescoreRequest("t", "j")]
    junks = ("nope", "[]", json.dumps({"type": "bulk.continue"}), json.dumps({"type": "rescore"}), '{"hello": 1}')
    for junk in junks:
        with pytest.raises(MalformedMessage):
            parse_message(junk)


def test_tenant_from_metadata_then_folder_then_default() -> None:
    assert tenant_for("uploads/acme/leads.csv", {"tenant-id": "zeta"}) == "zeta"
    assert tenant_for("uploads/acme/leads.csv", {}) == "acme"
    assert tenant_for("uploads/acme/nested/leads.csv", {}) == "acme"
    assert tenant_for("uploads/leads.csv", {}) is None  # refused (bulk.tenancy), never a default tenant


def test_results_are_named_after_the_upload() -> None:
    assert results_keys("uploads/leads-nov.csv") == ("results/leads-nov.scored.csv", "results/leads-nov.errors.jsonl")
    assert results_keys("uploads/a/b.parquet") == ("results/a/b.scored.parquet", "results/a/b.errors.jsonl")
    assert results_keys("uploads/a/b/c.jsonl") == ("results/a/b/c.scored.jsonl", "results/a/b/c.errors.jsonl")


def test_job_ids_are_stable_per_object_version() -> None:
    assert job_id_for("b", "uploads/a.csv", "v1") == job_id_for("b", "uploads/a.csv", "v1")
    assert job_id_for("b", "uploads/a.csv", "v1") != job_id_for("b", "uploads/a.csv", "v2")


def test_settings_from_environment() -> None:
    resources = {
        "JOBS_TABLE": "j",
        "LEADS_TABLE": "l",
        "MARKET_SIGNALS_TABLE": "m",
        "OUTBOX_TABLE": "o",
        "BULK_QUEUE_URL": "q",
        "MODELS_TABLE": "models",
        "MODELS_BUCKET": "models-bucket",
        "AGGREGATES_TABLE": "a",
        "TENANTS_TABLE": "tenants",
        "ALERTS_TOPIC_ARN": "alerts",
    }
    settings = BulkSettings.from_env({**resources, "BULK_TIME_MARGIN_SECONDS": "5", "BULK_BATCH_ROWS": "100"})
    assert (settings.time_margin_s, settings.batch_rows) == (5.0, 100)
    assert BulkSettings.from_env(resources).time_margin_s == 60.0
    assert BulkSettings.from_env(resources).part_bytes == DEFAULT_PART_BYTES


class FakeParts:
    def __init__(self) -> None:
        self.parts: dict[int, bytes] = {}
        self.objects: dict[str, bytes] = {}
        self.completed: list[tuple[int, str]] | None = None
        self.aborted = False

    def create_multipart(self, bucket: str, key: str, content_type: str | None = None) -> str:
        return "upload-1"

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str:
        if self.completed is not None:
            raise UploadGone(key)
        self.parts[number] = body
        return f"etag-{number}"

    def complete_multipart(self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> bool:
        self.completed = list(parts)
        self.objects[key] = b"".join(self.parts[number] for number, _ in parts)
        return True

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        self.aborted = True

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None:
        self.objects[key] = body


def test_multipart_output_uploads_whole_parts_and_resumes_from_parts_and_tail() -> None:
    store = FakeParts()
    first = MultipartOutput(store, "b", "k", part_bytes=10)
    assert not first.write(b"12345")
    assert first.write(b"6789012")  # 12 bytes gathered: one part
    assert first.parts == [(1, "etag-1")]
    assert first.write(b"abcdefghij")
    first.write(b"xyz")
    # a checkpoint keeps (upload id, parts, tail); a new invocation continues the same upload
    resumed = MultipartOutput(
        store, "b", "k", part_bytes=10, upload_id=first.upload_id, parts=first.parts, tail=first.tail
    )
    resumed.write(b"!")
    resumed.finish()
    assert store.objects["k"] == b"123456789012abcdefghijxyz!"
    assert all(len(store.parts[n]) >= 10 for n, _ in (store.completed or [])[:-1])
    with pytest.raises(UploadGone):
        MultipartOutput(store, "b", "k", part_bytes=10, upload_id="upload-1", parts=resumed.parts, tail=b"z").finish()


def test_a_small_output_is_one_put() -> None:
    store = FakeParts()
    output = MultipartOutput(store, "b", "k", part_bytes=100)
    output.write(b"small")
    output.finish()
    assert store.objects["k"] == b"small"
    assert not store.parts


def test_parquet_segments_merge_to_the_bytes_of_one_segment(tmp_path: Path) -> None:
    batches = [pa.table({"id": [str(i) for i in range(s, s + 7)], "score": list(range(s, s + 7))}) for s in (0, 7, 14)]
    one = ParquetTableWriter(tmp_path / "one.parquet")
    for batch in batches:
        one.write(batch)
    one.close()
    split = [ParquetTableWriter(tmp_path / f"s{i}.parquet") for i in range(2)]
    split[0].write(batches[0])
    split[1].write(batches[1])
    split[1].write(batches[2])
    for segment in split:
        segment.close()
    merge_segments([one.path], tmp_path / "a.parquet")
    merge_segments([s.path for s in split], tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    assert pq.read_table(tmp_path / "b.parquet").column("id").to_pylist() == [str(i) for i in range(21)]


def test_a_bulk_jobs_status_is_read_from_its_typed_record() -> None:
    job = BulkJob(tenant_id="t1", job_id="j1", bucket="b", key="uploads/t1/leads.csv", results_key="results/r.csv",
                  errors_key="results/r.errors.jsonl", model_version="2.0.0", created_at=1_800_000_000.0, rows=400,
                  checkpoint=Checkpoint(rows_done=100))  # fmt: skip
    running = job_view(StoredJob("t1", "j1", "running", job.model_dump(mode="json")))
    assert (running.kind, running.status, running.result) == ("bulk_score", "running", None)
    assert running.progress.model_dump() == {"done": 100, "total": 400, "percent": 25.0}
    assert running.created_at == "2027-01-15T08:00:00Z"
    job.checkpoint.rows_done, job.completed_at = 450, 1_800_000_060.0
    done = job_view(StoredJob("t1", "j1", "completed", job.model_dump(mode="json")))
    assert done.progress.model_dump() == {"done": 450, "total": 450, "percent": 100.0}
    assert done.result == ResultLocation(bucket="b", key="results/r.csv")
    assert done.errors == ResultLocation(bucket="b", key="results/r.errors.jsonl")
    assert done.completed_at == "2027-01-15T08:01:00Z"


def test_one_module_names_the_formats_of_cli_files_and_uploads() -> None:
    """`aiqleads score` (file_format) and the bulk function (format_of on the key) read extensions alike."""
    for name, fmt in (("a.csv", "csv"), ("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"), ("a.Parquet", "parquet")):
        assert format_of(f"uploads/t/{name}") == file_format(Path(name)) == fmt
        assert CONTENT_TYPES[fmt]
    for name in ("leads.xlsx", "leads", "leads.json"):
        assert format_of(f"uploads/t/{name}") is None
        with pytest.raises(ValueError, match="unsupported file type") as refused:
            file_format(Path(name))
        assert str(refused.value) == f"{name}: {unsupported_type(name)}"
    assert unsupported_type("leads.xlsx") == "unsupported file type '.xlsx'; use .csv, .jsonl, .ndjson or .parquet"
