"""AWS list prices, us-east-1, on-demand, first pricing tier, no free tier: what bench/cost.py multiplies by.

Dated: transcribed 2026-12-01 from the pages below (not fetched at run time; check them before quoting a
figure, and change PRICES_AS_OF with any number here). Every price is in US dollars per the unit its name says.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-12-01"
REGION = "us-east-1"

# https://aws.amazon.com/lambda/pricing/  (first 6 bn GB-s/month x86_64, first 7.5 bn arm64; billed per 1 ms)
LAMBDA_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
LAMBDA_REQUEST = 0.20 / 1e6

# https://aws.amazon.com/dynamodb/pricing/on-demand/  (Standard table class; on-demand prices since 2024-11-01)
DYNAMODB_WRITE_REQUEST_UNIT = 0.625 / 1e6
DYNAMODB_READ_REQUEST_UNIT = 0.125 / 1e6
DYNAMODB_STORAGE_GB_MONTH = 0.25  # after the first 25 GB
DYNAMODB_PITR_GB_MONTH = 0.20  # continuous backups: every table of template.yaml has them on

# https://aws.amazon.com/s3/pricing/  (S3 Standard, first 50 TB)
S3_PUT_REQUEST = 0.005 / 1000  # PUT, COPY, POST, LIST (multipart create/part/complete are PUT-class)
S3_GET_REQUEST = 0.0004 / 1000  # GET, SELECT and all other requests but DELETE/cancel (free)
S3_STORAGE_GB_MONTH = 0.023

# https://aws.amazon.com/sns/pricing/  (standard topics; each 64 KB chunk of a publish is one request;
# deliveries to SQS queues are not charged); PublishBatch of up to 10 messages is billed like one publish of their
# total size: https://docs.aws.amazon.com/sns/latest/dg/sns-batch-api-actions.html
SNS_REQUEST = 0.50 / 1e6

# https://aws.amazon.com/sqs/pricing/  (standard queues, after the first 1 M requests; each 64 KB chunk of a
# request's payload is one request; a batch of up to 10 messages is one request)
SQS_REQUEST = 0.40 / 1e6

# https://aws.amazon.com/api-gateway/pricing/  (REST APIs, first 333 million requests/month)
API_GATEWAY_REST_REQUEST = 3.50 / 1e6

# https://aws.amazon.com/cloudwatch/pricing/  (Logs, standard class: ingestion; storage is per GB-month archived)
CLOUDWATCH_LOGS_INGEST_GB = 0.50

PAYLOAD_CHUNK_BYTES = 64 * 1024  # SNS and SQS bill a request per 64 KB chunk
