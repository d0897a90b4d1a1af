"""Move messages from a dead-letter queue back to its source queue (what SQS's StartMessageMoveTask does in
AWS; moto has no move tasks, and this works against both)."""

from __future__ import annotations

from typing import Any

from aiqleads.storage.aws import client


def move_messages(source_url: str, target_url: str, *, limit: int | None = None, sqs: Any | None = None) -> int:
    """Receive from `source_url`, send each body (and its attributes) to `target_url`, then delete it.
    Stops when the source looks empty or `limit` messages moved. Returns how many moved."""
    sqs = sqs or client("sqs")
    moved = 0
    while limit is None or moved < limit:
        batch = 10 if limit is None else max(1, min(10, limit - moved))
        response = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=1,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return moved
        entries = []
        for index, message in enumerate(messages):
            entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
            if message.get("MessageAttributes"):
                entry["MessageAttributes"] = message["MessageAttributes"]
            entries.append(entry)
        sent = sqs.send_message_batch(QueueUrl=target_url, Entries=entries)
        done = {item["Id"] for item in sent.get("Successful", [])}
        deletes = [
            {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
            for index, message in enumerate(messages)
            if str(index) in done
        ]
        if deletes:
            sqs.delete_message_batch(QueueUrl=source_url, Entries=deletes)
        moved += len(deletes)
        if len(deletes) < len(messages):
            failed = sent.get("Failed") or [{}]
            raise RuntimeError(f"SQS refused {len(messages) - len(deletes)} messages: {failed[0]}")
    return moved
