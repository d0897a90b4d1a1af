"""`aiqleads models`: a tenant's model versions and aliases, through the HTTP API (local cloud or AWS).

    aiqleads models list | show VERSION | promote VERSION | rollback | shadow VERSION | shadow --clear
    aiqleads models train [--wait] [--challengers keep|shadow] [--label-window-days N]
    aiqleads models register --dir DIR --tenant T [--version V]     (writes the registry: local cloud or --stack)

The API commands use `--api-url` and `--api-key`, else $AIQLEADS_API_URL and $AIQLEADS_API_KEY, else the running
local cloud's `api_url` and `admin_api_key` from .aiqleads/local.json. The key decides the tenant; writes need an
admin key. `register` is the one command that writes the registry directly (there is no upload route): it needs
AWS credentials for the stack's ModelsTable and models bucket, or the local cloud.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .onboarding.deployment import DEFAULT_LOCAL_STATE, LOCAL_CREDENTIALS, DeploymentError

API_URL_ENV = "AIQLEADS_API_URL"
API_KEY_ENV = "AIQLEADS_API_KEY"


class CommandError(Exception):
    """What the user should read, as one line."""


def _local_state(path: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(
            f"no --api-url given, ${API_URL_ENV} is unset and no local cloud is running ({path} not found): start one"
            " with `make run`, or pass --api-url and --api-key"
        ) from None
    except (OSError, ValueError) as error:
        raise CommandError(f"{path}: not a local cloud state file ({error})") from None
    return state


def _endpoint(args: argparse.Namespace) -> tuple[str, str]:
    url = args.api_url or os.environ.get(API_URL_ENV)
    key = args.api_key or os.environ.get(API_KEY_ENV)
    if not url or not key:
        state = _local_state(args.local_state)
        url = url or state.get("api_url")
        key = key or state.get("admin_api_key")
    if not url or not key:
        raise CommandError("no API URL or key: pass --api-url and --api-key (or start the local cloud)")
    return str(url).rstrip("/"), str(key)


def request(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    url, key = _endpoint(args)
    data = None if body is None else json.dumps(body).encode()
    headers = {"x-api-key": key, "accept": "application/json"}
    if data is not None:
        headers["content-type"] = "application/json"
    call = urllib.request.Request(url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(call, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        try:
            envelope = json.loads(error.read())
            message = envelope.get("error", {}).get("message") or envelope.get("message") or envelope
        except ValueError:
            message = error.reason
        raise CommandError(f"{method} {path}: {error.code}: {message}") from None
    except urllib.error.URLError as error:
        raise CommandError(f"cannot reach {url}: {error.reason}") from None


def _list(args: argparse.Namespace) -> Any:
    return request(args, "GET", "/v1/models")


def _show(args: argparse.Namespace) -> Any:
    return request(args, "GET", f"/v1/models/{args.version}")


def _promote(args: argparse.Namespace) -> Any:
    return request(args, "PUT", "/v1/models/aliases/production", {"version": args.version})


def _rollback(args: argparse.Namespace) -> Any:
    return request(args, "POST", "/v1/models/aliases/production/rollback")


def _shadow(args: argparse.Namespace) -> Any:
    if (args.version is None) == (not args.clear):
        raise CommandError("name a VERSION or pass --clear")
    return request(args, "PUT", "/v1/models/aliases/shadow", {"version": None if args.clear else args.version})


def _train(args: argparse.Namespace) -> Any:
    body = {
        name: value
        for name, value in (("challengers", args.challengers), ("label_window_days", args.label_window_days))
        if value is not None
    }
    accepted = request(args, "POST", "/v1/models/training-jobs", body)
    if not args.wait:
        return accepted
    deadline = time.monotonic() + args.timeout
    while True:
        job = request(args, "GET", f"/v1/jobs/{accepted['job_id']}")
        if job.get("status") in ("completed", "failed"):
            if job["status"] == "failed":
                print(json.dumps(job, indent=1))
                raise CommandError(
                    f"training job {job['id']} {'refused' if job.get('refused') else 'failed'}: {job.get('error')}"
                )
            return job
        if time.monotonic() > deadline:
            raise CommandError(f"training job {accepted['job_id']} still {job.get('status')} after {args.timeout} s")
        time.sleep(args.poll)


def _registry(args: argparse.Namespace) -> Any:
    from aiqleads.registry.service import ModelRegistry
    from aiqleads.storage.aws import new_client
    from aiqleads.storage.models import ArtifactBucket, ModelRepository

    found, options = stack_or_local(args)
    table, bucket = found.get("ModelsTable"), found.get("ModelsBucket")
    if not table or not bucket:
        if args.stack:
            raise DeploymentError(f"stack {args.stack} has no model registry: deploy the current template.yaml")
        raise DeploymentError(f"{args.local_state} has no model registry: restart the local cloud (make run)")
    return ModelRegistry(
        ModelRepository(table, new_client("dynamodb", **options)), ArtifactBucket(bucket, new_client("s3", **options))
    )


def stack_or_local(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, Any]]:
    """The physical names of a stack's resources by logical id (`--stack`), else the running local cloud's, and
    the client options that reach them."""
    from aiqleads.storage.aws import new_client

    options: dict[str, Any] = {"region_name": args.region} if args.region else {}
    if args.stack:
        cloudformation = new_client("cloudformation", **options)
        return {
            summary["LogicalResourceId"]: summary.get("PhysicalResourceId")
            for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=args.stack)
            for summary in page.get("StackResourceSummaries", [])
        }, options
    state = _local_state(args.local_state)
    found = {**state.get("tables", {}), **state.get("buckets", {}), **state.get("queues", {})}
    options |= {"endpoint_url": state["aws_endpoint_url"], "region_name": state.get("region"), **LOCAL_CREDENTIALS}
    return found, options


def _register(args: argparse.Namespace) -> Any:
    record = _registry(args).register_directory(args.tenant, args.dir, version=args.version)
    return record.model_dump(mode="json")


def _run(command: Any) -> Any:
    def main(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        from aiqleads.errors import DomainError

        try:
            result = command(args)
        except (CommandError, DeploymentError, DomainError, BotoCoreError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except ClientError as error:
            details = error.response.get("Error", {})
            print(f"error: {details.get('Code', 'error')}: {details.get('Message', error)}", file=sys.stderr)
            return 1
        print(json.dumps(result, indent=1))
        return 0

    return main


def _api_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("API (default: the running local cloud's URL and admin key)")
    where.add_argument("--api-url", help=f"the API's base URL, with its stage (or ${API_URL_ENV})")
    where.add_argument("--api-key", help=f"an API key of the tenant; writes need an admin key (or ${API_KEY_ENV})")
    where.add_argument("--local-state", type=Path, default=DEFAULT_LOCAL_STATE, help="the local cloud's state file")


def register(commands: Any) -> None:
    models = commands.add_parser("models", help="a tenant's model versions and aliases (promote, roll back, shadow)")
    actions = models.add_subparsers(dest="action", required=True)
    listed = actions.add_parser("list", help="the tenant's versions and the global default, and which one serves")
    show = actions.add_parser("show", help="one version: metrics, lineage, aliases")
    show.add_argument("version")
    promote = actions.add_parser("promote", help="make VERSION the tenant's production model (admin key)")
    promote.add_argument("version")
    rollback = actions.add_parser("rollback", help="production back to the version before its last change")
    shadow = actions.add_parser("shadow", help="set (VERSION) or clear (--clear) the tenant's shadow model")
    shadow.add_argument("version", nargs="?")
    shadow.add_argument("--clear", action="store_true")
    train = actions.add_parser(
        "train", help="train a candidate from the tenant's stored history (admin key); promoted only if better"
    )
    train.add_argument("--wait", action="store_true", help="follow the job until it completes or fails")
    train.add_argument("--timeout", type=float, default=900.0, help="seconds --wait waits at most (default 900)")
    train.add_argument("--poll", type=float, default=2.0, help=argparse.SUPPRESS)
    train.add_argument(
        "--challengers", choices=("keep", "shadow"), help="a candidate that is not better: kept or shadow"
    )
    train.add_argument("--label-window-days", type=int, help="days after which a lead without an outcome is lost")
    commands_by_parser = (
        (listed, _list), (show, _show), (promote, _promote), (rollback, _rollback), (shadow, _shadow), (train, _train)
    )  # fmt: skip
    for parser, run in commands_by_parser:
        _api_arguments(parser)
        parser.set_defaults(run=_run(run))

    add = actions.add_parser("register", help="register an artifact directory (model.onnx + manifest.json)")
    add.add_argument("--dir", type=Path, required=True, help="the artifact's directory")
    add.add_argument("--tenant", required=True, help="the tenant that will own the version")
    add.add_argument("--version", help="register under this version (its manifest is rewritten to name it)")
    add.add_argument("--stack", help="a deployed stack (default: the running local cloud)")
    add.add_argument("--region", help="the stack's region")
    add.add_argument("--local-state", type=Path, default=DEFAULT_LOCAL_STATE, help="the local cloud's state file")
    add.set_defaults(run=_run(_register))
