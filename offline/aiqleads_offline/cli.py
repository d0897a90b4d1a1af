"""`aiqleads`: generate synthetic leads, train a model, score lead files (no AWS needed); onboard tenants and
their API keys on a deployment (AWS or the local cloud); list, register, promote and roll back a tenant's models."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aiqleads.validation.flat import LABEL_COLUMN
from aiqleads_offline import models, monitor
from aiqleads_offline.onboarding import keys, tenants


def _generate(args: argparse.Namespace) -> int:
    from aiqleads_offline.generate import generate_file

    try:
        generate_file(args.rows, args.seed, args.output, leads_only=args.leads_only, invalid_rate=args.invalid_rate)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.rows:,} leads to {args.output}", file=sys.stderr)
    return 0


def _train(args: argparse.Namespace) -> int:
    try:
        from aiqleads.training.pipeline import TrainingError, TrainingOptions, train
    except ImportError as exc:
        print(f"training needs the train extra (pip install 'aiqleads[train]'): {exc}", file=sys.stderr)
        return 2
    from aiqleads.features.spec import FeatureSpec, default_spec

    spec = None
    try:
        if args.spec == "lead":
            spec = default_spec()
        elif args.spec:
            spec = FeatureSpec.load(Path(args.spec))
    except ValueError as exc:
        print(f"error: {args.spec}: not a feature spec: {exc}", file=sys.stderr)
        return 1
    options = TrainingOptions(
        label=args.label,
        id_column=args.id_column,
        spec=spec,
        exclude=tuple(args.exclude),
        include=tuple(args.include),
        version=args.version,
        seed=args.seed,
        trees=args.trees,
        leaves=args.leaves,
        learning_rate=args.learning_rate,
        split=args.split,
        time_column=args.time_column,
    )
    try:
        report = train(args.data, args.out, options)
    except (TrainingError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for dropped in report.dropped_columns:
        if dropped.kind == "personal":
            note = f"left out column {dropped.column!r}: {dropped.reason} (--include {dropped.column!r} to use it)"
            print(note, file=sys.stderr)
        else:
            print(f"dropped column {dropped.column!r}: {dropped.reason}", file=sys.stderr)
    if report.rows["invalid"]:
        print(f"skipped {report.rows['invalid']:,} invalid rows, e.g. {report.invalid_examples[:3]}", file=sys.stderr)
    summary = {
        "model": str(report.out_dir),
        "version": report.version,
        "metrics": report.metrics,
        "rows": report.rows,
        "split": report.split,
        "selection": report.selection,
        "left_out": [
            {"column": d.column, "reason": d.reason, "kind": d.kind}
            for d in report.dropped_columns
            if d.kind != "unusable"
        ],
    }
    print(json.dumps(summary, indent=1))
    return 0


def _score(args: argparse.Namespace) -> int:
    from aiqleads.files.score_file import score_file
    from aiqleads.files.tabular import use_bulk_memory_pool
    from aiqleads.scoring.artifact import ModelMismatchError, load_artifact
    from aiqleads.scoring.scorer import Scorer, parse_grades

    use_bulk_memory_pool()
    try:
        grades = parse_grades(args.grades) if args.grades else None
        scorer = Scorer(load_artifact(args.model, threads=args.threads), grades)
        report = score_file(args.input, args.output, scorer, progress=None if not args.quiet else False)
    except (FileNotFoundError, ModelMismatchError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(report.summary(), file=sys.stderr)
    return 0


def _summarize(args: argparse.Namespace) -> int:
    from aiqleads_offline.summary import summarize_scored_file

    try:
        print(summarize_scored_file(args.scored, top=args.top))
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aiqleads", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="write synthetic real-estate leads (csv, jsonl or parquet)")
    generate.add_argument("--rows", type=int, default=10_000)
    generate.add_argument("--seed", type=int, default=1)
    generate.add_argument("-o", "--output", type=Path, required=True)
    generate.add_argument(
        "--leads-only", action="store_true", help="only the lead columns: no behaviour, market or label"
    )
    generate.add_argument("--invalid-rate", type=float, default=0.01, help="share of rows with one invalid value")
    generate.set_defaults(run=_generate)

    train = commands.add_parser("train", help="train, calibrate, evaluate and export a model")
    train.add_argument("--data", type=Path, required=True, help="historical leads with an outcome column")
    train.add_argument(
        "--label", default=LABEL_COLUMN, help="the outcome column: 1/0, yes/no, true/false, converted/lost"
    )
    train.add_argument("--id", dest="id_column", help="the id column (never used as a feature)")
    train.add_argument(
        "--spec", help="'lead' for the built-in lead spec, or a spec JSON file; default: infer from the columns"
    )
    train.add_argument(
        "--exclude", action="append", default=[], metavar="COLUMN", help="keep a column out of the model"
    )
    train.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="COLUMN",
        help="use a column although it looks like a personal identifier (names, emails, phones, ids are left out)",
    )
    train.add_argument("--out", type=Path, required=True, help="directory for model.onnx and manifest.json")
    train.add_argument("--version", help="model version (default: date and data hash)")
    train.add_argument("--seed", type=int, default=7)
    train.add_argument(
        "--trees", type=int, help="fixed number of trees (default: early stopping on the validation rows)"
    )
    train.add_argument(
        "--leaves", type=int, help="fixed leaves per tree (default: the best of 7, 15, 31 on validation)"
    )
    train.add_argument("--learning-rate", type=float, default=0.1)
    train.add_argument(
        "--split",
        choices=("auto", "time", "random"),
        default="auto",
        help="auto (default): by time when there is a timestamp (test on the newest leads), else stratified random",
    )
    train.add_argument("--time-column", help="the timestamp to split by (default: created_at, or the only one)")
    train.set_defaults(run=_train)

    score = commands.add_parser("score", help="score a lead file (csv, jsonl or parquet)")
    score.add_argument("input", type=Path)
    score.add_argument("-o", "--output", type=Path, required=True)
    score.add_argument("--model", type=Path, help="model directory (default: the shipped production model)")
    score.add_argument("--grades", help="probability thresholds, e.g. A=0.4,B=0.2,C=0.1 (default: the model's)")
    score.add_argument(
        "--threads",
        type=int,
        help="onnxruntime threads per batch (default 1; batches run on one thread per core, at most 4)",
    )
    score.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    score.set_defaults(run=_score)

    summarize = commands.add_parser("summarize", help="grade counts and the best leads of a scored file")
    summarize.add_argument("scored", type=Path)
    summarize.add_argument("--top", type=int, default=5)
    summarize.set_defaults(run=_summarize)

    tenants.register(commands)
    keys.register(commands)
    models.register(commands)
    monitor.register(commands)
    return parser


def _input_files(args: argparse.Namespace) -> list[Path]:
    if args.command == "train":
        return [args.data] + ([Path(args.spec)] if args.spec and args.spec != "lead" else [])
    if args.command == "score":
        return [args.input]
    if args.command == "summarize":
        return [args.scored]
    return []


def _unreadable(path: Path) -> str | None:
    """Why `path` cannot be an input file, or None. Checked before any work, so a typo costs no model load."""
    if not path.exists():
        return f"{path}: no such file"
    if path.is_dir():
        return f"{path}: is a directory, not a file"
    if not os.access(path, os.R_OK):
        return f"{path}: cannot be read (permission denied)"
    return None


def _os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    inputs = _input_files(args)
    for path in inputs:
        problem = _unreadable(path)
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 1
    # What the commands do not report themselves (a file that vanished or became unreadable after the check, an
    # output directory that does not exist) still ends as one line, not a traceback.
    try:
        return int(args.run(args))
    except OSError as exc:
        print(f"error: {_os_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
