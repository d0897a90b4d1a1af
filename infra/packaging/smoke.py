"""The smoke test that runs inside the built artifacts, on the python3.13 the build found.

    PYTHONPATH=OPT/python[:SDK] python -s -P smoke.py layers OPT   # the layers extracted into OPT, as Lambda's /opt
    PYTHONPATH=TASK:OPT/python  python -s -P smoke.py handler      # in an extracted function's directory
    PYTHONPATH=OPT/python       python -s -P smoke.py handlers TASK...   # every function's in turn (emulated)
    PYTHONPATH=OPT/python LD_LIBRARY_PATH=OPT/lib python -s -P smoke.py training OPT   # deps + core + training

Run by path with `-P` (see `smoke_runner`), so nothing of the repository is importable: whatever this imports must
come from the extracted zips (or, built with --runtime-sdk, boto3 from a stand-in for the runtime's SDK). It prints
one JSON object for the build's summary; any failure is an exception and a non-zero exit.
"""

from __future__ import annotations

import csv
import importlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

BULK_ROWS = 1000
INVALID_EVERY = 50  # every 50th row has an unreadable price, so each run also reports bad rows


# Imported as the functions import them; the pyarrow modules the strip rules thinned must still import.
RUNTIME_MODULES = (
    "numpy",
    "onnxruntime",
    "pydantic",
    "pyarrow",
    "pyarrow.compute",
    "pyarrow.csv",
    "pyarrow.parquet",
    "pyarrow.dataset",
    "pyarrow.fs",
    "pyarrow.json",
    "aws_lambda_powertools",
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.utilities.data_classes",
    "aws_xray_sdk",
    "aws_xray_sdk.core",
    "aiqleads",
)


def check_imports(opt: str) -> None:
    """Every runtime dependency imports from the layers, and Powertools and numpy's native code work."""
    modules = [importlib.import_module(name) for name in RUNTIME_MODULES]
    outside = [m.__name__ for m in modules if "." not in m.__name__ and not _inside(m.__file__, opt)]
    assert not outside, f"imported from outside the layers: {outside}"
    import numpy
    from aws_lambda_powertools import Logger, Metrics, Tracer
    from aws_lambda_powertools.event_handler import APIGatewayRestResolver

    Logger(service="smoke")
    Metrics(namespace="smoke")
    Tracer(service="smoke")
    APIGatewayRestResolver()
    numpy.linalg.inv(numpy.eye(3))  # loads the bundled OpenBLAS
    numpy.random.default_rng(0).random(3)


def _inside(path: str | os.PathLike[str] | None, opt: str) -> bool:
    return path is not None and os.path.realpath(path).startswith(opt)


def lead_rows(count: int) -> list[dict[str, str]]:
    """Flat lead rows (every cell text, as the bulk readers see them), without the offline generator, which the
    layers do not ship."""
    from aiqleads.models import Intent, PropertyType, Timeline

    types, intents, timelines = list(PropertyType), list(Intent), list(Timeline)
    markets = ["las-vegas", "phoenix", "austin", "miami"]
    rows = []
    for index in range(count):
        rows.append(
            {
                "id": f"smoke-{index:05d}",
                "source": ["referral", "zillow", "website"][index % 3],
                "created_at": f"2026-03-{1 + index % 28:02d}T12:00:00Z",
                "name": f"Lead {index}",
                "email": f"lead{index}@example.com",
                "phone": "",
                "property_type": types[index % len(types)].value,
                "price": "not-a-price" if index % INVALID_EVERY == 0 else str(150_000 + 997 * index),
                "beds": str(1 + index % 5),
                "baths": str(1 + index % 3),
                "sqft": str(700 + 13 * index),
                "lat": "",
                "lon": "",
                "market": markets[index % len(markets)],
                "intent": intents[index % len(intents)].value,
                "timeline": timelines[index % len(timelines)].value,
                "description": "Motivated seller, relocating" if index % 2 else "",
            }
        )
    return rows


def write_leads(rows: list[dict[str, str]], path: Path) -> None:
    import pyarrow
    import pyarrow.parquet

    if path.suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    else:
        pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), path)


def smoke_lead() -> Any:
    from aiqleads.models import Lead

    return Lead.model_validate(
        {
            "id": "smoke-1",
            "source": "referral",
            "contact": {"email": "ana@example.com"},
            "property": {"type": "condo", "price": 425000, "market": "las-vegas"},
            "intent": "sell",
            "timeline": "asap",
            "description": "Motivated seller, relocating",
        }
    )


def score_one_lead(opt: str) -> dict[str, Any]:
    from aiqleads.scoring.artifact import default_model_dir, load_artifact
    from aiqleads.scoring.scorer import Scorer

    model_dir = default_model_dir()  # no AIQLEADS_MODEL_DIR: found by searching, as /opt/model_artifacts/...
    assert _inside(model_dir, opt), f"model found outside the layer: {model_dir}"
    scorer = Scorer(load_artifact(model_dir))
    score = scorer.score_lead(smoke_lead(), {"inquiries": 4, "messages": 3})
    return {
        "probability": round(score.probability, 6),
        "score": score.score,
        "grade": score.grade,
        "model_version": score.model_version,
    }


def score_files() -> dict[str, str]:
    """The bulk path: every input and output format, bad rows reported, not fatal."""
    import pyarrow.parquet

    from aiqleads.files.score_file import score_file
    from aiqleads.scoring.artifact import load_artifact
    from aiqleads.scoring.scorer import Scorer

    scorer = Scorer(load_artifact())
    rows = lead_rows(BULK_ROWS)
    valid = sum(1 for index in range(BULK_ROWS) if index % INVALID_EVERY)
    bulk = {}
    with tempfile.TemporaryDirectory() as scratch:
        for source, output in (("csv", "parquet"), ("parquet", "jsonl"), ("jsonl", "csv")):
            leads = Path(scratch) / f"leads.{source}"
            write_leads(rows, leads)
            report = score_file(leads, Path(scratch) / f"leads.scored.{output}", scorer, progress=False)
            assert report.rows == BULK_ROWS, report
            assert report.scored == valid, report
            assert report.output.stat().st_size > 0, report
            bulk[f"{source}->{output}"] = f"{report.scored}/{report.rows} scored"
        scored = pyarrow.parquet.ParquetFile(Path(scratch) / "leads.scored.parquet").read()
        assert scored.num_rows == valid
    return bulk


SDK_MODULES = ("boto3", "botocore", "s3transfer")


def sdk(opt: str) -> str | None:
    """The SDK the functions get. When the deps layer ships one, it must be the one imported (Lambda puts
    /opt/python before the runtime's own SDK): storage/dynamo_parser.py is tested against that version only."""
    try:
        modules = [importlib.import_module(name) for name in SDK_MODULES]
    except ImportError:
        return None
    boto3 = modules[0]
    where = os.path.dirname(os.path.dirname(boto3.__file__ or ""))
    if os.path.isdir(os.path.join(opt, "python", "botocore")):
        outside = [m.__name__ for m in modules if not _inside(m.__file__, opt)]
        assert not outside, f"the layer ships the SDK but these were imported from elsewhere: {outside}"
        where = "the deps layer"
    versions = ", ".join(f"{m.__name__} {m.__version__}" for m in modules)
    return f"{versions} from {where}"


def check_openapi_document(opt: str) -> None:
    """GET /v1/openapi.json serves the document the core layer ships: a function has no template to build it from."""
    from aiqleads.api.openapi import document_path

    path = document_path()
    assert _inside(path, opt), f"openapi.json found outside the layer: {path}"
    assert json.loads(path.read_text(encoding="utf-8"))["paths"], f"{path} documents no route"


def check_layers(opt: str) -> None:
    check_imports(opt)
    check_openapi_document(opt)
    from aws_lambda_powertools.shared import version as powertools

    versions = {name: sys.modules[name].__version__ for name in ("numpy", "onnxruntime", "pyarrow", "pydantic")}
    summary = {
        "python": f"{platform.python_version()} on {platform.machine()}",  # aarch64 when run under emulation
        "lead": score_one_lead(opt),
        "bulk": score_files(),
        "versions": {**versions, "powertools": powertools.VERSION},
        "sdk": sdk(opt),
    }
    print(json.dumps(summary))


# What the training layer adds to the deps layer, as the training pipeline (aiqleads.training) imports it.
TRAINING_MODULES = (
    "lightgbm",
    "onnx",
    "onnxmltools",
    "onnxmltools.convert",
    "scipy",
    "scipy.sparse",
    "google.protobuf",
    "ml_dtypes",
    "narwhals",
    "packaging",
)
# What the layer must not ship nor need: onnxmltools declares skl2onnx (scikit-learn), LightGBM imports pandas and
# scikit-learn if present.
TRAINING_ABSENT = ("sklearn", "skl2onnx", "pandas", "joblib", "threadpoolctl")
TRAINING_ROWS, TRAINING_FEATURES = 400, 6


def modules_outside(opt: str) -> list[str]:
    """The loaded modules whose file is neither inside `opt` nor in the interpreter's standard library."""
    import sysconfig

    stdlib = tuple(os.path.realpath(sysconfig.get_paths()[key]) for key in ("stdlib", "platstdlib"))
    outside = set()
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None) if name != "__main__" else None  # this program
        if path and not _inside(path, opt) and not os.path.realpath(path).startswith(stdlib):
            outside.add(name.split(".")[0])
    return sorted(outside)


def loaded_libraries(name: str) -> list[str]:
    """The files mapped into this process whose name starts with `name` (/proc/self/maps)."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        paths = {line.split(maxsplit=5)[-1].strip() for line in maps if len(line.split(maxsplit=5)) == 6}
    return sorted(path for path in paths if os.path.basename(path).startswith(name))


def train_with_the_pipeline() -> dict[str, Any]:
    """What the training function runs: aiqleads.training's whole pipeline on a small labelled lead file (fit,
    calibration, ONNX export and its onnxruntime parity check, manifest), then the model it wrote scores a lead."""
    from aiqleads.features.spec import default_spec
    from aiqleads.scoring.artifact import load_artifact
    from aiqleads.scoring.scorer import Scorer
    from aiqleads.training.pipeline import TrainingOptions, train

    rows = lead_rows(BULK_ROWS)
    for index, row in enumerate(rows):
        row["converted"] = "1" if (index * 7919) % 10 < 3 else "0"
    with tempfile.TemporaryDirectory() as scratch:
        leads = Path(scratch) / "leads.csv"
        write_leads(rows, leads)
        options = TrainingOptions(
            label="converted", id_column="id", spec=default_spec(), split="random", trees=10, leaves=7, version="smoke"
        )
        report = train(leads, Path(scratch) / "model", options)
        score = Scorer(load_artifact(report.out_dir)).score_lead(smoke_lead())
    assert report.parity_max_abs_diff < 1e-5, report.parity_max_abs_diff
    return {"rows": report.rows["used"], "parity": report.parity_max_abs_diff, "scored": score.grade}


def check_training(opt: str) -> None:
    """With the deps, core and training layers only: LightGBM trains, onnxmltools converts (through the pipeline's
    own export), onnxruntime runs the result and agrees, the whole training pipeline runs, and everything came from
    the layers."""
    import lightgbm
    import numpy
    import onnxruntime

    from aiqleads.training.onnx_export import INPUT_NAME, OUTPUT_NAME, export_onnx

    modules = [importlib.import_module(name) for name in TRAINING_MODULES]
    rng = numpy.random.default_rng(2026)
    features = rng.normal(size=(TRAINING_ROWS, TRAINING_FEATURES)).astype(numpy.float32)
    labels = (features[:, 0] + 0.5 * features[:, 1] + rng.normal(scale=0.5, size=TRAINING_ROWS) > 0).astype(int)
    parameters = {"objective": "binary", "num_leaves": 7, "min_data_in_leaf": 5, "num_threads": 2, "verbose": -1}
    booster = lightgbm.train(parameters, lightgbm.Dataset(features, labels), num_boost_round=10)
    model = export_onnx(booster, TRAINING_FEATURES, slope=1.0, intercept=0.0, engagement_features=set())
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx_probability = session.run([OUTPUT_NAME], {INPUT_NAME: features})[0]
    lightgbm_probability = booster.predict(features)
    gap = float(numpy.max(numpy.abs(onnx_probability - lightgbm_probability)))
    assert gap < 1e-5, f"onnxruntime and LightGBM disagree by {gap}"

    pipeline = train_with_the_pipeline()

    outside = [m.__name__ for m in modules if not _inside(m.__file__, opt)] + modules_outside(opt)
    assert not outside, f"imported from outside the layers: {sorted(set(outside))}"
    present = sorted(name for name in TRAINING_ABSENT if name in sys.modules)
    assert not present, f"imported, though the training layer must do without them: {present}"
    openmp = loaded_libraries("libgomp")
    assert openmp, "LightGBM's OpenMP runtime is not loaded"
    assert all(_inside(path, opt) for path in openmp), f"LightGBM's OpenMP runtime from outside the layers: {openmp}"
    versions = {name: sys.modules[name].__version__ for name in ("lightgbm", "onnx", "onnxmltools", "scipy")}
    summary = {
        "trained": f"{booster.num_trees()} trees on {TRAINING_ROWS}x{TRAINING_FEATURES}",
        "onnx_gap": gap,
        "openmp": [os.path.relpath(path, opt) for path in openmp],
        "pipeline": pipeline,
        "versions": versions,
    }
    print(json.dumps(summary))


def check_handler() -> None:
    """Lambda imports `handler.handler` from the function's directory (first on sys.path) at cold start."""
    handler = importlib.import_module("handler")
    assert callable(getattr(handler, "handler", None)), "handler.handler is not callable"


def check_handlers(tasks: list[str]) -> None:
    """Each function's handler in turn, its directory first on sys.path as /var/task is, in one process (under
    emulation, where a process per handler is too slow)."""
    task_root = os.environ.get("LAMBDA_TASK_ROOT")
    for task in tasks:
        sys.path.insert(0, task)
        os.environ["LAMBDA_TASK_ROOT"] = task
        try:
            check_handler()
            assert _inside(sys.modules["handler"].__file__, os.path.realpath(task)), f"{task}: another handler.py"
        finally:
            sys.modules.pop("handler", None)
            sys.path.remove(task)
            if task_root is None:
                os.environ.pop("LAMBDA_TASK_ROOT", None)
            else:
                os.environ["LAMBDA_TASK_ROOT"] = task_root


def main(argv: list[str]) -> None:
    if argv[:1] == ["layers"] and len(argv) == 2:
        check_layers(os.path.realpath(argv[1]))
    elif argv == ["handler"]:
        check_handler()
    elif argv[:1] == ["handlers"] and len(argv) > 1:
        check_handlers(argv[1:])
    elif argv[:1] == ["training"] and len(argv) == 2:
        check_training(os.path.realpath(argv[1]))
    else:
        sys.exit("usage: smoke.py layers OPT | smoke.py handler | smoke.py handlers TASK... | smoke.py training OPT")


if __name__ == "__main__":
    main(sys.argv[1:])
