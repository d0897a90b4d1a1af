"""Per-lead scoring latency (validate + features + infer + grade + reasons) against a bare ONNX run."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np

from aiqleads.models import Lead
from aiqleads.scoring.artifact import load_artifact
from aiqleads.scoring.scorer import Scorer
from aiqleads.validation.columnar import record_values
from aiqleads_offline.generate import generate_table

SIGNALS = ("views", "clicks", "inquiries", "messages", "schedules", "sessions", "minutes_to_first_contact")


@dataclass(frozen=True)
class Latency:
    p50_us: float
    p99_us: float


def _wire(row: dict) -> tuple[bytes, dict]:
    """A generated flat row as the API receives it: the nested wire JSON plus stored behaviour aggregates."""
    values = row
    wire = {
        "id": values["id"],
        "source": values["source"],
        "created_at": values["created_at"],
        "contact": {k: values[k] for k in ("name", "email", "phone") if values[k] is not None},
        "property": {
            "type": values["property_type"],
            "price": values["price"],
            "beds": int(values["beds"]) if values["beds"] is not None else None,
            "baths": values["baths"],
            "sqft": values["sqft"],
            "lat": values["lat"],
            "lon": values["lon"],
            "market": values["market"],
        },
        "intent": values["intent"],
        "timeline": values["timeline"],
        "description": values["description"],
    }
    signals = {k: values[k] for k in SIGNALS}
    return json.dumps(wire, default=str).encode(), signals


def measure(samples: int = 5000) -> dict[str, float]:
    scorer = Scorer(load_artifact())
    spec = scorer.spec
    table = generate_table(samples, 7, invalid_rate=0.0)
    requests = [_wire(record_values(row, spec)) for row in table.to_pylist()]
    session, input_name, output_name = scorer.artifact.session, scorer.artifact.input_name, scorer.artifact.output_name
    one_row = scorer.record_features.vector(record_values(table.slice(0, 1).to_pylist()[0], spec))

    def full(i: int) -> None:
        wire, signals = requests[i]
        scorer.score_lead(Lead.model_validate_json(wire), signals)

    def bare(_: int) -> None:
        session.run([output_name], {input_name: one_row})

    for i in range(500):
        full(i)
        bare(i)
    full_ns, bare_ns = [], []
    # Side by side in alternating blocks, so both see the same machine state; within a block each path runs
    # back to back as a service would run it, rather than each call evicting the other's caches.
    block = 200
    for first in range(0, samples, block):
        for i in range(first, min(first + block, samples)):
            start = time.perf_counter_ns()
            full(i)
            full_ns.append(time.perf_counter_ns() - start)
        for i in range(first, min(first + block, samples)):
            start = time.perf_counter_ns()
            bare(i)
            bare_ns.append(time.perf_counter_ns() - start)
    full_arr, bare_arr = np.array(full_ns) / 1000, np.array(bare_ns) / 1000
    return {
        "per_lead_p50_us": float(np.percentile(full_arr, 50)),
        "per_lead_p99_us": float(np.percentile(full_arr, 99)),
        "bare_run_p50_us": float(np.percentile(bare_arr, 50)),
        "bare_run_p99_us": float(np.percentile(bare_arr, 99)),
        "ratio_p50": float(np.percentile(full_arr, 50) / np.percentile(bare_arr, 50)),
    }
