"""Bulk scoring of uploaded lead files (the `bulk_score` function's domain logic).

Flow: an object lands under `uploads/` -> S3 notification -> BulkQueue -> `consumer.process_bulk_message` ->
`runner.BulkScorer` streams it in batches into `results/<name>.scored.<ext>` (+ `results/<name>.errors.jsonl`),
upserts lead and score items, and publishes `bulk.completed`, checkpointing to JobsTable when a file needs more
than one invocation.

The tenant of an upload: the object's `tenant-id` metadata (`x-amz-meta-tenant-id`) when present, else the first
folder of `uploads/<tenant>/<file>`; an upload naming no tenant, or one TenantsTable does not hold, is refused
(`bulk.tenancy`: an errors file and an alert, nothing stored). Formats by extension: .csv, .jsonl or
.ndjson, .parquet (the flat lead form of ARCHITECTURE.md); the results file has the input's format.
"""
