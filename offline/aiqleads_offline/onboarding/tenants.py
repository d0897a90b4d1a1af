"""`aiqleads tenants create TENANT`: a tenant, which keys can then be issued to; `aiqleads tenants configure
TENANT`: its settings (challengers policy, engagement half-life, whether a monitoring alert retrains)."""

from __future__ import annotations

import argparse
from typing import Any

from aiqleads.tenants.service import KeyService

from . import deployment


def _create(service: KeyService, args: argparse.Namespace) -> dict[str, Any]:
    return service.create_tenant(args.tenant, args.name).model_dump(mode="json")


def _configure(service: KeyService, args: argparse.Namespace) -> dict[str, Any]:
    settings = {
        "challengers": args.challengers,
        "engagement_half_life_days": args.engagement_half_life_days,
        "retrain_on_alert": args.retrain_on_alert,
    }
    changes = {name: value for name, value in settings.items() if value is not None}
    return service.configure_tenant(args.tenant, changes).model_dump(mode="json")


def register(commands: Any) -> None:
    tenants = commands.add_parser("tenants", help="tenants of a deployment (AWS or the local cloud)")
    actions = tenants.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a tenant (a slug, e.g. acme-realty)")
    create.add_argument("tenant")
    create.add_argument("--name", default="", help="a display name")
    deployment.add_arguments(create)
    create.set_defaults(run=deployment.run(_create))
    configure = actions.add_parser("configure", help="change a tenant's settings (used by its next trained model)")
    configure.add_argument("tenant")
    configure.add_argument(
        "--challengers", choices=("keep", "shadow"), help="a trained candidate that is not better: kept or shadow"
    )
    configure.add_argument(
        "--engagement-half-life-days",
        type=float,
        help="engagement fades: a stored interaction counts half after this many days (default 30, up to 365)",
    )
    configure.add_argument(
        "--retrain-on-alert",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether a monitoring alert (drift, performance, calibration) also starts a training job (default no)",
    )
    deployment.add_arguments(configure)
    configure.set_defaults(run=deployment.run(_configure))
