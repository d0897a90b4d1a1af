"""`aiqleads tenants create TENANT`: a tenant, which keys can then be issued to."""

from __future__ import annotations

import argparse
from typing import Any

from aiqleads.tenants.service import KeyService

from . import deployment


def _create(service: KeyService, args: argparse.Namespace) -> dict[str, Any]:
    return service.create_tenant(args.tenant, args.name).model_dump(mode="json")


def register(commands: Any) -> None:
    tenants = commands.add_parser("tenants", help="tenants of a deployment (AWS or the local cloud)")
    actions = tenants.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a tenant (a slug, e.g. acme-realty)")
    create.add_argument("tenant")
    create.add_argument("--name", default="", help="a display name")
    deployment.add_arguments(create)
    create.set_defaults(run=deployment.run(_create))
