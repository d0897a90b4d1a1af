"""`aiqleads monitor run --tenant T [--wait]`: an operator's monitoring run of any tenant, on a stack or the local
cloud, submitted as the schedule submits one (a job in JobsTable and a message on MonitorQueue) and run by the
monitor function. `--wait` follows the job and prints the run's headline figures and alerts.

Tenants reach the same run through `POST /v1/monitoring/runs` with their admin key; this command is for whoever
operates the deployment (AWS credentials for its JobsTable and MonitorQueue, or the local cloud).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .models import CommandError, _run, stack_or_local
from .onboarding.deployment import DEFAULT_LOCAL_STATE, DeploymentError

RESOURCES = ("JobsTable", "MonitorQueue")


def _physical(args: argparse.Namespace) -> tuple[dict[str, str], dict[str, Any]]:
    """JobsTable's name and MonitorQueue's URL, and the client options that reach them."""
    found, options = stack_or_local(args)
    missing = [name for name in RESOURCES if not found.get(name)]
    if missing:
        where = f"stack {args.stack}" if args.stack else str(args.local_state)
        raise DeploymentError(f"{where} has no {', '.join(missing)}: deploy the current template.yaml (or make run)")
    return {name: str(found[name]) for name in RESOURCES}, options


def _monitor_run(args: argparse.Namespace) -> Any:
    from aiqleads.jobs.status import JobStatuses
    from aiqleads.monitoring import jobs as monitor_jobs
    from aiqleads.monitoring.jobs import MonitorJobs
    from aiqleads.storage.aws import new_client
    from aiqleads.storage.jobs import JobRepository
    from aiqleads.storage.messaging import QueueSender
    from aiqleads.tenants.service import tenant_slug

    names, options = _physical(args)
    tenant = tenant_slug(args.tenant)
    store = JobRepository(names["JobsTable"], new_client("dynamodb", **options))
    queue = QueueSender(names["MonitorQueue"], new_client("sqs", **options))
    accepted = MonitorJobs(store, queue).submit(tenant, trigger="cli")
    if not args.wait:
        return accepted.model_dump()
    statuses = JobStatuses(store, {monitor_jobs.JOB_KIND: monitor_jobs.job_view}, default=monitor_jobs.job_view)
    deadline = time.monotonic() + args.timeout
    while True:
        view = statuses.get(tenant, accepted.job_id)
        if view.status in ("completed", "failed"):
            if view.status == "failed":
                raise CommandError(f"monitoring run {view.id} failed: {view.error}")
            return view.model_dump(mode="json", exclude_none=True)
        if time.monotonic() > deadline:
            raise CommandError(f"monitoring run {accepted.job_id} still {view.status} after {args.timeout} s")
        time.sleep(args.poll)


def register(commands: Any) -> None:
    monitor = commands.add_parser("monitor", help="model monitoring: drift, live performance and alerts")
    actions = monitor.add_subparsers(dest="action", required=True)
    run = actions.add_parser("run", help="monitor a tenant's serving model (and its shadow) now")
    run.add_argument("--tenant", required=True, help="the tenant whose models to monitor")
    run.add_argument("--wait", action="store_true", help="follow the run until it completes")
    run.add_argument("--timeout", type=float, default=900.0, help="seconds --wait waits at most (default 900)")
    run.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    run.add_argument("--stack", help="a deployed stack (default: the running local cloud)")
    run.add_argument("--region", help="the stack's region")
    run.add_argument("--local-state", type=Path, default=DEFAULT_LOCAL_STATE, help="the local cloud's state file")
    run.set_defaults(run=_run(_monitor_run))
