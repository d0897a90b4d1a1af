"""`aiqleads keys issue|revoke|rotate|sweep`: API keys that API Gateway and the authorizer both accept.

Every command first retires the keys whose rotation grace period is over (`sweep`): the authorizer refuses such a
key already, and this disables it in API Gateway too. Run `aiqleads keys sweep` on a schedule to do it without
waiting for the next command.
"""

from __future__ import annotations

import argparse
import re
from datetime import timedelta
from typing import Any

from aiqleads.models import Tier
from aiqleads.tenants.api_keys import Role
from aiqleads.tenants.service import DEFAULT_ROTATION_GRACE, IssuedKey, KeyService

from . import deployment

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """90s, 30m, 24h, 7d, or plain seconds."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 24h, 30m, 90s, 7d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def _shown(issued: IssuedKey) -> dict[str, Any]:
    record = issued.record
    return {
        "api_key": issued.api_key,
        "key_id": issued.key_id,
        "tenant_id": record.tenant_id,
        "tier": record.tier.value,
        "role": record.role.value,
        "note": "the key is shown only now: store it (only its SHA-256 is kept)",
    }


def _issue(service: KeyService, args: argparse.Namespace) -> dict[str, Any]:
    service.sweep()
    return _shown(service.issue(args.tenant, Tier(args.tier), Role(args.role), name=args.name))


def _revoke(service: KeyService, args: argparse.Namespace) -> dict[str, Any]:
    service.sweep()
    record = service.revoke(args.key_id)
    return {"key_id": args.key_id, "tenant_id": record.tenant_id, "status": record.status}


def _rotate(service: KeyService, args: argparse.Namespace) -> dict[str, Any]:
    service.sweep()
    issued, old = service.rotate(args.key_id, args.grace)
    return {**_shown(issued), "replaces": args.key_id, "old_key_expires_at": old.expires_at}


def _sweep(service: KeyService, args: argparse.Namespace) -> dict[str, Any]:
    return {"retired": [record.key_id for record in service.sweep()]}


def register(commands: Any) -> None:
    keys = commands.add_parser("keys", help="API keys of a deployment (AWS or the local cloud)", description=__doc__)
    actions = keys.add_subparsers(dest="action", required=True)

    issue = actions.add_parser("issue", help="issue a key to a tenant; prints it once, as JSON")
    issue.add_argument("--tenant", required=True)
    issue.add_argument("--tier", required=True, choices=[tier.value for tier in Tier])
    issue.add_argument("--role", default=Role.MEMBER.value, choices=[role.value for role in Role])
    issue.add_argument("--name", default="", help="a label for the key")
    issue.set_defaults(run=deployment.run(_issue))

    revoke = actions.add_parser("revoke", help="revoke a key (refused within minutes: see the README)")
    revoke.add_argument("--key-id", required=True)
    revoke.set_defaults(run=deployment.run(_revoke))

    grace_hours = DEFAULT_ROTATION_GRACE.total_seconds() / 3600
    rotate = actions.add_parser("rotate", help="issue a new key for the same tenant, tier and role; the old one "
                                "keeps working for the grace period")  # fmt: skip
    rotate.add_argument("--key-id", required=True)
    rotate.add_argument(
        "--grace", type=duration, default=DEFAULT_ROTATION_GRACE, help=f"e.g. 1h, 30m (default {grace_hours:g}h)"
    )
    rotate.set_defaults(run=deployment.run(_rotate))

    sweep = actions.add_parser("sweep", help="disable the keys whose rotation grace period is over")
    sweep.set_defaults(run=deployment.run(_sweep))

    for action in (issue, revoke, rotate, sweep):
        deployment.add_arguments(action)
