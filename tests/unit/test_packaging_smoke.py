"""infra/packaging/smoke.py, the program the build runs inside the extracted zips, run here on the development
environment instead (every path is inside "/"), so a change of the library it scores with fails here first."""

from __future__ import annotations

import json

import pytest

from infra.packaging import smoke


def test_the_smoke_program_scores_a_lead_and_every_file_format(capsys: pytest.CaptureFixture[str]):
    smoke.main(["layers", "/"])
    summary = json.loads(capsys.readouterr().out)
    assert 0 < summary["lead"]["probability"] < 1
    assert summary["lead"]["grade"] in {"A", "B", "C", "D"}
    valid = smoke.BULK_ROWS - smoke.BULK_ROWS // smoke.INVALID_EVERY
    assert summary["bulk"] == {
        "csv->parquet": f"{valid}/{smoke.BULK_ROWS} scored",
        "parquet->jsonl": f"{valid}/{smoke.BULK_ROWS} scored",
        "jsonl->csv": f"{valid}/{smoke.BULK_ROWS} scored",
    }
    assert set(summary["versions"]) == {"numpy", "onnxruntime", "pyarrow", "pydantic", "powertools"}


def test_the_smoke_program_refuses_modules_from_outside_the_layers():
    with pytest.raises(AssertionError, match="imported from outside the layers"):
        smoke.check_imports("/nonexistent/opt")
