"""Redrive dead-lettered webhook deliveries (the notify dead-letter queue) once the receiver works again.

Each dead-lettered task starts a new round of attempts (the full retry schedule); a copy redriven twice is still
delivered once.

Against the local cloud (`make run`), from the repository:

    make redrive                                   # reads .aiqleads/local.json; MAX=N moves at most N

Against AWS, with credentials and the stack's region in the environment (AWS_PROFILE / AWS_ACCESS_KEY_ID ...,
AWS_DEFAULT_REGION):

    .venv/bin/python -m aiqleads.webhooks.redrive --stack NAME     # or --stage dev for the stack aiqleads-dev

finds the queues by the names template.yaml gives them (<stack>-notify and <stack>-notify-dlq; --stage STAGE
means the stack aiqleads-<stage>).
Or name them: --queue-url and --dead-letter-queue-url, or NOTIFY_QUEUE_URL and NOTIFY_DEAD_LETTER_QUEUE_URL (the
notify function's own variables; AWS_ENDPOINT_URL points boto3 at another endpoint). The console's "Start DLQ
redrive" (StartMessageMoveTask) works too: the message bodies are the same.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from aiqleads.storage.aws import client
from aiqleads.storage.redrive import move_messages

QUEUE_VARIABLE = "NOTIFY_QUEUE_URL"
DEAD_LETTER_QUEUE_VARIABLE = "NOTIFY_DEAD_LETTER_QUEUE_URL"


class RedriveError(Exception):
    """Something an operator can fix (a wrong stage, region or queue), said in one line."""


def stack_queue_names(stack: str) -> tuple[str, str]:
    """(notify queue, its dead-letter queue) as template.yaml names them in `stack` (a test keeps them equal)."""
    return f"{stack}-notify", f"{stack}-notify-dlq"


def queue_names(stage: str) -> tuple[str, str]:
    """The queues of the stack `aiqleads-<stage>`, the name the deploy gives a stage's stack."""
    return stack_queue_names(f"aiqleads-{stage}")


def _queue_url(sqs: Any, name: str, given: str = "stage") -> str:
    try:
        return str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            region = sqs.meta.region_name
            raise RedriveError(
                f"no queue {name} in region {region} (is the {given} right, and AWS_DEFAULT_REGION the stack's?)"
            ) from None
        raise


def redrive(dead_letter_queue_url: str, queue_url: str, *, limit: int | None = None, sqs: Any | None = None) -> int:
    """Move dead-lettered deliveries back to the notify queue; returns how many moved."""
    return move_messages(dead_letter_queue_url, queue_url, limit=limit, sqs=sqs)


def _explain(error: Exception) -> str:
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (or a profile's region) to the stack's region"
    return str(error)


def _parser() -> argparse.ArgumentParser:
    summary, _, details = (__doc__ or "").partition("\n\n")
    parser = argparse.ArgumentParser(
        prog="python -m aiqleads.webhooks.redrive",
        description=summary,
        epilog=details,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack", help="find the queues by template.yaml's names in this stack")
    parser.add_argument("--stage", help="the same for the stack aiqleads-STAGE (dev, staging, prod)")
    parser.add_argument("--queue-url", help=f"the notify queue (default: ${QUEUE_VARIABLE})")
    parser.add_argument(
        "--dead-letter-queue-url", help=f"the notify dead-letter queue (default: ${DEAD_LETTER_QUEUE_VARIABLE})"
    )
    parser.add_argument("--max", type=int, default=None, metavar="N", help="move at most N messages")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None, sqs: Any | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    queue_url = args.queue_url or env.get(QUEUE_VARIABLE, "")
    dead_letter_queue_url = args.dead_letter_queue_url or env.get(DEAD_LETTER_QUEUE_VARIABLE, "")
    if args.stack and args.stage:
        parser.error("pass --stack or --stage, not both")
    names = stack_queue_names(args.stack) if args.stack else queue_names(args.stage) if args.stage else None
    if names is None:
        missing = [
            name
            for name, value in ((QUEUE_VARIABLE, queue_url), (DEAD_LETTER_QUEUE_VARIABLE, dead_letter_queue_url))
            if not value
        ]
        if missing:
            parser.error(
                f"which queues? {' and '.join(missing)} not set: pass --stack NAME or --stage STAGE (AWS), run `make redrive` "
                "(local cloud), or pass --queue-url and --dead-letter-queue-url"
            )
    try:
        sqs = sqs or client("sqs")
        if names is not None:
            queue_name, dead_letter_name = names
            given = "stack" if args.stack else "stage"
            queue_url = queue_url or _queue_url(sqs, queue_name, given)
            dead_letter_queue_url = dead_letter_queue_url or _queue_url(sqs, dead_letter_name, given)
        moved = redrive(dead_letter_queue_url, queue_url, limit=args.max, sqs=sqs)
    except (RedriveError, BotoCoreError, ClientError, RuntimeError) as error:
        print(f"redrive: {_explain(error)}", file=sys.stderr)
        return 1
    print(f"moved {moved} dead-lettered webhook deliveries from {dead_letter_queue_url} to {queue_url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
