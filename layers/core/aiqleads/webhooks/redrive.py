"""Redrive dead-lettered webhook deliveries once the receiver works again:

    python -m aiqleads.webhooks.redrive [--max N]

reads NOTIFY_DEAD_LETTER_QUEUE_URL and NOTIFY_QUEUE_URL (and AWS_ENDPOINT_URL for the local cloud) from the
environment. Each dead-lettered task starts a new round of attempts (the full retry schedule); a copy redriven
twice is still delivered once. In AWS, the console's "Start DLQ redrive" (StartMessageMoveTask) works too: the
message bodies are the same.
"""

from __future__ import annotations

import argparse
import sys

from aiqleads.storage.redrive import move_messages
from aiqleads.webhooks.settings import WebhookSettings


def redrive(settings: WebhookSettings | None = None, limit: int | None = None) -> int:
    settings = settings or WebhookSettings.from_env()
    if not settings.notify_dead_letter_queue_url or not settings.notify_queue_url:
        raise SystemExit("set NOTIFY_DEAD_LETTER_QUEUE_URL and NOTIFY_QUEUE_URL")
    return move_messages(settings.notify_dead_letter_queue_url, settings.notify_queue_url, limit=limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aiqleads.webhooks.redrive", description=__doc__.split("\n")[0])
    parser.add_argument("--max", type=int, default=None, help="move at most this many messages")
    args = parser.parse_args(argv)
    moved = redrive(limit=args.max)
    print(f"moved {moved} dead-lettered webhook deliveries back to the notify queue")
    return 0


if __name__ == "__main__":
    sys.exit(main())
