"""Webhooks: tenant-managed endpoints that receive domain events, signed per the Standard Webhooks spec.

models.py     subscriptions, filters, delivery tasks and attempts (pydantic: the API's schemas too)
signing.py    whsec_ secrets and webhook-id / webhook-timestamp / webhook-signature headers
urls.py       which receiver addresses are allowed (https, public addresses only; checked again per attempt)
schedule.py   the retry schedule (exponential, with jitter) and Retry-After
transport.py  one HTTP attempt: pinned to the checked address, no redirects, capped response, timeout
delivery.py   the notifier: domain event -> one task per matching endpoint -> attempts, retries, dead letters
service.py    the subscriptions API's operations (create, list, delete, rotate, enable, test, deliveries)
consumer.py   the notify function's SQS batch (records handled concurrently, partial batch failures)
redrive.py    `python -m aiqleads.webhooks.redrive`: dead-lettered deliveries back to the notify queue
"""
