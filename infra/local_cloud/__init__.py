"""The embedded local cloud: moto on 127.0.0.1 with every resource template.yaml declares (no AWS account needed).

    python -m infra.local_cloud up                  # run it until Ctrl-C; writes .aiqleads/local.json

`server` (the loopback-only AWS endpoint and boto3 factories), `intrinsics` (Ref, GetAtt, Sub, ... evaluated
locally), `resources` (the template's tables, bucket, queues, topics and subscriptions, created in dependency order)
and `cloud` (`LocalCloud`, which ties them together and is where the API server and function pollers plug in).
"""

from .cloud import LocalCloud
from .intrinsics import CreatedResource, SkippedResource, UnresolvableError
from .resources import LocalResources, ResourceCreationError, create_resources
from .server import (
    LocalAwsServer,
    LocalCloudError,
    NotLoopbackError,
    aws_environment,
    client,
    require_loopback_endpoint,
)

__all__ = [
    "CreatedResource",
    "LocalAwsServer",
    "LocalCloud",
    "LocalCloudError",
    "LocalResources",
    "NotLoopbackError",
    "ResourceCreationError",
    "SkippedResource",
    "UnresolvableError",
    "aws_environment",
    "client",
    "create_resources",
    "require_loopback_endpoint",
]
