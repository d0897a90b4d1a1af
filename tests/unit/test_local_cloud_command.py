"""What `python -m infra.local_cloud up` prints: examples that work with what is running, files kept in .aiqleads/."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from infra.local_cloud.__main__ import examples

BASE: dict[str, Any] = {
    "uploads_bucket": "aiqleads-uploads-dev-123456789012-us-east-1",
    "aws_endpoint_url": "http://127.0.0.1:4566",
    "region": "us-east-1",
    "queues": {"BulkQueue": "http://127.0.0.1:4566/123456789012/aiqleads-dev-bulk"},
}
RUNNING: dict[str, Any] = {
    **BASE,
    "api_url": "http://127.0.0.1:3000/dev",
    "api_key": "aiq_demo",
    "tenant_id": "demo",
    "functions": {
        "ApiFunction": {"running": True, "routes": ["POST /v1/leads"], "queues": []},
        "BulkScoreFunction": {"running": True, "routes": [], "queues": [BASE["queues"]["BulkQueue"]]},
    },
}


def written_paths(lines: list[str]) -> list[str]:
    """Every file a command line writes locally (`-o PATH`, `> PATH`)."""
    paths = []
    for line in lines:
        words = shlex.split(line.split("#", 1)[0]) if not line.strip().startswith("#") else []
        paths += [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-o", ">")]
    return paths


def test_with_the_functions_every_step_of_bulk_scoring_is_shown() -> None:
    lines = examples(RUNNING)
    text = "\n".join(lines)
    assert "/v1/leads/score" in text
    assert "aiqleads generate" in text
    assert "uploads/leads.csv --metadata tenant-id=demo" in text
    assert "results/leads.scored.csv" in text
    assert written_paths(lines) == [".aiqleads/leads.csv"]


def test_without_the_functions_nothing_that_needs_them_is_offered() -> None:
    lines = examples(BASE)
    text = "\n".join(lines)
    assert "results/" not in text
    assert "/v1/" not in text
    assert "make run" in text
    assert (
        f"aws sqs receive-message --endpoint-url {BASE['aws_endpoint_url']} --queue-url {BASE['queues']['BulkQueue']}"
        in text
    )
    assert all(path.startswith(".aiqleads/") for path in written_paths(lines))


def test_a_bulk_function_that_is_not_running_counts_as_absent() -> None:
    stopped = {**RUNNING, "functions": {**RUNNING["functions"], "BulkScoreFunction": {"running": False, "queues": []}}}
    assert "results/" not in "\n".join(examples(stopped))


def test_files_go_beside_the_state_file(tmp_path: Path) -> None:
    assert written_paths(examples(RUNNING, tmp_path)) == [str(tmp_path / "leads.csv")]


def test_the_learning_loop_steps_are_shown_when_the_default_model_is_registered() -> None:
    text = "\n".join(examples({**RUNNING, "default_model_version": "2.0.0", "admin_api_key": "aiq_admin"}))
    steps = ["aiqleads models train --wait", "aiqleads models show $V", "aiqleads models promote $V",
             '"model_version"', "aiqleads models rollback"]  # fmt: skip
    positions = [text.index(step) for step in steps]
    assert positions == sorted(positions)
    assert "aiqleads models" not in "\n".join(examples(RUNNING))
