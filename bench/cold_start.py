"""Cold starts: per function, a fresh interpreter imports the handler as Lambda does, then handles one
representative event against the local cloud (moto on 127.0.0.1, the template's resources, the demo data).

    python -m bench.cold_start [FUNCTION ...]   # also part of `make bench`; BENCH_COLD_RUNS (default 3) runs each

Reported per function, the median of the runs: the handler's import and its first invocation (settings, wiring,
clients, the model where it scores, and the work itself), in wall time and in the child's own CPU time (steadier
on a shared machine; it leaves out moto's share), the process's peak RSS, and whether the scoring stack
(onnxruntime, numpy, pyarrow) was loaded. Each child gets exactly its function's template environment.
The child side imports only the standard library before the handler, so the figures are the handler's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
SCORING_STACK = ("onnxruntime", "numpy", "pyarrow")
FUNCTIONS = ("authorizer", "notify", "recommendations_job", "events", "bulk_score", "api")
BULK_ROWS = 200


# ------------------------------------------------------------------------------------------------ the child
class _Context:
    """What Lambda passes as `context` (what Powertools reads)."""

    aws_request_id = "cold-start"
    function_version = "$LATEST"

    def __init__(self, name: str, memory_mb: int, timeout_s: float) -> None:
        self.function_name, self.memory_limit_in_mb = name, memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def _peak_rss_mb() -> float:
    """This process's peak RSS. Linux carries ru_maxrss across fork and exec, so a child started by a big parent
    would report the parent's peak; VmHWM is the high-water mark of this program's own memory."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(payload_file: str) -> None:
    payload = json.loads(Path(payload_file).read_text())
    sys.path.insert(0, str(ROOT / payload["code_uri"]))  # Lambda's /var/task: the function's CodeUri
    started, started_cpu = time.perf_counter(), time.process_time()
    import handler

    imported, imported_cpu = time.perf_counter(), time.process_time()
    context = _Context(payload["name"], payload["memory_mb"], payload["timeout_s"])
    result = handler.handler(payload["event"], context)
    invoked, invoked_cpu = time.perf_counter(), time.process_time()
    figures = {
        "import_ms": (imported - started) * 1000,
        "import_cpu_ms": (imported_cpu - started_cpu) * 1000,
        "first_ms": (invoked - imported) * 1000,
        "first_cpu_ms": (invoked_cpu - imported_cpu) * 1000,
        "peak_mb": _peak_rss_mb(),
        "scoring_stack": [name for name in SCORING_STACK if name in sys.modules],
        "result": result,
    }
    print(json.dumps(figures, default=str))


# ------------------------------------------------------------------------------------------------ the events
def _sqs(body: Any) -> dict[str, Any]:
    record = {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": "cold-start",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:cold-start",
        "awsRegion": "us-east-1",
    }
    return {"Records": [record]}


def _api_event(tenant: str) -> dict[str, Any]:
    lead = {
        "id": f"cold-{uuid.uuid4().hex[:12]}",
        "source": "zillow",
        "contact": {"name": "Ana Diaz", "email": "ana@example.com", "phone": "+1 702 555 0100"},
        "property": {"type": "single_family", "price": 425000, "market": "las-vegas"},
        "intent": "sell",
        "timeline": "0-3 months",
    }
    context = {"requestId": "cold", "stage": "dev", "httpMethod": "POST"}
    return {
        "resource": "/v1/leads",
        "path": "/v1/leads",
        "httpMethod": "POST",
        "headers": {"content-type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "pathParameters": None,
        "requestContext": context | {"authorizer": {"tenant_id": tenant, "tier": "enterprise", "principalId": tenant}},
        "body": json.dumps(lead),
        "isBase64Encoded": False,
    }


class Events:
    """One representative event per function, fresh per run where the function would skip a repeat."""

    def __init__(self, cloud: Any, demo: dict[str, Any], jobs: Any, lead_file: Path) -> None:
        self.cloud, self.demo, self.jobs, self.lead_file = cloud, demo, jobs, lead_file
        self.tenant = str(demo["tenant_id"])

    def __call__(self, function: str) -> dict[str, Any]:
        event: dict[str, Any] = getattr(self, function)()
        return event

    def authorizer(self) -> dict[str, Any]:
        arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/v1/recommendations"
        return {"type": "TOKEN", "authorizationToken": self.demo["api_key"], "methodArn": arn}

    def api(self) -> dict[str, Any]:
        return _api_event(self.tenant)

    def events(self) -> dict[str, Any]:
        interaction = {"lead_id": self.demo["demo_lead_ids"][0], "actor": "lead", "action": "view",
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
        return _sqs({"event_id": f"evt-{uuid.uuid4().hex}", "tenant_id": self.tenant, "interaction": interaction})

    def notify(self) -> dict[str, Any]:
        data = {"lead_id": self.demo["demo_lead_ids"][0], "market": "las-vegas", "score": 80, "grade": "A"}
        return _sqs({"id": f"evt-{uuid.uuid4().hex}", "type": "lead.scored", "tenant_id": self.tenant, "data": data})

    def recommendations_job(self) -> dict[str, Any]:
        from aiqleads.recommendations.jobs import JOB_KIND, GenerateRequest

        accepted = self.jobs.submit(self.tenant, GenerateRequest(buyer_ids=self.demo["buyer_ids"][:2]))
        return _sqs({"kind": JOB_KIND, "tenant_id": self.tenant, "job_id": accepted.job_id})

    def bulk_score(self) -> dict[str, Any]:
        bucket, key = self.cloud.resources.ref("UploadsBucket"), f"uploads/{self.tenant}/cold-{uuid.uuid4().hex}.csv"
        etag = self.cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=self.lead_file.read_bytes())["ETag"]
        s3 = {"bucket": {"name": bucket}, "object": {"key": key, "eTag": etag.strip('"')}}
        return _sqs({"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": s3}]})


# ------------------------------------------------------------------------------------------------ the parent
def _environments(cloud: Any) -> dict[str, dict[str, Any]]:
    """Each function's template environment resolved against the local cloud, with its limits and CodeUri."""
    from infra.local_cloud.functions import POWERTOOLS_LOCAL_ENVIRONMENT, discover_functions
    from infra.template import load_template

    specs = discover_functions(load_template(TEMPLATE), ROOT)
    version = cloud.resources.parameters.get("ModelVersion", "2.0.0")
    local = {"AIQLEADS_MODEL_DIR": str(ROOT / "model_artifacts" / "lead_scorer" / str(version))}
    functions = {}
    for spec in specs.values():
        resolved = {name: str(value) for name, value in cloud.resources.resolve(dict(spec.environment)).items()}
        functions[spec.code_uri.name] = {
            "code_uri": str(spec.code_uri.relative_to(ROOT)),
            "memory_mb": spec.memory_mb,
            "timeout_s": spec.timeout,
            "env": resolved | cloud.server.environment() | POWERTOOLS_LOCAL_ENVIRONMENT | local,
        }
    return functions


def _run(name: str, function: dict[str, Any], event: dict[str, Any], base_env: dict[str, str]) -> dict[str, Any]:
    payload = {"name": name, "event": event, **{k: v for k, v in function.items() if k != "env"}}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
        json.dump(payload, file)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.cold_start", "--child", file.name],
            cwd=ROOT,
            env=base_env | function["env"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        os.unlink(file.name)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: the cold start failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    _check(name, figures.pop("result"))
    return figures


def _check(name: str, result: Any) -> None:
    """A cold start that failed its event measures nothing: each must have done its work."""
    if name == "authorizer":
        ok = result["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    elif name == "api":
        ok = result["statusCode"] == 201
    else:
        ok = result == {"batchItemFailures": []}
    if not ok:
        raise RuntimeError(f"{name} did not handle its event: {str(result)[:500]}")


def _reset() -> None:
    from aiqleads.process_cache import reset

    reset()


def _api_jobs(api: dict[str, Any]) -> Any:
    """The API's recommendation jobs service in this process, to queue the jobs the job function runs."""
    from aiqleads import composition

    os.environ.update(api["env"])
    _reset()
    return composition.api_recommendation_jobs()


def measure(runs: int | None = None, names: tuple[str, ...] = FUNCTIONS) -> dict[str, dict[str, Any]]:
    from aiqleads_offline.generate import generate_file
    from infra.local_cloud import LocalCloud
    from infra.local_cloud.demo import seed_demo

    runs = runs or int(os.environ.get("BENCH_COLD_RUNS", "3"))
    base_env = dict(os.environ)
    with LocalCloud(TEMPLATE, port=0, run_functions=False, demo=False) as cloud, tempfile.TemporaryDirectory() as tmp:
        functions = _environments(cloud)
        lead_file = Path(tmp) / "leads.csv"
        generate_file(BULK_ROWS, 3, lead_file, invalid_rate=0.0)
        events = Events(cloud, seed_demo(cloud, leads=300), _api_jobs(functions["api"]), lead_file)
        samples = {name: [_run(name, functions[name], events(name), base_env) for _ in range(runs)] for name in names}
    os.environ.clear()
    os.environ.update(base_env)
    _reset()
    return {name: _median(figures) for name, figures in samples.items()}


def _median(figures: list[dict[str, Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {
        key: statistics.median(f[key] for f in figures)
        for key in ("import_ms", "import_cpu_ms", "first_ms", "first_cpu_ms", "peak_mb")
    }
    summary["scoring_stack"] = sorted({name for f in figures for name in f["scoring_stack"]})
    summary["runs"] = len(figures)
    return summary


def report(figures: dict[str, dict[str, Any]]) -> None:
    runs = next(iter(figures.values()))["runs"] if figures else 0
    print(f"\nCold start per function (fresh process, median of {runs}; wall ms, this process's CPU ms in brackets):")
    print(f"  {'function':<20} {'import ms':>14} {'first invocation ms':>20} {'peak MB':>8}   scoring stack loaded")
    for name, f in figures.items():
        imported = f"{f['import_ms']:.0f} ({f['import_cpu_ms']:.0f})"
        first = f"{f['first_ms']:.0f} ({f['first_cpu_ms']:.0f})"
        stack = ", ".join(f["scoring_stack"]) or "none"
        print(f"  {name:<20} {imported:>14} {first:>20} {f['peak_mb']:>8.0f}   {stack}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(sys.argv[2])
    else:
        report(measure(names=tuple(sys.argv[1:]) or FUNCTIONS))
