"""Each function's IAM grants (template.yaml, expanded by SAM's translator) and needs (its wiring's declarations)."""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.local_cloud.intrinsics import CreatedResource, Resolver
from infra.template import load_template

REGION, ACCOUNT_ID = "us-east-1", "123456789012"

# The managed policies SAM attaches for Lambda's runtime, not for the code: what each is for.
RUNTIME_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "logs: the runtime writes the function's logs",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": "X-Ray: Tracing Active",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole": (
        "dynamodb: the event source's poller reads the table's stream"
    ),
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": (
        "the SQS event source: Lambda's poller receives and deletes the messages"
    ),
}
# SAM resolves managed policy names through this map when a function's Policies names one; offline, it is ours.
MANAGED_POLICY_MAP = {arn.rsplit("/", 1)[1]: arn for arn in RUNTIME_MANAGED_POLICIES}

_SENTINEL = re.compile(r"\{([A-Za-z0-9]+)\}/?(.*)$")


@dataclass(frozen=True, order=True)
class Grant:
    """An action on a template resource (logical id) and a path in it ("" the resource itself; IAM wildcards)."""

    action: str
    resource: str
    path: str = ""

    def covers(self, other: Grant) -> bool:
        return (
            fnmatch.fnmatchcase(other.action, self.action)
            and self.resource in (other.resource, "*")
            and (fnmatch.fnmatchcase(other.path, self.path) if self.path else other.path == "")
        )

    def __str__(self) -> str:
        return f"{self.action} {self.resource}{'/' + self.path if self.path else ''}"


@dataclass
class FunctionAccess:
    granted: set[Grant] = field(default_factory=set)
    runtime: dict[str, str] = field(default_factory=dict)  # managed policy ARN -> what it is for
    unclassified: list[str] = field(default_factory=list)  # managed policies nobody explained


# ------------------------------------------------------------------------------------------------ sentinels
class _Anything(dict[str, str]):
    def __init__(self, logical_id: str) -> None:
        super().__init__()
        self.logical_id = logical_id

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return f"{{{self.logical_id}}}"


def sentinel_resolver(template: Mapping[str, Any]) -> Resolver:
    """Intrinsics evaluated with every resource's Ref and attributes standing for `{LogicalId}`."""
    resolver = Resolver(template, region=REGION, account_id=ACCOUNT_ID, stack_name="aiqleads")
    for logical_id, resource in (template.get("Resources") or {}).items():
        resolver.created[logical_id] = CreatedResource(
            logical_id, str(resource.get("Type")), f"{{{logical_id}}}", _Anything(logical_id)
        )
    return resolver


def logical_resource(value: Any) -> tuple[str, str]:
    """A resolved ARN or name -> (logical id, path), or (value, "") when it names no template resource."""
    match = _SENTINEL.search(str(value))
    return (match.group(1), match.group(2)) if match else (str(value), "")


# ------------------------------------------------------------------------------------------------ granted
def expand(template: Mapping[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation after SAM's transform, offline: code locations as `sam package` leaves them
    (s3:// URIs), the region and account made up."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    sam = copy.deepcopy(dict(template))
    for logical_id, resource in (sam.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://packaged/{logical_id}.zip"
    translator = Translator(MANAGED_POLICY_MAP, Parser(), boto_session=boto3.session.Session(region_name=REGION))
    parameters = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws"}
    return dict(translator.translate(sam, parameter_values=parameters))


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(template: Mapping[str, Any]) -> dict[str, FunctionAccess]:
    """Function logical id -> what its role allows, normalised."""
    cloudformation = expand(template)
    resources = cloudformation["Resources"]
    resolver = sentinel_resolver(cloudformation)
    result: dict[str, FunctionAccess] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        role_id, _ = logical_resource(resolver.resolve(resource["Properties"]["Role"]))
        role = resources[role_id]["Properties"]
        access = result.setdefault(logical_id, FunctionAccess())
        for arn in role.get("ManagedPolicyArns", []):
            arn = str(resolver.resolve(arn))
            if arn in RUNTIME_MANAGED_POLICIES:
                access.runtime[arn] = RUNTIME_MANAGED_POLICIES[arn]
            else:
                access.unclassified.append(arn)
        for policy in role.get("Policies", []):
            for statement in _listed(policy["PolicyDocument"]["Statement"]):
                if statement.get("Effect") != "Allow" or "Condition" in statement:
                    access.unclassified.append(f"{policy['PolicyName']}: {statement}")
                    continue
                for target in _listed(resolver.resolve(statement["Resource"])):
                    name, path = logical_resource(target)
                    access.granted.update(Grant(str(action), name, path) for action in _listed(statement["Action"]))
    return result


# ------------------------------------------------------------------------------------------------ needed
def _function_dirs(template: Mapping[str, Any]) -> dict[str, str]:
    """Function logical id -> its directory under functions/ (the key of FUNCTION_WIRING)."""
    return {
        logical_id: Path(str(resource["Properties"]["CodeUri"])).name
        for logical_id, resource in (template.get("Resources") or {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    }


def _environment(template: Mapping[str, Any], logical_id: str, resolver: Resolver) -> dict[str, str]:
    function_globals = (template.get("Globals") or {}).get("Function") or {}
    variables = dict((function_globals.get("Environment") or {}).get("Variables") or {})
    properties = template["Resources"][logical_id].get("Properties") or {}
    variables.update((properties.get("Environment") or {}).get("Variables") or {})
    return {name: str(value) for name, value in resolver.resolve(variables).items()}


def _notifying_buckets(template: Mapping[str, Any], logical_id: str) -> list[str]:
    """The buckets whose S3 notifications go to one of the function's SQS event sources."""
    resources = template.get("Resources") or {}
    events = (resources[logical_id].get("Properties") or {}).get("Events") or {}
    queues = {
        logical_resource(sentinel_resolver(template).resolve(event["Properties"]["Queue"]))[0]
        for event in events.values()
        if event.get("Type") == "SQS"
    }
    buckets = []
    for bucket_id, resource in resources.items():
        notification = (resource.get("Properties") or {}).get("NotificationConfiguration") or {}
        for entry in notification.get("QueueConfigurations") or []:
            if logical_resource(sentinel_resolver(template).resolve(entry.get("Queue")))[0] in queues:
                buckets.append(bucket_id)
    return buckets


@contextlib.contextmanager
def _process_environment(variables: Mapping[str, str]) -> Iterator[None]:
    from aiqleads.process_cache import reset

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update({"AWS_DEFAULT_REGION": REGION, **variables})
    reset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset()


def _declaring(roots: Iterable[Any]) -> Iterator[Any]:
    """Every object reachable from `roots` through attributes and containers whose class declares `IAM`."""
    seen: set[int] = set()
    pending = list(roots)
    while pending:
        item = pending.pop()
        if id(item) in seen or item is None or isinstance(item, str | bytes | int | float | bool | type):
            continue
        seen.add(id(item))
        if isinstance(item, Mapping):
            pending.extend(item.values())
            continue
        if isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
            continue
        declares = bool(getattr(type(item), "IAM", None))
        if declares:
            yield item
        elif type(item).__module__.partition(".")[0] != "aiqleads":
            continue  # clients, pools, locks, functions: nothing of ours inside
        attributes = getattr(item, "__dict__", None) or {
            name: getattr(item, name) for name in getattr(type(item), "__slots__", ()) if hasattr(item, name)
        }
        pending.extend(attributes.values())


def needed(template: Mapping[str, Any]) -> dict[str, set[Grant]]:
    """Function logical id -> the grants its wiring declares, by template resource."""
    from aiqleads.composition import FUNCTION_WIRING
    from aiqleads.iam import NOTIFYING_BUCKET, Access

    resolver = sentinel_resolver(template)
    result: dict[str, set[Grant]] = {}
    for logical_id, directory in _function_dirs(template).items():
        grants = result.setdefault(logical_id, set())
        with _process_environment(_environment(template, logical_id, resolver)):
            services = [factory() for factory in FUNCTION_WIRING[directory]]
            for item in _declaring(services):
                declarations: tuple[Access, ...] = type(item).IAM
                for declared in declarations:
                    if declared.on == NOTIFYING_BUCKET:
                        names = _notifying_buckets(template, logical_id)
                    elif getattr(item, declared.on) is None:
                        continue  # not wired here (aiqleads.iam)
                    else:
                        names = [logical_resource(getattr(item, declared.on))[0]]
                    grants.update(Grant(action, name, declared.path) for name in names for action in declared.actions)
    return result


# ------------------------------------------------------------------------------------------------ comparing
@dataclass
class Problems:
    missing: dict[str, list[Grant]]  # function -> what the code calls and the template does not grant
    unused: dict[str, list[Grant]]  # function -> what the template grants and no code calls
    unclassified: dict[str, list[str]]  # function -> statements or managed policies neither code nor runtime

    def __bool__(self) -> bool:
        return any(self.missing.values()) or any(self.unused.values()) or any(self.unclassified.values())

    def lines(self) -> list[str]:
        out = []
        for function, grants in sorted(self.missing.items()):
            out += [f"{function}: missing {grant}" for grant in grants]
        for function, grants in sorted(self.unused.items()):
            out += [f"{function}: unused {grant}" for grant in grants]
        for function, items in sorted(self.unclassified.items()):
            out += [f"{function}: unclassified {item}" for item in items]
        return out


def compare(template: Mapping[str, Any]) -> Problems:
    grants, needs = granted(template), needed(template)
    problems = Problems({}, {}, {})
    for function in sorted(set(grants) | set(needs)):
        have, want = grants.get(function, FunctionAccess()), needs.get(function, set())
        problems.missing[function] = sorted(n for n in want if not any(g.covers(n) for g in have.granted))
        problems.unused[function] = sorted(g for g in have.granted if not any(g.covers(n) for n in want))
        problems.unclassified[function] = list(have.unclassified)
    return problems


def load(path: str | Path) -> dict[str, Any]:
    return load_template(path)
