"""infra/packaging/smoke.py, the program the build runs inside the extracted zips, run here on the development
environment instead (every path is inside "/"), so a change of the library it scores with fails here first; and
the core layer's library, which must not need the offline package the layer leaves out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from infra.packaging import smoke
from infra.packaging.build import offline_imports, precompile_sdk
from infra.packaging.config import CORE_PACKAGE


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


def test_the_core_layer_imports_nothing_of_the_offline_package(tmp_path: Path):
    assert offline_imports(CORE_PACKAGE) == []
    package = tmp_path / "aiqleads"
    (package / "scoring").mkdir(parents=True)
    (package / "__init__.py").write_text("import aiqleads_offline_not_it\nfrom . import scoring\n")
    (package / "scoring" / "lazy.py").write_text(
        "def train():\n    from aiqleads_offline.generate import generate\n    import aiqleads_offline.cli as cli\n"
    )
    assert offline_imports(package) == ["aiqleads/scoring/lazy.py:2", "aiqleads/scoring/lazy.py:3"]


def test_the_shipped_sdk_gets_bytecode_python_uses_without_checking_the_sources(tmp_path: Path):
    """A zip keeps no timestamps and /opt is read-only: only unchecked-hash .pyc files spare the compile."""
    (tmp_path / "botocore").mkdir()
    (tmp_path / "botocore" / "parsers.py").write_text("X = 1\n")
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "core.py").write_text("Y = 1\n")
    precompile_sdk(tmp_path, sys.executable)
    [pyc] = (tmp_path / "botocore" / "__pycache__").glob("parsers.*.pyc")
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01  # hash-based, source not checked
    assert not (tmp_path / "numpy" / "__pycache__").exists()
