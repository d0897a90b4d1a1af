"""A monitoring run over 100,000 scored leads: its run time and peak memory, through moto and in memory.

    python -m bench.monitoring        # also part of `make bench`; BENCH_MONITOR_ROWS (default 100,000)

BENCH_MONITOR_ROWS generated leads (drawn as the training data was, dated inside the window) are scored by the
shipped model through the batch path and stored as the bulk function stores them (lead, score and history items,
`storage.lead_items.put_requests`) in the local cloud's LeadsTable, with an outcome for every tenth lead. Then the
monitor function's `Monitor`, wired to those tables as `composition.monitor_runner` wires it, runs for the tenant:

- through moto: the run as the function makes it (TenantIndex pages, BatchGetItem of lead and score items,
  the outcomes' served scores, the run stored); moto serves from a process of its own, on the same two cores;
- in memory: the same run over the same leads held in lists, the monitor's own cost (counting the input codes
  into bins, PSI, AUC, calibration);
- peak memory: the Python allocations of each run (tracemalloc, a second run: tracing slows the first).
"""

from __future__ import annotations

import os
import time
import tracemalloc
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

from aiqleads.composition import default_scorer
from aiqleads.models import Conversion, Outcome
from aiqleads.monitoring.runner import Monitor, MonitorConfig
from aiqleads.notifications.alerts import Alert
from aiqleads.scoring.batch import score_table
from aiqleads.storage.aws import new_client
from aiqleads.storage.batch import write_slices
from aiqleads.storage.lead_items import put_requests
from aiqleads.storage.leads import LeadBatchWriter, LeadHistoryReader, LeadRepository
from aiqleads.storage.monitoring import MonitorRunRepository
from aiqleads.storage.open_leads import OpenLeadReader, ServedScoreReader
from aiqleads.storage.shadow import ShadowScoreReader
from aiqleads_offline.generate import generate_table
from infra.local_cloud import LocalCloud

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
TENANT = "bench-monitor"


class _NoAlerts:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def publish(self, alert: Alert) -> None:
        self.sent.append(alert)


class _Models:
    def scorer(self, tenant_id: str) -> Any:
        return default_scorer()

    def shadow(self, tenant_id: str) -> Any:
        return None


def _leads(rows: int) -> pa.Table:
    """Generated leads, each moved forward by whole weeks into the last seven days (weekday and hour kept)."""
    now = datetime.now(UTC)
    start, week = now - timedelta(days=7) + timedelta(minutes=5), timedelta(days=7)
    table = generate_table(rows, 91, invalid_rate=0.0).drop_columns(["converted"])
    moved: list[str | None] = []
    for text in table["created_at"].to_pylist():
        if text is None:
            moved.append(None)
            continue
        created = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moved.append((created + max(0, -(-(start - created) // week)) * week).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return table.set_column(table.schema.get_field_index("created_at"), "created_at", pa.array(moved, pa.string()))


def _store(cloud: LocalCloud, table: pa.Table) -> tuple[str, str]:
    leads_table = cloud.resources.tables["LeadsTable"]
    dynamodb = new_client("dynamodb", **_endpoint(cloud))
    scorer = default_scorer()
    writer = LeadBatchWriter(leads_table, dynamodb)
    for start in range(0, table.num_rows, 10_000):
        scored = score_table(scorer, table.slice(start, 10_000), start + 1)
        requests = put_requests(TENANT, scored)
        with ThreadPoolExecutor(4) as pool:  # as the bulk job writes: a few threads of whole chunks
            list(pool.map(writer.write_requests, write_slices(requests, 4)))
    ids = table["id"].to_pylist()[::10]
    repository = LeadRepository(leads_table, dynamodb=dynamodb)
    at = datetime.now(UTC) - timedelta(hours=1)
    for index, lead_id in enumerate(ids):
        outcome = Outcome.CONVERTED if index % 7 == 0 else Outcome.LOST
        repository.put_conversion(TENANT, Conversion(lead_id=lead_id, outcome=outcome, at=at))
    return leads_table, cloud.resources.tables["MonitoringTable"]


def _endpoint(cloud: LocalCloud) -> dict[str, Any]:
    info = cloud.info()
    return {
        "endpoint_url": info["aws_endpoint_url"],
        "region_name": info["region"],
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def _timed(run: Callable[[], Any]) -> tuple[float, float]:
    """Seconds of one run, then the peak traced allocation (MB) of a second."""
    start = time.perf_counter()
    run()
    seconds = time.perf_counter() - start
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak / 1e6


def measure(rows: int | None = None) -> dict[str, float]:
    rows = rows or int(os.environ.get("BENCH_MONITOR_ROWS", "100000"))
    table = _leads(rows)
    with LocalCloud(TEMPLATE, port=0, run_functions=False, demo=False) as cloud:
        leads_table, monitoring_table = _store(cloud, table)
        dynamodb = new_client("dynamodb", **_endpoint(cloud))
        stored = Monitor(
            models=_Models(),
            leads=OpenLeadReader(leads_table, dynamodb),
            outcomes=LeadHistoryReader(leads_table, dynamodb),
            served=ServedScoreReader(leads_table, dynamodb),
            shadow_pairs=ShadowScoreReader(leads_table, dynamodb),
            runs=MonitorRunRepository(monitoring_table, dynamodb=dynamodb),
            alerts=_NoAlerts(),
            config=MonitorConfig(),
        )
        first = stored.run(TENANT, run_id=f"mon-{uuid.uuid4().hex[:8]}")
        assert first.production.leads == rows, first.production.leads
        moto_s, moto_mb = _timed(lambda: stored.run(TENANT))

        pages: list[Any] = []
        after = None
        while True:
            page, after = stored.leads.page(TENANT, first.window_start, 1000, after)
            pages += page
            if after is None:
                break
        outcomes = stored.outcomes.outcomes(TENANT, first.window_start)
        served = stored.served.served(TENANT, [o.lead_id for o in outcomes])
    memory = Monitor(
        models=_Models(),
        leads=_Pages(pages),
        outcomes=_Fixed(outcomes),
        served=_Fixed(served),
        shadow_pairs=_Fixed([]),
        runs=_Runs(),
        alerts=_NoAlerts(),
        config=MonitorConfig(),
    )
    memory_s, memory_mb = _timed(lambda: memory.run(TENANT))
    return {
        "rows": rows,
        "outcomes": first.production.performance.outcomes,
        "moto_s": moto_s,
        "moto_peak_mb": moto_mb,
        "memory_s": memory_s,
        "memory_peak_mb": memory_mb,
        "psi_max": first.production.psi_max or 0.0,
        "live_auc": first.production.performance.roc_auc.value or 0.0,
    }


class _Pages:
    def __init__(self, leads: list[Any]) -> None:
        self.leads = leads

    def page(self, tenant_id: str, since: datetime, limit: int, after: dict[str, str] | None = None) -> Any:
        start = int(after["at"]) if after else 0
        rest = start + limit
        return self.leads[start:rest], ({"at": str(rest)} if rest < len(self.leads) else None)


class _Fixed:
    def __init__(self, value: Any) -> None:
        self.value = value

    def outcomes(self, tenant_id: str, since: datetime | None = None) -> Any:
        return self.value

    def served(self, tenant_id: str, lead_ids: Any) -> Any:
        return self.value

    def pairs(self, tenant_id: str, version: str) -> Any:
        return self.value


class _Runs:
    def save(self, run: Any) -> None:
        pass

    def mark_alert(self, *args: Any) -> bool:
        return True

    def unmark_alert(self, *args: Any) -> None:
        pass


def report(figures: dict[str, float], line: Callable[[str, str, str, bool | None], str]) -> None:
    rows = int(figures["rows"])
    print(f"\nModel monitoring, one run over {rows:,} scored leads ({int(figures['outcomes']):,} outcomes):")
    print(line("through moto (read, count, store)", f"{figures['moto_s']:.1f} s", "", None))
    print(line("  leads per second", f"{rows / figures['moto_s']:,.0f}", "", None))
    print(line("  peak Python memory", f"{figures['moto_peak_mb']:.0f} MB", "", None))
    print(line("in memory (the monitor's own work)", f"{figures['memory_s']:.2f} s", "", None))
    print(line("  peak Python memory", f"{figures['memory_peak_mb']:.0f} MB", "", None))
    print(line("  share of the run", f"{figures['memory_s'] / figures['moto_s']:.1%}", "", None))
    print(line("psi max / live ROC AUC", f"{figures['psi_max']:.3f} / {figures['live_auc']:.3f}", "", None))


def _line(name: str, value: str, target: str, ok: bool | None) -> str:
    return f"  {name:<52} {value:>16}   {target:<22}"


if __name__ == "__main__":
    report(measure(), _line)
