"""Run the local cloud until Ctrl-C.

    python -m infra.local_cloud up [--port 4566] [--template template.yaml] [--parameter Stage=dev]

Starts moto on 127.0.0.1, creates every resource template.yaml declares, writes `.aiqleads/local.json`
(`aws_endpoint_url`, `region`, `uploads_bucket`, `events_topic_arn`, `alerts_topic_arn`, tables, queues, ...),
prints the same, and waits. Ctrl-C (or SIGTERM) stops it and removes the state file.
"""

from __future__ import annotations

import argparse
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
from .resources import DEFAULT_STACK_NAME
from .server import DEFAULT_HOST, DEFAULT_PORT, LocalCloudError


def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected Name=Value, got {text!r}")
    return name, value


def _table(rows: dict[str, str], indent: str = "    ") -> list[str]:
    width = max((len(name) for name in rows), default=0)
    return [f"{indent}{name:<{width}}  {value}" for name, value in rows.items()]


def describe(info: dict[str, Any], state_file: Path) -> str:
    """The human-readable summary printed at start-up."""
    endpoint, region = info["aws_endpoint_url"], info["region"]
    lines = [
        f"AIQLeads local cloud: AWS endpoint {endpoint} (moto {version('moto')}), region {region}, "
        f"account {info['account_id']}, stack {info['stack_name']}",
        f"  uploads bucket    {info['uploads_bucket']}",
        f"  events topic      {info['events_topic_arn']}",
        f"  alerts topic      {info['alerts_topic_arn']}",
        "  tables",
        *_table(info["tables"]),
        "  queues",
        *_table(info["queues"]),
    ]
    skipped = info["skipped"]
    if skipped:
        kinds = sorted({item["type"] for item in skipped.values()})
        lines.append(f"  not created locally: {len(skipped)} resources ({', '.join(kinds)}); reasons in {state_file}")
    lines += [f"  note: {note}" for note in info["notes"]]
    lines += [
        f"Written to {state_file}. To use it with the AWS CLI or boto3 from a shell:",
        f"  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region} "
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing",
        f"  aws s3 cp leads.csv s3://{info['uploads_bucket']}/uploads/leads.csv",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local_cloud", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    up_command = commands.add_parser("up", help="start the local cloud and wait for Ctrl-C")
    up_command.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"AWS endpoint port (default {DEFAULT_PORT})"
    )
    up_command.add_argument("--host", default=DEFAULT_HOST, help="loopback address to bind (default 127.0.0.1)")
    up_command.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    up_command.add_argument("--state-file", type=Path, default=DEFAULT_STATE_FILE)
    up_command.add_argument("--stack-name", default=DEFAULT_STACK_NAME, help="used in generated resource names")
    up_command.add_argument(
        "--parameter", type=_parameter, action="append", default=[], metavar="NAME=VALUE", help="template parameter"
    )
    up_command.add_argument("--log-requests", action="store_true", help="log every AWS request moto serves")
    arguments = parser.parse_args(argv)
    if arguments.command == "up":
        return up(arguments)
    parser.error(f"unknown command {arguments.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
