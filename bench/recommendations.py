"""Recommendation latency (issue 4 item 7): one page of 20 from 100,000 leads in 10 markets, through the local cloud.

    python -m bench.recommendations            # also part of `make bench` (bench/run_all.py)

A local cloud (moto on 127.0.0.1 with the query accelerator, the template's tables, the API and its functions) gets
tenant `bench` with an enterprise API key, three buyers (basic: 1 market, pro: 3, enterprise: all 10) and
BENCH_RECS_LEADS (default 100,000) generated leads spread evenly over 10 markets, written as the score items the
ScoreIndex serves (the lead's card rides on them; the probability is drawn, not scored by the model: this measures
the read path, not scoring). Seeding uses BatchWriteItem from threads and is timed.

Then, per buyer, one page of 20: in-process (RecommendationService without the candidate cache, with the
functions' DynamoDB client on the local endpoint; the share of the time inside boto3 calls, as the union of the
call intervals, is the data store's, the rest is ours) and end to end over HTTP through the local API
(GET /v1/recommendations with the API key): as deployed (the API function keeps each market's candidates for
CANDIDATE_CACHE_SECONDS, so all but the first request of a period reuse them) and with that cache cleared before
every request (every market read from the ScoreIndex, as on a cold function). Scaling check: one
ScoreIndex page query (Limit 100) at 10% and at 100% of the leads, with the accelerator and with plain moto
(AIQLEADS_MOTO_ACCELERATOR=0, a second moto with only LeadsTable; BENCH_RECS_PLAIN=0 skips it).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from aiqleads.api import context as api_context
from aiqleads.models import Buyer, Tier
from aiqleads.recommendations.candidate_cache import CachedCandidates
from aiqleads.recommendations.card import LeadCard
from aiqleads.recommendations.service import RecommendationService
from aiqleads.storage.aws import new_client
from aiqleads.storage.batch import batch_put
from aiqleads.storage.buyers import BuyerRepository
from aiqleads.storage.recommendations import CandidateRepository, MarketplaceRepository
from aiqleads.validation.flat import lead_from_flat
from aiqleads_offline.generate import generate_table
from infra.local_cloud import LocalCloud
from infra.local_cloud.demo import key_service
from infra.local_cloud.server import DUMMY_CREDENTIALS, REGION, LocalAwsServer
from infra.template import load_template

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
TENANT = "bench"
MARKETS = (
    "las-vegas", "dallas-fort-worth", "austin", "phoenix", "boise",
    "tucson", "reno", "el-paso", "albuquerque", "salt-lake-city",
)  # fmt: skip
PAGE = 20
TARGET_P95_MS = 100.0
BUYERS = (
    Buyer(id="bench-basic", tier=Tier.BASIC, authorised_markets=["austin"]),
    Buyer(id="bench-pro", tier=Tier.PRO, authorised_markets=["austin", "phoenix", "boise"]),
    Buyer(id="bench-enterprise", tier=Tier.ENTERPRISE, authorised_markets=list(MARKETS)),
)
REASONS = json.dumps([{"feature": "timeline", "direction": "up", "text": "Timeline: asap", "impact": 0.4}])


def score_items(count: int, seed: int = 20261126) -> list[dict[str, Any]]:
    """`count` generated leads as ScoreIndex items of tenant `bench`, evenly over MARKETS."""
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    table = generate_table(count, seed, invalid_rate=0.0)
    for index, row in enumerate(table.to_pylist()):
        market = MARKETS[index % len(MARKETS)]
        row["market"] = market
        lead = lead_from_flat(row)
        lead_id = f"{lead.id}-{index}"
        probability = round(rng.betavariate(2, 5), 4)
        score = round(probability * 100)
        items.append(
            {
                "pk": f"{TENANT}#{lead_id}",
                "sk": "score",
                "tenant_id": TENANT,
                "lead_id": lead_id,
                "market": market,
                "probability": probability,
                "score": score,
                "grade": "A" if score >= 40 else "B" if score >= 20 else "C" if score >= 10 else "D",
                "reasons": REASONS,
                "model_version": "2.0.0",
                "scored_at": "2026-01-01T00:00:00Z",
                "gsi1pk": f"{TENANT}#{market}",
                "gsi1sk": f"{score:03d}#{lead_id}",
                "card": json.dumps(LeadCard.of(lead).as_dict(), separators=(",", ":")),
            }
        )
    return items


def seed(dynamodb_factory: Callable[[], Any], table: str, items: Sequence[dict[str, Any]], threads: int = 4) -> float:
    """BatchWriteItem from `threads` threads (a client each); returns the seconds it took."""
    started = time.perf_counter()
    chunk = max(1, len(items) // (threads * 8))
    local = threading.local()

    def write(part: Sequence[dict[str, Any]]) -> int:
        if not hasattr(local, "client"):
            local.client = dynamodb_factory()
        return batch_put(local.client, table, part)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(write, [items[i : i + chunk] for i in range(0, len(items), chunk)]))
    return time.perf_counter() - started


def _percentiles(values_ms: Sequence[float]) -> dict[str, float]:
    array = np.array(values_ms)
    return {
        "p50_ms": float(np.percentile(array, 50)),
        "p95_ms": float(np.percentile(array, 95)),
        "p99_ms": float(np.percentile(array, 99)),
        "samples": len(values_ms),
    }


def _query_page_ms(dynamodb: Any, table: str, market: str, samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        dynamodb.query(
            TableName=table,
            IndexName="ScoreIndex",
            KeyConditionExpression="gsi1pk = :m",
            ExpressionAttributeValues={":m": {"S": f"{TENANT}#{market}"}},
            ScanIndexForward=False,
            Limit=100,
        )
        times.append((time.perf_counter() - started) * 1000)
    return float(np.median(times))


class _TimedClient:
    """Records the interval of every boto3 call of a client (the data store's share of a request)."""

    def __init__(self, client: Any) -> None:
        self.intervals: list[tuple[float, float]] = []
        original = client._make_api_call

        def timed(operation: str, params: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return original(operation, params)
            finally:
                self.intervals.append((started, time.perf_counter()))

        client._make_api_call = timed
        self.client = client

    def busy_seconds(self, since: float) -> float:
        """The union of the call intervals since `since` (parallel market queries overlap)."""
        total, end = 0.0, since
        for start, stop in sorted(i for i in self.intervals if i[0] >= since):
            if stop > end:
                total += stop - max(start, end)
                end = stop
        return total


def _mapper(pool: ThreadPoolExecutor) -> Callable[[Callable[[str], Any], Sequence[str]], Iterable[Any]]:
    def mapped(function: Callable[[str], Any], items: Sequence[str]) -> Iterable[Any]:
        return list(pool.map(function, items)) if len(items) > 1 else [function(i) for i in items]

    return mapped


def _http_page_ms(
    api_url: str, api_key: str, buyer_id: str, samples: int, before_each: Callable[[], None] | None = None
) -> list[float]:
    parts = urlsplit(api_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    path = f"{parts.path}/v1/recommendations?buyer_id={buyer_id}&limit={PAGE}"
    times: list[float] = []
    while len(times) < samples:
        if before_each is not None:
            before_each()
        started = time.perf_counter()
        connection.request("GET", path, headers={"x-api-key": api_key})
        response = connection.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - started
        if response.status == 429:  # the enterprise plan's rate: wait as told, the sample does not count
            time.sleep(float(response.getheader("Retry-After") or 1))
            continue
        if response.status != 200 or len(json.loads(body)["data"]) != PAGE:
            raise RuntimeError(f"GET {path}: {response.status} {body[:300]!r}")
        times.append(elapsed * 1000)
        time.sleep(max(0.0, 0.07 - elapsed))  # under 1,000 requests/min: no throttling in the figures
    connection.close()
    return times


def measure_plain(items: Sequence[dict[str, Any]]) -> dict[str, float]:
    """ScoreIndex page query on plain moto (no accelerator) at 10% and 100% of the leads."""
    properties = load_template(TEMPLATE)["Resources"]["LeadsTable"]["Properties"]
    figures: dict[str, float] = {}
    with LocalAwsServer(port=0, environment={"AIQLEADS_MOTO_ACCELERATOR": "0"}) as server:
        dynamodb = server.client("dynamodb")
        dynamodb.create_table(
            TableName="Leads",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            GlobalSecondaryIndexes=properties["GlobalSecondaryIndexes"],
        )
        tenth = len(items) // 10
        seed(lambda: server.client("dynamodb"), "Leads", items[:tenth])
        figures["query_small_ms"] = _query_page_ms(dynamodb, "Leads", "austin", 3)
        seed(lambda: server.client("dynamodb"), "Leads", items[tenth:])
        figures["query_full_ms"] = _query_page_ms(dynamodb, "Leads", "austin", 2)
    return figures


def measure(leads: int | None = None, samples: int | None = None, plain: bool | None = None) -> dict[str, Any]:
    leads = leads or int(os.environ.get("BENCH_RECS_LEADS", "100000"))
    samples = samples or int(os.environ.get("BENCH_RECS_SAMPLES", "20"))
    if plain is None:
        plain = os.environ.get("BENCH_RECS_PLAIN", "1") != "0"
    started = time.perf_counter()
    items = score_items(leads)
    result: dict[str, Any] = {"leads": leads, "markets": len(MARKETS), "generate_s": time.perf_counter() - started}
    with LocalCloud(TEMPLATE, port=0, demo=False) as cloud:
        resources = cloud.resources
        admin = cloud.client("dynamodb")
        keys = key_service(cloud)  # registered in API Gateway's usage plan too, or the gateway refuses it
        keys.ensure_tenant(TENANT)
        key = keys.issue(TENANT, Tier.ENTERPRISE, name="bench").api_key
        BuyerRepository(resources.ref("BuyersTable"), admin).put_many(TENANT, BUYERS)
        result.update(_seed_with_scaling(cloud, items))
        result["in_process"] = _in_process(cloud, samples)
        result["http"], result["http_cold"] = _over_http(cloud, key, samples)
    if plain:
        result["plain"] = measure_plain(items)
    result["total_s"] = time.perf_counter() - started
    return result


def _seed_with_scaling(cloud: LocalCloud, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Seed a tenth, time a page, seed the rest, time it again: the page must not grow with the table."""
    leads_table = cloud.resources.ref("LeadsTable")
    admin = cloud.client("dynamodb")
    tenth = len(items) // 10
    first = seed(lambda: cloud.client("dynamodb"), leads_table, items[:tenth])
    _query_page_ms(admin, leads_table, "austin", 1)  # builds the partition cache
    small = _query_page_ms(admin, leads_table, "austin", 20)
    rest = seed(lambda: cloud.client("dynamodb"), leads_table, items[tenth:])
    _query_page_ms(admin, leads_table, "austin", 1)
    return {
        "seed_s": first + rest,
        "seed_items_per_s": len(items) / (first + rest),
        "scaling": {"query_small_ms": small, "query_full_ms": _query_page_ms(admin, leads_table, "austin", 20)},
    }


def _in_process(cloud: LocalCloud, samples: int) -> dict[str, Any]:
    """The service with the functions' own DynamoDB client and no candidate cache, and the data store's share."""
    leads_table, buyers_table = cloud.resources.ref("LeadsTable"), cloud.resources.ref("BuyersTable")
    timed = _TimedClient(
        new_client("dynamodb", endpoint_url=cloud.server.endpoint_url, region_name=REGION, **DUMMY_CREDENTIALS)
    )
    figures_by_tier: dict[str, Any] = {}
    with ThreadPoolExecutor(8, thread_name_prefix="markets") as pool:
        service = RecommendationService(
            store=MarketplaceRepository(buyers_table, leads_table, timed.client),
            candidates=CandidateRepository(leads_table, timed.client),
            mapper=_mapper(pool),
        )
        for buyer in BUYERS:
            for _ in range(3):  # warm: partition caches, connections, the tenant's config
                service.recommend(TENANT, buyer.id, limit=PAGE)
            totals, store = [], []
            for _ in range(samples):
                begin = time.perf_counter()
                page = service.recommend(TENANT, buyer.id, limit=PAGE)
                total = time.perf_counter() - begin
                assert len(page.data) == PAGE, (buyer.id, len(page.data))
                totals.append(total * 1000)
                store.append(timed.busy_seconds(begin) * 1000)
            figures = _percentiles(totals)
            figures["store_share"] = sum(store) / sum(totals)
            figures["markets"] = len(page.meta.markets)
            figures["candidates"] = page.meta.candidates
            figures_by_tier[buyer.tier.value] = figures
    return figures_by_tier


def _over_http(cloud: LocalCloud, key: str, samples: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Through the local API as deployed, and with the candidate cache cleared before every request."""
    api_url = cloud.info()["api_url"]
    # The API function runs in this process: its candidate cache (recommendations/candidate_cache.py) is
    # this one, and clearing it before a request makes that request read every market from the ScoreIndex.
    cache = api_context.recommendations().candidates
    if not isinstance(cache, CachedCandidates):
        raise RuntimeError("the API function's recommendation service has no candidate cache")
    deployed: dict[str, Any] = {}
    cleared: dict[str, Any] = {}
    for buyer in BUYERS:
        _http_page_ms(api_url, key, buyer.id, 3)
        deployed[buyer.tier.value] = _percentiles(_http_page_ms(api_url, key, buyer.id, samples))
        cleared[buyer.tier.value] = _percentiles(
            _http_page_ms(api_url, key, buyer.id, samples, before_each=cache.clear)
        )
    return deployed, cleared


def report(result: dict[str, Any], line: Callable[[str, str, str, bool | None], str]) -> None:
    print(
        f"\nRecommendations, one page of {PAGE} from {result['leads']:,} leads in {result['markets']} markets "
        "(local cloud, moto with the query accelerator):"
    )
    print(line("seeding (BatchWriteItem, 4 threads)", f"{result['seed_s']:.1f} s", "", None))
    print(line("  items/s", f"{result['seed_items_per_s']:,.0f}", "", None))
    for tier, figures in result["in_process"].items():
        name = f"in-process, {tier} buyer ({figures['markets']} markets), no cache"
        print(line(f"{name} p50", f"{figures['p50_ms']:.1f} ms", "", None))
        print(line(f"{name} p99", f"{figures['p99_ms']:.1f} ms", "", None))
        print(line("  share in the data store (boto3 calls)", f"{figures['store_share']:.0%}", "", None))
    for tier, figures in result["http_cold"].items():
        name = f"over HTTP, {tier} buyer, candidate cache cleared"
        print(line(f"{name} p50", f"{figures['p50_ms']:.1f} ms", "", None))
        print(line(f"{name} p95", f"{figures['p95_ms']:.1f} ms", "", None))
    for tier, figures in result["http"].items():
        name = f"end to end over HTTP, {tier} buyer"
        print(line(f"{name} p50", f"{figures['p50_ms']:.1f} ms", "", None))
        print(
            line(
                f"{name} p95",
                f"{figures['p95_ms']:.1f} ms",
                f"< {TARGET_P95_MS:.0f} ms",
                figures["p95_ms"] < TARGET_P95_MS,
            )
        )
        print(line(f"{name} p99", f"{figures['p99_ms']:.1f} ms", "", None))
    scaling = result["scaling"]
    ratio = scaling["query_full_ms"] / scaling["query_small_ms"]
    tenth = result["leads"] // 10
    print(line(f"ScoreIndex page (100) at {tenth:,} leads", f"{scaling['query_small_ms']:.1f} ms", "", None))
    print(line(f"ScoreIndex page (100) at {result['leads']:,} leads", f"{scaling['query_full_ms']:.1f} ms", "", None))
    print(line("  growth for 10x the leads", f"{ratio:.1f}x", "<= 2x", ratio <= 2))
    if "plain" in result:
        plain = result["plain"]
        print(line(f"plain moto: ScoreIndex page at {tenth:,} leads", f"{plain['query_small_ms']:.0f} ms", "", None))
        print(
            line(
                f"plain moto: ScoreIndex page at {result['leads']:,} leads",
                f"{plain['query_full_ms']:.0f} ms",
                "",
                None,
            )
        )
    print(f"  (recommendations bench: {result['total_s']:.0f} s)")


def line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    return f"  {name:<52} {value:>16}   {target:<22} {verdict}"


if __name__ == "__main__":
    report(measure(), line)
