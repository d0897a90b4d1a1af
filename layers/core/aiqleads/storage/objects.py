"""The uploads bucket: object metadata, downloads to local disk, small objects and multipart uploads (S3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from aiqleads.storage.aws import client

_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None
    metadata: dict[str, str] = field(default_factory=dict)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class ObjectStore:
    def __init__(self, s3: Any | None = None):
        self._s3 = s3

    @property
    def s3(self) -> Any:
        return self._s3 or client("s3")

    def head(self, bucket: str, key: str, version_id: str | None = None) -> ObjectInfo | None:
        """The object's size, ETag (unquoted), version and user metadata (lower-case names); None when absent."""
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        try:
            response = self.s3.head_object(**request)
        except ClientError as error:
            if _code(error) in _MISSING:
                return None
            raise
        version = response.get("VersionId")
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=int(response.get("ContentLength", 0)),
            etag=str(response.get("ETag", "")).strip('"'),
            version_id=None if version in (None, "null") else str(version),
            metadata={str(k).lower(): str(v) for k, v in (response.get("Metadata") or {}).items()},
        )

    def download(self, bucket: str, key: str, path: Path, version_id: str | None = None) -> None:
        """Stream the object to `path` (ranged, in parallel for big objects: memory stays small)."""
        extra = {"VersionId": version_id} if version_id else None
        self.s3.download_file(bucket, key, str(path), ExtraArgs=extra)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        if content_type:
            request["ContentType"] = content_type
        self.s3.put_object(**request)

    def upload_file(self, bucket: str, key: str, path: Path, content_type: str | None = None) -> None:
        """Upload a local file (multipart above 8 MiB, in parallel parts)."""
        extra = {"ContentType": content_type} if content_type else None
        self.s3.upload_file(str(path), bucket, key, ExtraArgs=extra)

    def delete(self, bucket: str, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            objects = [{"Key": key} for key in keys[start : start + 1000]]
            if objects:
                self.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})

    # ---------------------------------------------------------------- multipart
    def create_multipart(self, bucket: str, key: str, content_type: str | None = None) -> str:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if content_type:
            request["ContentType"] = content_type
        return str(self.s3.create_multipart_upload(**request)["UploadId"])

    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str:
        """The part's ETag; UploadGone if S3 no longer knows the upload."""
        try:
            response = self.s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
        except ClientError as error:
            if _code(error) == "NoSuchUpload":
                # Imported here: bulk/output.py loads pyarrow, which the API and recommendation jobs never need.
                from aiqleads.bulk.output import UploadGone

                raise UploadGone(key) from None
            raise
        return str(response["ETag"])

    def complete_multipart(self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> bool:
        """Complete the upload from (part number, ETag) pairs; False if S3 no longer knows the upload (it was
        completed or aborted before)."""
        try:
            self.s3.complete_multipart_upload(
                Bucket=bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": number, "ETag": etag} for number, etag in parts]},
            )
        except ClientError as error:
            if _code(error) == "NoSuchUpload":
                return False
            raise
        return True

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        try:
            self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except ClientError as error:
            if _code(error) != "NoSuchUpload":
                raise
