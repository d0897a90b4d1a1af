"""Where a bulk job's results go as they are scored: a multipart upload fed batch by batch (CSV, JSON Lines), or
Parquet segments (`files.tabular.ParquetTableWriter` files) assembled at the end. Both can stop after any batch
and continue in another invocation; the bytes themselves are encoded by `files.tabular`, as for `aiqleads score`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

MIN_PART_BYTES = 5 << 20  # S3's minimum for every part but the last
DEFAULT_PART_BYTES = 8 << 20


class UploadGone(LookupError):
    """S3 no longer knows the multipart upload (completed or aborted before)."""


class PartStore(Protocol):
    def create_multipart(self, bucket: str, key: str, content_type: str | None = None) -> str: ...
    def upload_part(self, bucket: str, key: str, upload_id: str, number: int, body: bytes) -> str: ...
    def complete_multipart(self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> bool: ...
    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None: ...
    def put_bytes(self, bucket: str, key: str, body: bytes, content_type: str | None = None) -> None: ...


class MultipartOutput:
    """Bytes appended in order; every time `part_bytes` have gathered they go up as the next part. Memory holds
    at most one part. `parts` and `tail` are what a checkpoint keeps: the output so far is exactly the uploaded
    parts followed by the tail."""

    def __init__(
        self,
        store: PartStore,
        bucket: str,
        key: str,
        *,
        part_bytes: int = DEFAULT_PART_BYTES,
        content_type: str | None = None,
        upload_id: str | None = None,
        parts: Sequence[tuple[int, str]] = (),
        tail: bytes = b"",
    ):
        self.store, self.bucket, self.key = store, bucket, key
        self.part_bytes = part_bytes
        self.content_type = content_type
        self.upload_id = upload_id
        self.parts: list[tuple[int, str]] = [(int(n), str(e)) for n, e in parts]
        self._buffer = bytearray(tail)

    @property
    def tail(self) -> bytes:
        return bytes(self._buffer)

    def write(self, data: bytes | bytearray | memoryview) -> bool:
        """Append `data`; True when a part was uploaded (a good moment for a checkpoint: the tail is empty)."""
        self._buffer += data
        if len(self._buffer) < self.part_bytes:
            return False
        self._upload_part()
        return True

    def _upload_part(self) -> None:
        if self.upload_id is None:
            self.upload_id = self.store.create_multipart(self.bucket, self.key, self.content_type)
        number = len(self.parts) + 1
        etag = self.store.upload_part(self.bucket, self.key, self.upload_id, number, bytes(self._buffer))
        self.parts.append((number, etag))
        self._buffer.clear()

    def finish(self) -> None:
        """Upload what is left and complete the object (a single PUT when it never reached one part).
        Raises UploadGone when the upload was already completed or aborted."""
        if not self.parts:
            self.store.put_bytes(self.bucket, self.key, bytes(self._buffer), self.content_type)
            if self.upload_id is not None:
                self.store.abort_multipart(self.bucket, self.key, self.upload_id)
            return
        if self._buffer:
            self._upload_part()
        assert self.upload_id is not None
        if not self.store.complete_multipart(self.bucket, self.key, self.upload_id, self.parts):
            raise UploadGone(self.key)


def merge_segments(paths: Sequence[Path], output: Path) -> None:
    """Row groups of `paths`, in order, into one Parquet file: the same bytes however the rows were split into
    segments (a continued job and a one-shot job give identical files)."""
    writer: pq.ParquetWriter | None = None
    try:
        for path in paths:
            segment = pq.ParquetFile(path)
            for index in range(segment.num_row_groups):
                table = segment.read_row_group(index)
                if writer is None:
                    writer = pq.ParquetWriter(output, table.schema)
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        pq.write_table(pa.table({}), output)
