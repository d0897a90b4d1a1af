"""What a lead costs in AWS: measured in the local cloud, priced at list prices (bench/prices.py).

    .venv/bin/python -m bench.cost          # also a section of `make bench` (bench/run_all.py)

Env: COST_LEADS (API path leads, default 60), COST_EVENTS (interactions per lead, 3), COST_BULK_ROWS (10,000),
COST_REC_SAMPLES (recommendation pages per buyer, 5).

One local cloud (template.yaml, its functions, API and pollers) and one tenant with one webhook endpoint (every
event type it can take, answering 204). Metered (bench/metering.py), after a warm-up the figures do not include:
1. the API path: POST /v1/leads per lead, COST_EVENTS POST /v1/events per lead (one interaction each), the
   events function over them, then the notify function over every domain event (fan-out and delivery tasks);
2. the bulk path: a client's PutObject of a generated COST_BULK_ROWS-row csv under uploads/<tenant>/, the bulk
   job it starts (BulkQueue), and the notify path for `bulk.completed`;
3. GET /v1/recommendations (page of 20) for three buyers (1, 3 and 10 markets), with the API function's
   candidate cache cleared before each request (every market read) and as deployed (cache warm).
Each is priced per service and scaled to a million leads (or requests); storage from the items and objects
written. Lambda durations are this machine's, in process, against moto: an estimate, shown in ms.
"""

from __future__ import annotations

import math
import os
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiqleads.api import context as api_context
from aiqleads.models import Buyer, Tier
from aiqleads.recommendations.candidate_cache import CachedCandidates
from bench import dynamo_units, prices
from bench.cost_run import Flows, webhook_receiver
from bench.data import leads_file
from bench.metering import Invocation, Meter
from infra.local_cloud import LocalCloud
from infra.local_cloud.functions import discover_functions
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
TENANT = "cost"
MILLION = 1_000_000
MARKETS = ("las-vegas", "dallas-fort-worth", "austin", "phoenix", "boise", "tucson", "reno", "el-paso",
           "albuquerque", "salt-lake-city")  # fmt: skip
BUYERS = (
    Buyer(id="cost-basic", tier=Tier.BASIC, authorised_markets=["austin"]),
    Buyer(id="cost-pro", tier=Tier.PRO, authorised_markets=["austin", "phoenix", "boise"]),
    Buyer(id="cost-enterprise", tier=Tier.ENTERPRISE, authorised_markets=list(MARKETS)),
)
SERVICES = ("Lambda", "DynamoDB", "S3", "SNS", "SQS", "API Gateway", "CloudWatch Logs")
# Lambda writes these per invocation to the function's log group (text format; X-Ray adds its line when
# Tracing is Active): their bytes, with a request id's 36 characters, count as ingestion.
PLATFORM_LINES = (
    "START RequestId: {id} Version: $LATEST\n",
    "END RequestId: {id}\n",
    "REPORT RequestId: {id}\tDuration: 12.34 ms\tBilled Duration: 13 ms\tMemory Size: 1024 MB\tMax Memory Used: 150 MB\t\n",
)
XRAY_LINE = "XRAY TraceId: 1-00000000-000000000000000000000000\tSegmentId: 0000000000000000\tSampled: true\t\n"


@dataclass(frozen=True)
class Function:
    memory_mb: int
    architecture: str
    tracing: bool


def functions_from_template(template: Mapping[str, Any]) -> dict[str, Function]:
    """MemorySize, Architectures and Tracing of every function, Globals merged (read, never copied here)."""
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    found: dict[str, Function] = {}
    for logical_id, spec in discover_functions(template, ROOT).items():
        properties = {**globals_, **(template["Resources"][logical_id].get("Properties") or {})}
        found[logical_id] = Function(
            memory_mb=spec.memory_mb,
            architecture=(properties.get("Architectures") or ["x86_64"])[0],
            tracing=properties.get("Tracing") == "Active",
        )
    return found


@dataclass
class Phase:
    """One metered flow: what it asked of AWS, per `per` units (leads or requests)."""

    name: str
    per: int
    tally: dict[tuple[str, str, str], float]
    invocations: list[Invocation]
    log_bytes: Counter[str]

    def total(self, service: str, metric: str) -> float:
        return sum(v for (_, s, m), v in self.tally.items() if s == service and m == metric)

    def by_actor(self, service: str, metric: str) -> dict[str, float]:
        found: dict[str, float] = {}
        for (actor, s, m), value in self.tally.items():
            if s == service and m == metric:
                found[actor] = found.get(actor, 0.0) + value
        return found

    def count(self, function: str) -> int:
        return sum(1 for i in self.invocations if i.function == function)

    def as_dict(self) -> dict[str, Any]:
        return {
            "per": self.per,
            "tally": {"|".join(key): value for key, value in sorted(self.tally.items())},
            "invocations": {f: self.count(f) for f in sorted({i.function for i in self.invocations})},
            "log_bytes": dict(self.log_bytes),
        }


def snapshot(meter: Meter, name: str, per: int) -> Phase:
    phase = Phase(name, per, dict(meter.tally), list(meter.invocations), Counter(meter.log_bytes))
    meter.reset()
    return phase


def lambda_cost(phase: Phase, functions: Mapping[str, Function], architecture: str | None = None) -> float:
    """Requests plus GB-s, each invocation billed in whole milliseconds at its function's memory."""
    total = 0.0
    for invocation in phase.invocations:
        function = functions[invocation.function]
        gb_seconds = max(1, math.ceil(invocation.net_ms)) / 1000 * function.memory_mb / 1024
        total += gb_seconds * prices.LAMBDA_GB_SECOND[architecture or function.architecture] + prices.LAMBDA_REQUEST
    return total


def log_bytes(phase: Phase, functions: Mapping[str, Function]) -> float:
    platform = sum(len(line.format(id="0" * 36)) for line in PLATFORM_LINES)
    per_invocation = {name: platform + (len(XRAY_LINE) if f.tracing else 0) for name, f in functions.items()}
    return sum(phase.log_bytes.values()) + sum(per_invocation[i.function] for i in phase.invocations)


def costs(phase: Phase, functions: Mapping[str, Function], architecture: str | None = None) -> dict[str, float]:
    """Dollars per million of the phase's units, by service."""
    total = {
        "Lambda": lambda_cost(phase, functions, architecture),
        "DynamoDB": phase.total("dynamodb", "write_units") * prices.DYNAMODB_WRITE_REQUEST_UNIT
        + phase.total("dynamodb", "read_units") * prices.DYNAMODB_READ_REQUEST_UNIT,
        "S3": phase.total("s3", "put_requests") * prices.S3_PUT_REQUEST
        + phase.total("s3", "get_requests") * prices.S3_GET_REQUEST,
        "SNS": phase.total("sns", "requests") * prices.SNS_REQUEST,
        "SQS": phase.total("sqs", "requests") * prices.SQS_REQUEST,
        "API Gateway": phase.count("ApiFunction") * prices.API_GATEWAY_REST_REQUEST,
        "CloudWatch Logs": log_bytes(phase, functions) / 1e9 * prices.CLOUDWATCH_LOGS_INGEST_GB,
    }
    return {service: value / phase.per * MILLION for service, value in total.items()}


# ------------------------------------------------------------------------------------------------- storage
def _storage(meter: Meter, flows: Flows, logical_id: str, select: Callable[[dict[str, Any]], bool]) -> tuple[int, int]:
    """(items, bytes with index copies and overheads) of the table's items that `select` keeps."""
    shape = meter.shape(flows.cloud.resources.ref(logical_id))
    chosen = [item for item in flows.items(logical_id) if select(item)]
    return len(chosen), sum(dynamo_units.storage_bytes(shape, item) for item in chosen)


def storage(
    meter: Meter, flows: Flows, api_leads: int, events: int, bulk_rows: int, rec_requests: int
) -> dict[str, Any]:
    def of(tenant: str) -> Callable[[dict[str, Any]], bool]:
        return lambda item: item.get("pk", {}).get("S", "").startswith(f"{tenant}#")

    _, leads_bytes = _storage(meter, flows, "LeadsTable", of(TENANT))
    _, aggregates_bytes = _storage(meter, flows, "AggregatesTable", of(TENANT))
    records, idempotency_bytes = _storage(meter, flows, "IdempotencyTable", lambda item: True)
    served, served_bytes = _storage(
        meter, flows, "BuyersTable", lambda i: i.get("sk", {}).get("S", "").startswith("rec#")
    )
    bulk_items, bulk_bytes = _storage(meter, flows, "LeadsTable", of(f"{TENANT}-bulk"))
    results = sum(o["Size"] for o in flows.objects(f"results/{TENANT}-bulk/"))
    uploads = sum(o["Size"] for o in flows.objects(f"uploads/{TENANT}-bulk/"))
    return {
        "dynamodb_bytes_per_lead": (leads_bytes + aggregates_bytes) / api_leads,
        "leads_table_bytes_per_lead": leads_bytes / api_leads,
        "aggregates_bytes_per_lead": aggregates_bytes / api_leads,
        "idempotency_bytes_per_event": idempotency_bytes / max(1, records),
        "bulk_dynamodb_bytes_per_row": bulk_bytes / bulk_rows,
        "bulk_items_per_row": bulk_items / bulk_rows,
        "s3_results_bytes_per_row": results / bulk_rows,
        "s3_upload_bytes_per_row": uploads / bulk_rows,
        "served_items_per_request": served / max(1, rec_requests),
        "served_bytes_per_request": served_bytes / max(1, rec_requests),
        "events_per_lead": events,
    }


# ------------------------------------------------------------------------------------------------- measure
def measure(
    leads: int | None = None, events: int | None = None, bulk_rows: int | None = None, rec_samples: int | None = None
) -> dict[str, Any]:
    leads = leads or int(os.environ.get("COST_LEADS", "60"))
    events = events if events is not None else int(os.environ.get("COST_EVENTS", "3"))
    bulk_rows = bulk_rows or int(os.environ.get("COST_BULK_ROWS", "10000"))
    rec_samples = rec_samples or int(os.environ.get("COST_REC_SAMPLES", "5"))
    started = time.perf_counter()
    template = load_template(TEMPLATE)
    functions = functions_from_template(template)
    source, warm = leads_file(bulk_rows), leads_file(200)
    meter = Meter(inspector=None)
    phases: dict[str, Phase] = {}
    with meter.installed(), webhook_receiver() as hook_url:
        cloud = LocalCloud(TEMPLATE, port=0, demo=False, retry_delay=1)
        with cloud:
            assert cloud.runtime is not None
            with meter.unmetered():
                meter.inspector = cloud.client("dynamodb")
            meter.attach(cloud.runtime)
            flows = Flows(cloud, meter, TENANT)
            bulk_flows = Flows(cloud, meter, f"{TENANT}-bulk")
            # The bulk warm-up's own tenant: its leads' score history items (keyed by its job) would otherwise stay
            # beside the measured upload's in the bulk tenant's partitions and count as its storage.
            warm_flows = Flows(cloud, meter, f"{TENANT}-warm")
            flows.subscribe(hook_url)
            bulk_flows.subscribe(hook_url)
            warm_flows.subscribe(hook_url)
            flows.seed_buyers(BUYERS)
            # Warm-up (imports, the model, connections, caches), then metered phases from a clean count.
            flows.api_leads(3, 1, seed=1)
            warm_flows.bulk(warm)
            meter.reset()
            flows.api_leads(leads, events, seed=2)
            phases["api"] = snapshot(meter, "api", leads)
            bulk_flows.bulk(source)
            phases["bulk"] = snapshot(meter, "bulk", bulk_rows)
            cache = api_context.recommendations().candidates
            clear = cache.clear if isinstance(cache, CachedCandidates) else None
            flows.recommendations(BUYERS, 1, None)
            meter.reset()
            flows.recommendations(BUYERS, rec_samples, clear)
            phases["recs_cold"] = snapshot(meter, "recs_cold", rec_samples * len(BUYERS))
            flows.recommendations(BUYERS, rec_samples, None)
            phases["recs_warm"] = snapshot(meter, "recs_warm", rec_samples * len(BUYERS))
            stored = storage(meter, flows, leads, events, bulk_rows, rec_samples * len(BUYERS) * 2 + len(BUYERS))
    return {
        "leads": leads,
        "events_per_lead": events,
        "bulk_rows": bulk_rows,
        "rec_requests": rec_samples * len(BUYERS),
        "functions": {name: vars(f) for name, f in functions.items()},
        "phases": phases,
        "storage": stored,
        "seconds": time.perf_counter() - started,
    }


# ------------------------------------------------------------------------------------------------- report
def _money(value: float) -> str:
    return f"${value:,.2f}" if value >= 0.01 or value == 0 else f"${value:.4f}"


def report(result: dict[str, Any]) -> None:
    functions = {name: Function(**f) for name, f in result["functions"].items()}
    phases: dict[str, Phase] = result["phases"]
    columns = {
        "API path": phases["api"],
        "bulk upload": phases["bulk"],
        "recs, cache cleared": phases["recs_cold"],
        "recs, as deployed": phases["recs_warm"],
    }
    priced = {name: costs(phase, functions) for name, phase in columns.items()}
    print(f"\nCost at AWS list prices ({prices.REGION}, prices of {prices.PRICES_AS_OF}, bench/prices.py), "
          "measured in the local cloud:")  # fmt: skip
    print(f"  {'':<18}{'per M leads':>22}{'per M leads':>22}{'per M GETs':>22}{'per M GETs':>22}")
    print(f"  {'service':<18}" + "".join(f"{name:>22}" for name in columns))
    for service in SERVICES:
        print(f"  {service:<18}" + "".join(f"{_money(priced[name][service]):>22}" for name in columns))
    print(f"  {'total':<18}" + "".join(f"{_money(sum(priced[name].values())):>22}" for name in columns))
    other = "x86_64" if next(iter(functions.values())).architecture == "arm64" else "arm64"
    print(f"  {'total on ' + other:<18}" + "".join(
        f"{_money(sum(costs(phase, functions, other).values())):>22}" for phase in columns.values()
    ))  # fmt: skip
    _details(result, functions, columns)
    _storage_report(result["storage"])
    _assumptions(result, functions)


def _details(result: dict[str, Any], functions: Mapping[str, Function], columns: Mapping[str, Phase]) -> None:
    print("\n  what one lead (or request) asks for, measured:")
    for name, phase in columns.items():
        per = phase.per
        print(f"  {name} ({'per lead' if name in ('API path', 'bulk upload') else 'per GET'}):")
        for function in sorted({i.function for i in phase.invocations}):
            times = [i.net_ms for i in phase.invocations if i.function == function]
            spec = functions[function]
            print(f"    {function:<28} {len(times) / per:9.5f} invocations  mean {statistics.mean(times):7.1f} ms"
                  f"  p50 {statistics.median(times):7.1f} ms  at {spec.memory_mb} MB {spec.architecture}")  # fmt: skip
        wru, rru = phase.total("dynamodb", "write_units"), phase.total("dynamodb", "read_units")
        print(f"    DynamoDB {wru / per:.2f} write units, {rru / per:.2f} read units", end="")
        gsi = {
            m.split(":", 1)[1]: v
            for (_, s, m), v in phase.tally.items()
            if s == "dynamodb" and m.startswith("index_write_units:")
        }
        print(
            ""
            if not gsi
            else " (of which index writes: " + ", ".join(f"{k} {v / per:.2f}" for k, v in sorted(gsi.items())) + ")"
        )
        print(f"    SNS {phase.total('sns', 'requests') / per:.3f} requests; SQS {phase.total('sqs', 'requests') / per:.3f}"
              f" requests (event-source mappings {sum(v for a, v in phase.by_actor('sqs', 'requests').items() if a.startswith('esm:')) / per:.3f});"
              f" S3 {phase.total('s3', 'put_requests') / per:.4f} PUT, {phase.total('s3', 'get_requests') / per:.4f} GET;"
              f" API Gateway {phase.count('ApiFunction') / per:.3f}")  # fmt: skip
        unattributed = sum(v for (a, _, m), v in phase.tally.items() if a == "unattributed" and m.startswith("calls:"))
        if unattributed:
            print(f"    ({unattributed:.0f} calls could not be attributed to one function; they are in the totals)")


def _storage_report(stored: Mapping[str, Any]) -> None:
    gb = 1e9
    dynamo_month = prices.DYNAMODB_STORAGE_GB_MONTH + prices.DYNAMODB_PITR_GB_MONTH
    api = stored["dynamodb_bytes_per_lead"] * MILLION / gb
    bulk = stored["bulk_dynamodb_bytes_per_row"] * MILLION / gb
    results = (stored["s3_results_bytes_per_row"] + stored["s3_upload_bytes_per_row"]) * MILLION / gb
    idempotency = stored["idempotency_bytes_per_event"] * stored["events_per_lead"] * MILLION / gb
    served = stored["served_bytes_per_request"] * MILLION / gb
    print("\n  storage (item and object sizes measured from what the flows wrote; DynamoDB with index copies and")
    print("  100 B per item, priced with point-in-time recovery, which every table has):")
    rows = (
        ("DynamoDB, API leads (lead + score + aggregates), kept", api, dynamo_month),
        ("DynamoDB, bulk leads (lead + score items), kept", bulk, dynamo_month),
        ("DynamoDB, idempotency records of their events (19 days)", idempotency, dynamo_month),
        ("S3, bulk upload (90 days) + results and errors (30 days)", results, prices.S3_STORAGE_GB_MONTH),
        ("DynamoDB, served recommendations per M GETs (180 days)", served, dynamo_month),
    )
    for name, size, price in rows:
        print(f"    {name:<60} {size:8.3f} GB per M   {_money(size * price):>8} per month kept")


def _assumptions(result: dict[str, Any], functions: Mapping[str, Function]) -> None:
    memory = ", ".join(f"{name} {f.memory_mb} MB" for name, f in functions.items())
    architectures = sorted({f.architecture for f in functions.values()})
    print("\n  assumptions (all from template.yaml or this run unless said):")
    print(f"    - {result['events_per_lead']} interactions per lead, one POST /v1/events each; 1 webhook endpoint per "
          "tenant subscribed to lead.scored, lead.score_changed and bulk.completed, answering 2xx first time")  # fmt: skip
    print(f"    - Lambda: {'/'.join(architectures)} (template), memory {memory}; duration = this machine's handler wall "
          "time in one process against moto on loopback, an estimate (the ms above), billed per started ms")  # fmt: skip
    print("    - no free tiers; first price tiers; SNS->SQS fan-out and S3->SQS notifications not charged by SNS/S3, "
          "and their SQS side not counted; SQS requests include Lambda's receives and deletes for each batch "
          "(as batched here: queues were drained in one go), not its idle long polls")  # fmt: skip
    print("    - DynamoDB units computed from item sizes by DynamoDB's rules (moto reports constants); bulk "
          "BatchWriteItem upserts priced as new items; index writes at standard (not transactional) rate")  # fmt: skip
    print("    - CloudWatch Logs: the functions' log bytes at their configured level plus Lambda's START/END/REPORT "
          "(and X-Ray) lines; X-Ray traces, KMS requests for the encrypted topic, data transfer out and the "
          "authorizer's per-key cache (300 s) at production key counts are not priced")  # fmt: skip
    print(f"  (cost model: {result['seconds']:.0f} s; {result['leads']} API leads, {result['bulk_rows']:,}-row bulk "
          f"file, {result['rec_requests']} recommendation GETs per variant)")  # fmt: skip


if __name__ == "__main__":
    report(measure())
