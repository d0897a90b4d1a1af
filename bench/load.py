"""Load on the local API (issue 15 item 5): BENCH_LOAD_REQUESTS mixed reads and writes from BENCH_LOAD_CONCURRENCY
connections at once, over loopback HTTP through the local gateway, as API Gateway would serve them.

    python -m bench.load                     # also part of `make bench` (bench/run_all.py)

A local cloud (moto on 127.0.0.1, the template's tables and queues, the API and its functions, the queue pollers)
gets tenant `load` with three buyers and one enterprise API key per connection, so every connection has its own
usage-plan budget (16.67 requests/s after a burst of 50: a 429 only past that). The load itself runs in a child
process (`--drive`), so the client does not share the gateway's interpreter lock; each connection is a keep-alive
`http.client` connection that never retries. The mix per request: POST /v1/leads with a fresh id (3 in 10),
GET /v1/leads/{id} and GET /v1/leads/{id}/score of a lead this connection created (2 and 2 in 10), and
GET /v1/recommendations for a buyer (3 in 10).

Figures: throughput, p50/p99 latency, the count per status, the errors (any status but 2xx and 429; a POST of a
fresh id answered 409 would be a request executed twice) and dropped connections (closed, reset or timed out
without a response).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from aiqleads.models import Buyer, Tier
from aiqleads.storage.buyers import BuyerRepository
from infra.local_cloud import LocalCloud
from infra.local_cloud.demo import key_service

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
TENANT = "load"
DEFAULT_REQUESTS = 5_000
DEFAULT_CONCURRENCY = 50
RESPONSE_TIMEOUT_S = 60.0  # well past the API function's Timeout (25 s): a timeout here is a request left unanswered
MARKETS = ("las-vegas", "austin", "phoenix")
BUYERS = (
    Buyer(id="load-basic", tier=Tier.BASIC, authorised_markets=["austin"]),
    Buyer(id="load-pro", tier=Tier.PRO, authorised_markets=list(MARKETS)),
    Buyer(id="load-enterprise", tier=Tier.ENTERPRISE, authorised_markets=list(MARKETS)),
)


def lead_body(lead_id: str, rng: random.Random) -> dict[str, Any]:
    return {
        "id": lead_id,
        "source": "zillow",
        "created_at": "2026-11-20T10:00:00Z",
        "contact": {"name": "Load Test", "email": "load@example.com", "phone": "+1 702 555 0100"},
        "property": {
            "type": "single_family",
            "price": rng.randrange(150_000, 900_000, 1_000),
            "beds": rng.randint(1, 5),
            "baths": rng.randint(1, 4),
            "sqft": rng.randrange(700, 4_000, 10),
            "lat": 36.17,
            "lon": -115.14,
            "market": rng.choice(MARKETS),
        },
        "intent": rng.choice(["sell", "buy"]),
        "timeline": rng.choice(["0-3 months", "3-6 months", "6-12 months"]),
        "description": "Load bench lead",
    }


# ------------------------------------------------------------------------------------------------ the client


class _Connection:
    """One keep-alive connection and the leads it created; never retries (a retry would hide a dropped request)."""

    def __init__(self, host: str, port: int, base: str, api_key: str, seed: int) -> None:
        self.host, self.port, self.base, self.api_key = host, port, base, api_key
        self.rng = random.Random(seed)
        self.leads: list[str] = []
        self.http: http.client.HTTPConnection | None = None

    def _request(self) -> tuple[str, str, str, bytes | None]:
        """(kind, method, path, body) of the next request."""
        draw = self.rng.random()
        if draw < 0.3 or not self.leads:
            lead_id = f"load-{uuid.uuid4()}"
            return "POST /v1/leads", "POST", "/v1/leads", json.dumps(lead_body(lead_id, self.rng)).encode()
        if draw < 0.5:
            return "GET /v1/leads/{id}", "GET", f"/v1/leads/{self.rng.choice(self.leads)}", None
        if draw < 0.7:
            return "GET /v1/leads/{id}/score", "GET", f"/v1/leads/{self.rng.choice(self.leads)}/score", None
        buyer = self.rng.choice(BUYERS).id
        return "GET /v1/recommendations", "GET", f"/v1/recommendations?buyer_id={buyer}&limit=20", None

    def one(self) -> tuple[str, float, str]:
        """(what, seconds, outcome): outcome is the status, or `dropped: <error>`."""
        kind, method, path, body = self._request()
        headers = {"x-api-key": self.api_key, "content-type": "application/json"}
        if self.http is None:
            self.http = http.client.HTTPConnection(self.host, self.port, timeout=RESPONSE_TIMEOUT_S)
        started = time.perf_counter()
        try:
            self.http.request(method, self.base + path, body=body, headers=headers)
            response = self.http.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.http.close()
            self.http = None
            return kind, time.perf_counter() - started, f"dropped: {error!r}"
        elapsed = time.perf_counter() - started
        if response.will_close:
            self.http.close()
            self.http = None
        if method == "POST" and response.status == 201:
            self.leads.append(json.loads(payload)["lead_id"])
        if response.status >= 400 and response.status != 429:
            return kind, elapsed, f"{response.status} {method} {path} {payload[:200]!r}"
        return kind, elapsed, str(response.status)


def drive(plan: dict[str, Any]) -> dict[str, Any]:
    """Send `plan['requests']` requests from `len(plan['keys'])` connections at once; the figures."""
    parts = urlsplit(plan["api_url"])
    keys: list[str] = plan["keys"]
    total: int = plan["requests"]
    connections = [
        _Connection(parts.hostname or "127.0.0.1", parts.port or 80, parts.path, key, index)
        for index, key in enumerate(keys)
    ]
    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = {}
    outcomes: Counter[str] = Counter()
    samples: dict[str, str] = {}

    def work(connection: _Connection) -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            what, seconds, outcome = connection.one()
            status = outcome.split(" ", 1)[0].rstrip(":")
            with lock:
                latencies.append(seconds)
                by_kind.setdefault(what if status.startswith("2") else status, []).append(seconds)
                outcomes[status] += 1
                if not status.startswith("2") and status != "429":
                    samples.setdefault(status, f"{what}: {outcome}")

    started = time.perf_counter()
    with ThreadPoolExecutor(len(connections)) as pool:
        list(pool.map(work, connections))
    elapsed = time.perf_counter() - started
    array = np.array(latencies) * 1000
    errors = sum(n for status, n in outcomes.items() if not status.startswith("2") and status not in {"429", "dropped"})
    return {
        "requests": total,
        "concurrency": len(connections),
        "seconds": elapsed,
        "throughput_rps": total / elapsed,
        "p50_ms": float(np.percentile(array, 50)),
        "p99_ms": float(np.percentile(array, 99)),
        "by_status": dict(sorted(outcomes.items())),
        "errors": errors,
        "throttled": outcomes.get("429", 0),
        "dropped": outcomes.get("dropped", 0),
        "samples": samples,
        "p50_ms_by_kind": {kind: float(np.percentile(np.array(v) * 1000, 50)) for kind, v in sorted(by_kind.items())},
    }


# ------------------------------------------------------------------------------------------------ the bench


def _drive_in_child(plan: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--drive"],
        input=json.dumps(plan),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=3_600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load driver failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def measure(requests: int | None = None, concurrency: int | None = None) -> dict[str, Any]:
    requests = requests or int(os.environ.get("BENCH_LOAD_REQUESTS", str(DEFAULT_REQUESTS)))
    concurrency = concurrency or int(os.environ.get("BENCH_LOAD_CONCURRENCY", str(DEFAULT_CONCURRENCY)))
    with LocalCloud(TEMPLATE, port=0, demo=False) as cloud:
        keys = key_service(cloud)  # registered in API Gateway's usage plan too, or the gateway refuses it
        keys.ensure_tenant(TENANT)
        api_keys = [keys.issue(TENANT, Tier.ENTERPRISE, name=f"load-{n}").api_key for n in range(concurrency)]
        BuyerRepository(cloud.resources.ref("BuyersTable"), cloud.client("dynamodb")).put_many(TENANT, BUYERS)
        return _drive_in_child({"api_url": cloud.info()["api_url"], "keys": api_keys, "requests": requests})


def report(result: dict[str, Any], line: Callable[[str, str, str, bool | None], str]) -> None:
    print(
        f"\nLoad on the local API: {result['requests']:,} mixed requests, {result['concurrency']} connections at once "
        "(3/10 POST /v1/leads, 4/10 lead reads, 3/10 recommendations):"
    )
    print(line("throughput", f"{result['throughput_rps']:,.0f} req/s", "", None))
    print(line("p50", f"{result['p50_ms']:.0f} ms", "", None))
    print(line("p99", f"{result['p99_ms']:.0f} ms", "", None))
    statuses = ", ".join(f"{status}: {count:,}" for status, count in result["by_status"].items())
    print(line("responses by status", statuses, "", None))
    print(line("errors (not 2xx, not 429)", f"{result['errors']:,}", "== 0", result["errors"] == 0))
    print(line("dropped connections (no response)", f"{result['dropped']:,}", "== 0", result["dropped"] == 0))
    for kind, p50 in result["p50_ms_by_kind"].items():
        print(line(f"  p50 of {kind}", f"{p50:.0f} ms", "", None))
    for status, sample in result["samples"].items():
        print(f"    e.g. {status}: {sample[:300]}")


def line(name: str, value: str, target: str, ok: bool | None) -> str:
    verdict = "" if ok is None else ("met" if ok else "MISSED")
    return f"  {name:<52} {value:>16}   {target:<22} {verdict}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--drive"]:
        print(json.dumps(drive(json.loads(sys.stdin.read()))))
    else:
        report(measure(), line)
