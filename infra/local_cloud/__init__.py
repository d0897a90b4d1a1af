"""The embedded local cloud: moto on 127.0.0.1 with every resource template.yaml declares (no AWS account needed).

    python -m infra.local_cloud up                  # run it until Ctrl-C; writes .aiqleads/local.json

`server` (the loopback-only AWS endpoint and boto3 factories), `intrinsics` (Ref, GetAtt, Sub, ... evaluated
locally), `resources` (the template's tables, bucket, queues, topics and subscriptions, created in dependency order)
`functions` (the template's functions loaded in this process: environment, handler, Lambda context), `gateway`
(the API server that behaves as API Gateway does for the template), `pollers` (SQS event-source mappings) and
`cloud` (`LocalCloud`, which starts them in order and stops them in reverse).
"""

from .cloud import LocalCloud
from .functions import FunctionRuntime, FunctionSpec, LambdaContext, discover_functions
from .gateway import GatewayConfig, LocalGateway
from .intrinsics import CreatedResource, SkippedResource, UnresolvableError
from .pollers import QueuePoller, QueuePollers
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
    "FunctionRuntime",
    "FunctionSpec",
    "GatewayConfig",
    "LambdaContext",
    "LocalAwsServer",
    "LocalCloud",
    "LocalCloudError",
    "LocalGateway",
    "LocalResources",
    "NotLoopbackError",
    "QueuePoller",
    "QueuePollers",
    "ResourceCreationError",
    "SkippedResource",
    "UnresolvableError",
    "aws_environment",
    "client",
    "create_resources",
    "discover_functions",
    "require_loopback_endpoint",
]
