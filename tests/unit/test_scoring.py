"""Scoring one lead and scoring files give the same answers, keep the input, and report bad rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from aiqleads.files.score_file import score_file
from aiqleads.files.tabular import TableReader
from aiqleads.models import Lead
from aiqleads.scoring.artifact import ModelArtifact, ModelMismatchError
from aiqleads.scoring.batch import SCORE_COLUMNS
from aiqleads.scoring.scorer import Scorer, parse_grades
from aiqleads.validation.columnar import record_values
from aiqleads.validation.flat import InvalidRow
from aiqleads_offline.cli import main
from aiqleads_offline.generate import columns, generate_file


@pytest.fixture(scope="module")
def scorer(small_model: ModelArtifact) -> Scorer:
    return Scorer(small_model)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_file_scoring_keeps_order_and_columns_and_reports_bad_rows(tmp_path: Path, scorer: Scorer, suffix: str):
    source = tmp_path / f"leads{suffix}"
    generate_file(3000, 5, source, invalid_rate=0.05)
    output = tmp_path / f"scored{suffix}"
    report = score_file(source, output, scorer, progress=False, batch_rows=700, workers=2)

    original = TableReader(source).read_all().to_pylist()
    scored = TableReader(output).read_all().to_pylist()
    errors = [json.loads(line) for line in (tmp_path / f"scored{suffix}.errors.jsonl").read_text().splitlines()]
    bad_rows = {e["row"] for e in errors}

    assert report.rows == 3000
    assert report.scored == len(scored) == 3000 - len(bad_rows)
    assert 100 < len(bad_rows) < 250
    assert all(e["field"] and e["message"] for e in errors)
    kept = [row for number, row in enumerate(original, start=1) if number not in bad_rows]
    assert [r["id"] for r in scored] == [r["id"] for r in kept], "input order and ids are kept"
    if suffix != ".jsonl":  # JSONL lines leave missing cells out: its columns come in order of first appearance
        assert list(scored[0]) == [*columns(), *SCORE_COLUMNS], "columns keep their order"
    assert scored[0]["description"] == kept[0]["description"], "input cells are kept as they were"
    for row in scored:
        probability = float(row["probability"])
        assert 0 <= probability <= 1
        assert int(row["score"]) == int(np.floor(probability * 100 + 0.5))
        assert row["grade"] in "ABCD"
    assert sum(1 for row in scored if row["reasons"]) > 0.9 * len(scored)
    # Each reported row really is invalid, for the reason given.
    for error in errors[:20]:
        with pytest.raises(InvalidRow):
            record_values(original[error["row"] - 1], scorer.spec)


def test_file_scores_equal_single_lead_scores(tmp_path: Path, scorer: Scorer):
    source = tmp_path / "leads.csv"
    generate_file(400, 8, source, invalid_rate=0)
    output = tmp_path / "scored.csv"
    score_file(source, output, scorer, progress=False)
    for original, scored in zip(
        TableReader(source).read_all().to_pylist(), TableReader(output).read_all().to_pylist(), strict=True
    ):
        single = scorer.score_values(record_values(original, scorer.spec))
        assert abs(single.probability - float(scored["probability"])) < 1e-6
        assert single.grade == scored["grade"] or abs(single.probability - float(scored["probability"])) > 0
        assert "; ".join(str(f) for f in single.factors) == (scored["reasons"] or "")


def test_reasons_are_in_words_and_point_both_ways(scorer: Scorer):
    lead = Lead.model_validate(
        {
            "id": "zl-1",
            "source": "referral",
            "contact": {"email": "ana@mailinator.com"},
            "property": {"type": "condo", "price": 425000, "market": "las-vegas"},
            "intent": "sell",
            "timeline": "asap",
            "description": "Motivated seller, relocating, cash offers welcome",
        }
    )
    score = scorer.score_lead(lead, {"inquiries": 4, "messages": 3, "schedules": 1, "minutes_to_first_contact": 2})
    assert score.model_version == "test"
    assert 0 <= score.score <= 100
    assert score.grade in {"A", "B", "C", "D"}
    directions = {r.direction for r in score.reasons}
    assert directions == {"up", "down"}
    # in words, naming the lead's own values, never a value it does not have
    assert all(r.text and not r.text.startswith(r.feature) and "unknown" not in r.text for r in score.reasons)


def test_grade_thresholds_are_configurable(small_model: ModelArtifact):
    everything_a = Scorer(small_model, parse_grades("A=0,B=0,C=0"))
    assert set(everything_a.grade_letters(np.array([0.0, 0.3, 0.9]))) == {"A"}
    with pytest.raises(ValueError, match="A >= B >= C"):
        parse_grades("A=0.1,B=0.2,C=0.05")
    with pytest.raises(ValueError, match="missing C"):
        parse_grades("A=0.5,B=0.2")


def test_model_whose_files_do_not_match_is_refused(tmp_path: Path, small_model: ModelArtifact):
    broken = tmp_path / "broken"
    shutil.copytree(small_model.directory, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest["feature_names"] = manifest["feature_names"][:-1]
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelMismatchError, match="trained on"):
        ModelArtifact.open(broken)

    shutil.copy(small_model.directory / "manifest.json", broken / "manifest.json")
    (broken / "model.onnx").write_bytes((broken / "model.onnx").read_bytes() + b"\0")
    with pytest.raises(ModelMismatchError, match="sha256"):
        ModelArtifact.open(broken)


def test_cli_score_reports_a_missing_model_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "leads.csv"
    generate_file(10, 1, source)
    assert main(["score", str(source), "-o", str(tmp_path / "out.csv"), "--model", str(tmp_path / "nowhere")]) == 1
    assert "not a model artifact" in capsys.readouterr().err


def test_unsupported_file_type_is_a_clear_error(tmp_path: Path, scorer: Scorer):
    (tmp_path / "leads.xlsx").write_text("x")
    with pytest.raises(ValueError, match="unsupported file type"):
        score_file(tmp_path / "leads.xlsx", tmp_path / "out.csv", scorer)


def test_malformed_csv_lines_are_reported_not_fatal(tmp_path: Path, scorer: Scorer):
    source = tmp_path / "leads.csv"
    generate_file(50, 2, source, invalid_rate=0)
    lines = source.read_text().splitlines()
    lines.insert(10, "only,three,cells")
    source.write_text("\n".join(lines) + "\n")
    report = score_file(source, tmp_path / "out.csv", scorer, progress=False)
    assert report.scored == 50
    assert report.unreadable == 1
    errors = (tmp_path / "out.csv.errors.jsonl").read_text()
    assert "found 3" in errors
    (line,) = [json.loads(text) for text in errors.splitlines() if "found 3" in text]
    assert line["line"] == 11  # the header is line 1


def test_unreadable_csv_lines_carry_their_line_numbers_after_multi_line_cells(tmp_path: Path, scorer: Scorer):
    rows = generate_rows(40)
    rows[2]["description"] = "Two\nlines"
    rows[5]["description"] = "Three\r\nmore\nlines"
    source = tmp_path / "leads.csv"
    pa_csv.write_csv(pa.Table.from_pylist(rows), source)
    lines = source.read_bytes().decode().split("\n")
    # after the header (line 1) and rows 1-7 (10 lines: two cells span more than one), then a blank line
    lines[11:11] = ["one,two", ""]
    lines[30:30] = ['"a","b","c"']
    source.write_bytes("\n".join(lines).encode())
    report = score_file(source, tmp_path / "out.csv", scorer, progress=False, batch_rows=7)
    errors = [json.loads(text) for text in (tmp_path / "out.csv.errors.jsonl").read_text().splitlines()]
    assert report.scored == 40
    assert [(e["line"], e["message"][-7:]) for e in errors] == [(12, "found 2"), (31, "found 3")]
    assert lines[12 - 1] == "one,two"
    assert lines[31 - 1] == '"a","b","c"'


def test_a_failed_run_leaves_no_output_and_keeps_an_earlier_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "leads.csv"
    generate_file(6000, 3, source, invalid_rate=0)
    data = source.read_bytes()
    cut = data.index(b',"', len(data) * 3 // 4) + 2
    source.write_bytes(data[:cut] + b"\xff\xfe" + data[cut:])  # a cell that is not UTF-8: Arrow fails there
    output = tmp_path / "out.csv"
    assert main(["score", str(source), "-o", str(output), "-q"]) == 1
    assert "error:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv"]  # no output, errors or partial files
    output.write_text("an earlier run's results")
    assert main(["score", str(source), "-o", str(output), "-q"]) == 1
    assert output.read_text() == "an earlier run's results"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["leads.csv", "out.csv"]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_progress_reaches_the_end_only_at_the_end(
    tmp_path: Path, scorer: Scorer, monkeypatch: pytest.MonkeyPatch, suffix: str
):
    """Arrow's CSV reader reads far ahead of the rows it has handed out: progress follows the rows written."""
    from aiqleads.files import score_file as module
    from aiqleads.files.tabular import CSV_BLOCK_BYTES

    source = tmp_path / f"leads{suffix}"
    generate_file(40_000, 9, source)
    total = source.stat().st_size
    seen: list[tuple[int, int, bool]] = []
    original = module._Progress.update

    def record(bar: Any, done_bytes: int, rows: int, final: bool = False) -> None:
        seen.append((done_bytes, rows, final))
        original(bar, done_bytes, rows, final)

    monkeypatch.setattr(module._Progress, "update", record)
    score_file(source, tmp_path / f"out{suffix}", scorer, progress=True, batch_rows=4000, workers=2)
    assert seen[-1] == (total, 40_000, True)
    for done_bytes, rows, final in seen[:-1]:
        assert not final
        assert done_bytes <= total * rows / 40_000 + CSV_BLOCK_BYTES, (done_bytes, rows)
        assert done_bytes < total or rows == 40_000
    assert len(seen) > 5


def test_empty_string_cells_are_missing_not_invalid(scorer: Scorer):
    table = pa.table(
        {
            "id": ["a"],
            "source": ["zillow"],
            "market": ["las-vegas"],
            "intent": ["buy"],
            "email": ["a@b.co"],
            "price": [""],
            "views": ["  "],
        }
    )
    from aiqleads.validation.columnar import validate_batch

    batch = validate_batch(table, scorer.spec)
    assert batch.valid.tolist() == [True]
    assert batch.errors == []


def test_progress_bar_on_request(tmp_path: Path, scorer: Scorer, capsys: pytest.CaptureFixture[str]):
    source = tmp_path / "leads.csv"
    generate_file(2000, 3, source)
    score_file(source, tmp_path / "out.csv", scorer, progress=True, batch_rows=500)
    err = capsys.readouterr().err
    assert "rows/s" in err
    assert "100.0%" in err


def test_jsonl_lines_with_different_keys_keep_their_columns(tmp_path: Path, scorer: Scorer):
    rows = generate_rows(6)
    rows[0].pop("description")
    rows[5]["crm_owner"] = "dana"
    source = tmp_path / "leads.jsonl"
    source.write_text("".join(json.dumps({k: v for k, v in r.items() if v is not None}) + "\n" for r in rows))
    output = tmp_path / "scored.csv"
    report = score_file(source, output, scorer, progress=False, batch_rows=2)
    scored = TableReader(output).read_all()
    assert report.scored == 6
    assert "crm_owner" in scored.column_names
    assert "description" in scored.column_names
    assert [v or None for v in scored["crm_owner"].to_pylist()] == [None] * 5 + ["dana"]


def generate_rows(count: int) -> list[dict]:
    from aiqleads_offline.generate import generate_table

    return generate_table(count, 4, invalid_rate=0).to_pylist()


def test_quoted_newlines_and_commas_survive_the_round_trip(tmp_path: Path, scorer: Scorer):
    rows = generate_rows(3)
    rows[1]["description"] = 'Motivated seller.\nTwo lines, a comma and "quotes".'
    source = tmp_path / "leads.csv"
    pa_csv.write_csv(pa.Table.from_pylist(rows), source)
    output = tmp_path / "scored.csv"
    report = score_file(source, output, scorer, progress=False)
    scored = TableReader(output).read_all().to_pylist()
    assert report.scored == 3
    assert scored[1]["description"] == rows[1]["description"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--rows", "10", "-o", "leads.xlsx"], "unsupported file extension"),
        (["generate", "--rows", "-5", "-o", "leads.csv"], "rows must not be negative"),
        (["score", "missing.csv", "-o", "out.csv"], "missing.csv: no such file"),
        (["score", "leads.csv", "-o", "out.csv", "--grades", "A=2"], "grade thresholds"),
    ],
)
def test_cli_mistakes_get_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv, message
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leads.csv").write_text("id\n")  # an input that exists: the other mistake is the one reported
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_one_lead_at_a_time_from_many_threads_gives_the_same_scores(scorer: Scorer):
    """Single-lead scoring binds one input buffer per thread: concurrent calls must not see each other's lead."""
    from concurrent.futures import ThreadPoolExecutor

    from aiqleads_offline.generate import generate_table

    rows = [record_values(row, scorer.spec) for row in generate_table(400, 11, invalid_rate=0.0).to_pylist()]
    expected = [scorer.score_values(values) for values in rows]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(scorer.score_values, rows)) == expected
    assert len({score.probability for score in expected}) > 300  # distinct leads, not one repeated answer
