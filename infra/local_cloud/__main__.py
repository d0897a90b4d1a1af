"""Run the local cloud until Ctrl-C (`up`), and redrive its dead-lettered webhook deliveries (`redrive`).

    python -m infra.local_cloud up [--port 4566] [--api-port 3000] [--template template.yaml] [--parameter Stage=dev]

Starts moto on 127.0.0.1, creates every resource template.yaml declares, loads the functions, seeds the demo
tenant and data, serves the API as API Gateway would and polls the queues; writes `.aiqleads/local.json`
(`api_url`, `aws_endpoint_url`, `api_key`, `admin_api_key`, `uploads_bucket`, tables, usage plans, ...), prints the
URLs with copy-paste examples of what is running, and waits. Ctrl-C (or SIGTERM) stops it and removes the state file.

    python -m infra.local_cloud redrive [--max N] [--state-file .aiqleads/local.json]

Moves dead-lettered webhook deliveries of the running local cloud back to its notify queue (`make redrive`), with
the endpoint and queues its state file names.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any

from infra.template import TemplateError

from .cloud import DEFAULT_STATE_FILE, DEFAULT_TEMPLATE, LocalCloud, remove_state_file, write_state_file
from .gateway import DEFAULT_API_PORT
from .pollers import DEFAULT_RETRY_DELAY_SECONDS
from .resources import DEFAULT_STACK_NAME
from .server import DEFAULT_HOST, DEFAULT_PORT, REGION, LocalCloudError, client


def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def _table(rows: dict[str, str], indent: str = "    ") -> list[str]:
    width = max((len(name) for name in rows), default=0)
    return [f"{indent}{name:<{width}}  {value}" for name, value in rows.items()]


# A lead in the wire format (ARCHITECTURE.md); the tenant comes from the API key.
EXAMPLE_LEAD = {
    "id": "zl-88213",
    "source": "zillow",
    "created_at": "2026-11-20T10:00:00Z",
    "contact": {"name": "Ana Diaz", "email": "ana@example.com", "phone": "+1 702 555 0100"},
    "property": {
        "type": "single_family",
        "price": 425000,
        "beds": 3,
        "baths": 2,
        "sqft": 1800,
        "lat": 36.17,
        "lon": -115.14,
        "market": "las-vegas",
    },
    "intent": "sell",
    "timeline": "0-3 months",
    "description": "Motivated seller, relocating",
    "attributes": {},
}


def _bulk_scoring_runs(info: dict[str, Any]) -> bool:
    function = (info.get("functions") or {}).get("BulkScoreFunction") or {}
    return bool(function.get("running") and function.get("queues"))


def examples(info: dict[str, Any], scratch: Path = DEFAULT_STATE_FILE.parent) -> list[str]:
    """Copy-paste examples that work with what is running: with the functions, score a lead, upload a CSV and
    read its results; without them (`--no-functions`), what the endpoint alone answers."""
    api_url, key = info.get("api_url"), info.get("api_key")
    bucket, endpoint, region = info["uploads_bucket"], info["aws_endpoint_url"], info["region"]
    queues = info.get("queues") or {}
    # Files go beside the state file (.aiqleads/, git-ignored), never into the repository's root.
    upload, path = "uploads/leads.csv", str(scratch / "leads.csv")
    leads = shlex.quote(path)
    lines = ["Try it:"]
    if api_url:
        lead = shlex.quote(json.dumps(EXAMPLE_LEAD))
        lines += [
            "  # score a lead",
            f"  curl -s -X POST {api_url}/v1/leads/score -H 'x-api-key: {key or '<your API key>'}' "
            f"-H 'content-type: application/json' -d {lead}",
        ]
    if api_url and info.get("usage_plans"):
        state = scratch / DEFAULT_STATE_FILE.name
        where = "" if state == DEFAULT_STATE_FILE else f" --local-state {shlex.quote(str(state))}"
        lines += [
            "  # onboard a tenant and issue it a key, registered in API Gateway's usage plan (--stack NAME in AWS)",
            f"  .venv/bin/aiqleads tenants create my-realty{where}",
            f"  .venv/bin/aiqleads keys issue --tenant my-realty --tier pro --role admin{where}",
        ]
    if api_url and info.get("default_model_version") and info.get("admin_api_key"):
        state = scratch / DEFAULT_STATE_FILE.name
        where = "" if state == DEFAULT_STATE_FILE else f" --local-state {shlex.quote(str(state))}"
        shipped = f"model_artifacts/lead_scorer/{info['default_model_version']}"
        tenant = info.get("tenant_id", "demo")
        read_version = '.venv/bin/python -c \'import json,sys; print(json.load(sys.stdin)["model"]["version"])\''
        lines += [
            f"  # {tenant}'s own model, trained from its stored leads and outcomes (a minute or two): the job shows the",
            "  # candidate, its comparison with the serving model on the newest leads, and whether it was promoted",
            f"  V=$(.venv/bin/aiqleads models train --wait{where} | tee /dev/stderr | {read_version})",
            f"  .venv/bin/aiqleads models show $V{where}",
            f"  .venv/bin/aiqleads models promote $V{where}      # if training did not; warm functions switch within",
            "  #   ModelAliasTtlSeconds (60 s unless make run was given another): then scores carry $V",
        ]
        if api_url:
            lines.append(
                f"  curl -s -X POST {api_url}/v1/leads/score -H 'x-api-key: {key or '<your API key>'}' "
                f"-H 'content-type: application/json' -d {shlex.quote(json.dumps(EXAMPLE_LEAD))} | grep -o "
                '\'"model_version":"[^"]*"\''
            )
        lines += [
            f"  .venv/bin/aiqleads models rollback{where}        # back to {info['default_model_version']}, within the same TTL",
            f"  # or register an artifact directory as a version: models register --dir {shipped} --tenant {tenant}",
        ]
    lines += [
        "  # AWS clients reach the local endpoint with these (dummy credentials; boto3 and the AWS CLI read them)",
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
    ]
    if _bulk_scoring_runs(info):
        tenant = info.get("tenant_id", "demo")
        lines += [
            f"  # upload a CSV of leads (flat form) for bulk scoring, as tenant {tenant}",
            f"  .venv/bin/aiqleads generate --rows 1000 --leads-only -o {leads}",
            f"  aws s3 cp {leads} s3://{bucket}/{upload} --metadata tenant-id={tenant}",
            "  # read the results (a few seconds later; bad rows go to results/leads.errors.jsonl)",
            f"  aws s3 cp s3://{bucket}/results/leads.scored.csv - | head -3",
            f"  # (no AWS CLI? .venv/bin/python -c \"import boto3; boto3.client('s3').upload_file('{path}', "
            f"'{bucket}', '{upload}', ExtraArgs={{'Metadata': {{'tenant-id': '{tenant}'}}}})\")",
        ]
    else:
        lines += [
            "  # no function runs here (make run starts them): nothing scores uploads or consumes the queues",
            "  aws dynamodb list-tables",
        ]
        if "BulkQueue" in queues:
            lines += [
                "  # an upload under uploads/ only leaves its S3 notification in BulkQueue (AWS CLI v1's sqs",
                "  # commands ignore AWS_ENDPOINT_URL, hence --endpoint-url):",
                f"  echo id > {leads} && aws s3 cp {leads} s3://{bucket}/{upload}",
                f"  aws sqs receive-message --endpoint-url {endpoint} --queue-url {queues['BulkQueue']}",
            ]
    return lines


def describe(info: dict[str, Any], state_file: Path) -> str:
    """The human-readable summary printed at start-up."""
    endpoint, region = info["aws_endpoint_url"], info["region"]
    lines = [
        f"AIQLeads local cloud: AWS endpoint {endpoint} (moto {version('moto')}), region {region}, "
        f"account {info['account_id']}, stack {info['stack_name']}",
    ]
    if info.get("api_url"):
        lines.append(f"  API               {info['api_url']}  (API Gateway's stage in the path: append /v1/...)")
    if info.get("api_key"):
        lines.append(f"  demo API key      {info['api_key']}  (tenant {info.get('tenant_id', '?')})")
    if info.get("admin_api_key"):
        lines.append(f"  demo admin key    {info['admin_api_key']}  (tenant {info.get('tenant_id', '?')}, role admin)")
    lines += [
        f"  uploads bucket    {info['uploads_bucket']}",
        f"  events topic      {info['events_topic_arn']}",
        f"  alerts topic      {info['alerts_topic_arn']}",
        "  tables",
        *_table(info["tables"]),
        "  queues",
        *_table(info["queues"]),
    ]
    functions = info.get("functions") or {}
    if functions:
        lines.append("  functions")
        lines += _table(
            {
                name: (
                    f"{len(item['routes'])} routes, polling {len(item['queues'])} queue(s)"
                    if item["running"]
                    else "NOT RUNNING (see notes)"
                )
                for name, item in functions.items()
            }
        )
        logs = info.get("logs") or {}
        if logs:
            lines.append(
                f"  function logs     {Path(next(iter(logs.values()))).parent}/<function>.log  (Logger JSON, EMF)"
            )
    skipped = info["skipped"]
    if skipped:
        kinds = sorted({item["type"] for item in skipped.values()})
        lines.append(f"  not created locally: {len(skipped)} resources ({', '.join(kinds)}); reasons in {state_file}")
    lines += [f"  note: {note}" for note in info["notes"]]
    lines += [f"Written to {state_file}.", *examples(info, state_file.parent), "Press Ctrl-C to stop."]
    return "\n".join(lines)


def _fresh_logs(directory: Path) -> Path:
    for old in directory.glob("*.log"):
        old.unlink()
    return directory


def up(arguments: argparse.Namespace) -> int:
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    try:
        cloud = LocalCloud(
            arguments.template,
            port=arguments.port,
            host=arguments.host,
            parameters=dict(arguments.parameter),
            stack_name=arguments.stack_name,
            log_requests=arguments.log_requests,
            api_port=arguments.api_port,
            run_functions=arguments.functions,
            demo=arguments.demo,
            retry_delay=arguments.retry_delay,
            log_api_requests=arguments.log_requests,
            # Beside the state file, truncated at each start as a new stack's log groups would be empty; and on the
            # terminal too, as `make run` has always shown what the functions log.
            log_dir=_fresh_logs(Path(arguments.state_file).parent / "logs"),
            echo_logs=True,
        )
    except LocalCloudError as error:
        print(f"local cloud: {error}", file=sys.stderr)
        return 1
    try:
        cloud.start()
        info = cloud.info()
    except (LocalCloudError, TemplateError) as error:
        cloud.stop()
        print(f"local cloud: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while starting: start() has already stopped what it had started
        cloud.stop()
        print("stopped.")
        return 130
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        write_state_file(arguments.state_file, info)
        print(describe(info, arguments.state_file), flush=True)
        while not stop.wait(0.5):
            pass
        print("stopping the local cloud ...", flush=True)
    finally:
        remove_state_file(arguments.state_file)
        cloud.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("stopped.")
    return 0


def redrive(arguments: argparse.Namespace) -> int:
    """`aiqleads.webhooks.redrive` against the running local cloud, found through its state file."""
    from aiqleads.webhooks.redrive import main as redrive_main

    try:
        info = json.loads(arguments.state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        print(
            f"local cloud: {arguments.state_file} does not exist: start the local cloud first (make run)",
            file=sys.stderr,
        )
        return 1
    except (OSError, ValueError) as error:
        print(f"local cloud: cannot read {arguments.state_file}: {error}", file=sys.stderr)
        return 1
    queues = info.get("queues") or {}
    if not {"NotifyQueue", "NotifyDeadLetterQueue"} <= queues.keys():
        print(f"local cloud: {arguments.state_file} names no NotifyQueue and NotifyDeadLetterQueue", file=sys.stderr)
        return 1
    try:
        sqs = client("sqs", info["aws_endpoint_url"], info.get("region", REGION))
    except LocalCloudError as error:
        print(f"local cloud: {error}", file=sys.stderr)
        return 1
    argv = ["--queue-url", queues["NotifyQueue"], "--dead-letter-queue-url", queues["NotifyDeadLetterQueue"]]
    if arguments.max is not None:
        argv += ["--max", str(arguments.max)]
    return redrive_main(argv, environ={}, sqs=sqs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local_cloud", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_command = commands.add_parser("up", help="start the local cloud and wait for Ctrl-C")
    up_command.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"AWS endpoint port (default {DEFAULT_PORT})"
    )
    up_command.add_argument(
        "--api-port", type=int, default=DEFAULT_API_PORT, help=f"API server port (default {DEFAULT_API_PORT})"
    )
    up_command.add_argument(
        "--retry-delay",
        type=float,
        default=DEFAULT_RETRY_DELAY_SECONDS,
        help="seconds before a message a function failed is retried (default %(default)s; AWS waits the queue's "
        "VisibilityTimeout)",
    )
    up_command.add_argument(
        "--no-functions", dest="functions", action="store_false", help="AWS endpoint and resources only"
    )
    up_command.add_argument("--no-demo", dest="demo", action="store_false", help="do not seed the demo tenant/data")
    up_command.add_argument("--host", default=DEFAULT_HOST, help="loopback address to bind (default 127.0.0.1)")
    up_command.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    up_command.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    up_command.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="used in generated resource names")
    up_command.add_argument(
        "--parameter", type=_parameter, action="append", default=[], metavar="NAME=VALUE", help="template parameter"
    )
    up_command.add_argument("--log-requests", action="store_true", help="log every AWS and API request")
    redrive_command = commands.add_parser(
        "redrive", help="move the running local cloud's dead-lettered webhook deliveries back to the notify queue"
    )
    redrive_command.add_argument("--max", type=int, default=None, metavar="N", help="move at most N messages")
    redrive_command.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    arguments = parser.parse_args(argv)
    if arguments.command == "up":
        return up(arguments)
    if arguments.command == "redrive":
        return redrive(arguments)
    parser.error(f"unknown command {arguments.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
