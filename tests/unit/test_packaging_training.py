"""The training layer and the per-function size check, without pip or network: which layers each function deploys
with (template.yaml), each function's total against Lambda's limit, the training layer's prune rules (checked
against what LightGBM and the ONNX export really import here), its OpenMP runtime and the training smoke program."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.packaging import smoke
from infra.packaging.build import function_layer_sets
from infra.packaging.config import MB, TEMPLATE, PackagingError
from infra.packaging.elf import VENDORED_UNNEEDED, remove_unneeded_vendored_libraries, unresolved_libraries
from infra.packaging.layer_sets import FunctionLayers, function_layers, layer_artifacts, layers_for
from infra.packaging.report import ArchitectureBuild, Artifact, check_limits, size_table
from infra.packaging.smoke_runner import group_by_layers, training_layers
from infra.packaging.strip import StripReport, strip_tree
from infra.packaging.training import (
    IN_DEPS_LAYER,
    OPENMP_RUNTIME,
    TRAINING_STRIP_RULES,
    excluded_distributions,
    install_openmp_runtime,
    shared_with_deps_layer,
)
from infra.template import load_template
from tests.unit.test_packaging import dist, make_elf, relative_files, write

# ------------------------------------------------------------------------------------------------ layer sets


def layer(uri: str) -> dict:
    return {"Type": "AWS::Serverless::LayerVersion", "Properties": {"ContentUri": uri}}


def function(uri: str, **properties: object) -> dict:
    return {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": uri, **properties}}


TEMPLATE_DATA = {
    "Globals": {"Function": {"Layers": [{"Ref": "CoreLayer"}, {"Ref": "DepsLayer"}]}},
    "Resources": {
        "CoreLayer": layer("build/package/arm64/core/"),
        "DepsLayer": layer("build/package/arm64/deps/"),
        "TrainingLayer": layer("build/package/arm64/training/"),
        "ApiFunction": function("functions/api/"),
        "TrainingFunction": function(
            "functions/training/",
            Layers=[{"Ref": "TrainingLayer"}],
        ),
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {}},
    },
}


def test_a_function_deploys_with_its_own_layers_else_the_globals():
    assert layer_artifacts(TEMPLATE_DATA) == {"CoreLayer": "core", "DepsLayer": "deps", "TrainingLayer": "training"}
    assert function_layers(TEMPLATE_DATA) == {
        "api": FunctionLayers("api", "ApiFunction", ("core", "deps")),
        "training": FunctionLayers("training", "TrainingFunction", ("core", "deps", "training")),
    }
    # a functions/<name>/ directory the template does not declare yet: the Globals' layers
    assert layers_for(["api", "newcomer"], TEMPLATE_DATA)["newcomer"] == FunctionLayers(
        "newcomer", None, ("core", "deps")
    )


def test_a_layer_make_package_does_not_build_cannot_be_sized():
    template = json.loads(json.dumps(TEMPLATE_DATA))
    template["Resources"]["ApiFunction"]["Properties"]["Layers"] = ["arn:aws:lambda:us-east-1:1:layer:x:1"]
    with pytest.raises(PackagingError, match="ApiFunction: layer 'arn:aws:lambda"):
        function_layers(template)


def test_the_project_template_declares_the_training_layer_beside_the_others():
    template = load_template(TEMPLATE)
    assert layer_artifacts(template) == {"CoreLayer": "core", "DepsLayer": "deps", "TrainingLayer": "training"}
    training = template["Resources"]["TrainingLayer"]["Properties"]
    assert training["CompatibleArchitectures"] == template["Globals"]["Function"]["Architectures"] == ["arm64"]
    assert training["CompatibleRuntimes"] == ["python3.13"]
    assert template["Outputs"]["TrainingLayerArn"]["Value"] == {"Ref": "TrainingLayer"}
    for name, found in function_layers(template).items():
        assert found.layers[:2] == ("core", "deps"), name
        assert found.layers in {("core", "deps"), ("core", "deps", "training")}, name


# ------------------------------------------------------------------------------------------------ per-function sizes


def artifact(name: str, size_mb: float, **kind: str) -> Artifact:
    return Artifact(name, Path(name), int(size_mb * MB), int(size_mb * MB / 3), **kind)  # type: ignore[arg-type]


def project_build(training_mb: float, training_function: bool = True) -> ArchitectureBuild:
    build = ArchitectureBuild("arm64")
    build.artifacts = [
        artifact("deps.zip (DepsLayer)", 171, layer="deps"),
        artifact("training.zip (TrainingLayer)", training_mb, layer="training"),
        artifact("core.zip (CoreLayer)", 0.8, layer="core"),
        artifact("functions/api.zip", 0.1, function="api"),
        artifact("functions/notify.zip", 0.05, function="notify"),
    ]
    build.layer_sets = {
        "api": FunctionLayers("api", "ApiFunction", ("core", "deps")),
        "notify": FunctionLayers("notify", "NotifyFunction", ("core", "deps")),
    }
    if training_function:
        build.artifacts.append(artifact("functions/training.zip", 0.1, function="training"))
        build.layer_sets["training"] = FunctionLayers("training", "TrainingFunction", ("core", "deps", "training"))
    else:
        build.unused_layer_sets = [("core", "deps", "training")]
    return build


def test_each_function_is_checked_with_the_layers_it_uses_not_every_layer():
    fits = project_build(training_mb=70)
    totals = {total.layers: (total.largest, round(total.unzipped / MB, 1)) for total in fits.totals()}
    assert totals == {("core", "deps"): ("api", 171.9), ("core", "deps", "training"): ("training", 241.9)}
    errors, warnings = check_limits([fits])
    assert errors == []
    assert [w.split(" are ")[0] for w in warnings] == [
        "arm64: functions/api + layers core, deps (the largest of 2 functions with these layers)",
        "arm64: functions/training + layers core, deps, training",
    ]
    assert fits.unzipped / MB > 242  # every artifact together: not what any function deploys

    errors, _ = check_limits([project_build(training_mb=80)])
    assert errors == [
        "arm64: functions/training + layers core, deps, training are 251.9 MB unzipped, above Lambda's 250 MB limit"
    ]


def test_a_layer_no_function_uses_yet_is_checked_with_the_layers_it_will_deploy_with():
    errors, _ = check_limits([project_build(training_mb=80, training_function=False)])
    assert errors == [
        "arm64: layers core, deps, training (before any function's zip) are 251.8 MB unzipped, above Lambda's 250 MB "
        "limit"
    ]


def test_the_build_reads_each_functions_layers_and_the_sets_no_built_function_uses(tmp_path: Path):
    template = write(
        tmp_path / "template.json", json.dumps({"AWSTemplateFormatVersion": "2010-09-09", **TEMPLATE_DATA})
    )
    build = project_build(training_mb=30, training_function=False)
    sets, unused = function_layer_sets(["api", "notify"], template, build)
    assert sets["api"] == FunctionLayers("api", "ApiFunction", ("core", "deps"))
    assert sets["notify"] == FunctionLayers("notify", None, ("core", "deps"))  # not in this template: the Globals'
    assert any(note.startswith("functions/notify is not in") for note in build.notes)
    assert unused == [("core", "deps", "training")]  # as TrainingFunction declares them

    build.artifacts = [a for a in build.artifacts if a.layer != "training"]
    assert function_layer_sets(["api"], template, build)[1] == []
    with pytest.raises(
        PackagingError, match=r"functions/training uses layers this build does not make: \['training'\]"
    ):
        function_layer_sets(["api", "training"], template, build)


def test_the_size_table_prints_every_layer_and_each_sets_largest_function():
    lines = size_table([project_build(training_mb=60)]).splitlines()
    rows = {line.split("  ")[1].strip(): line.split() for line in lines[2:]}
    assert rows["training.zip (TrainingLayer)"][-2] == "60.0"
    assert rows["TOTAL training (+ core, deps, training)"][-2] == "231.9"
    assert rows["TOTAL api (+ core, deps, largest of 2)"][-2] == "171.9"
    assert not any("functions + layers" in line for line in lines)
    before = size_table([project_build(training_mb=60, training_function=False)])
    assert "TOTAL core, deps, training (layers only: no function uses them yet)" in before


# ------------------------------------------------------------------------------------------------ prune rules


def test_the_training_rules_drop_scipys_unused_subpackages_and_onnxs_tests_and_keep_what_lightgbm_loads(tmp_path: Path):
    site = tmp_path / "python"
    keep = [
        "scipy/__init__.py",
        "scipy/version.py",
        "scipy/__config__.py",
        "scipy/_distributor_init.py",
        "scipy/_cyutility.cpython-313-aarch64-linux-gnu.so",
        "scipy/_lib/_util.py",
        "scipy/sparse/__init__.py",
        "scipy/sparse/_csr.py",
        "scipy/sparse/_sparsetools.cpython-313-aarch64-linux-gnu.so",
        "onnx/__init__.py",
        "onnx/helper.py",
        "onnx/onnx_ml_pb2.py",
        "onnx/defs/__init__.py",
        "google/protobuf/message.py",
        "lightgbm/lib/lib_lightgbm.so",
        "lightgbm/sklearn.py",  # LightGBM's own module: lightgbm/__init__ imports it, scikit-learn or not
        "onnxmltools/convert/main.py",
    ]
    remove = {
        "scipy/linalg/_flapack.cpython-313-aarch64-linux-gnu.so": "SciPy subpackages",
        "scipy/stats/_stats_py.py": "SciPy subpackages",
        "scipy/sparse/linalg/_propack.cpython-313-aarch64-linux-gnu.so": "SciPy subpackages",
        "scipy/sparse/csgraph/__init__.py": "SciPy subpackages",
        "scipy/sparse/tests/test_base.py": "test suites",
        "scipy/conftest.py": "test suites",
        "onnx/backend/test/data/node/test_abs/model.onnx": "onnx's backend test runner",
        "onnx/backend/base.py": "onnx's backend test runner",
        "onnx/reference/op_run.py": "onnx's reference evaluator",
        "onnx/onnx-ml.proto": "the protobuf sources",
        "onnx/defs/schema.h": "stubs, headers",
        "google/protobuf/testdata/golden_message": "protobuf's test data",
    }
    for name in [*keep, *remove]:
        write(site / name, b"0123456789")

    report = strip_tree(site, TRAINING_STRIP_RULES)

    assert relative_files(site) == set(keep)
    for prefix in set(remove.values()):
        assert any(reason.startswith(prefix) for reason in report.removed), prefix


def test_the_training_rules_keep_every_module_lightgbm_and_the_onnx_export_import(tmp_path: Path):
    """What this environment loads (scikit-learn and pandas hidden, as in the layer) for a LightGBM model and its
    ONNX conversion: no file of it may match a rule."""
    probe = """
import importlib.abc, json, os, site, sys
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {"sklearn", "pandas", "skl2onnx"}:
            raise ModuleNotFoundError(name, name=name)
sys.meta_path.insert(0, Hide())
import numpy, lightgbm
from onnxmltools.convert import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType
x = numpy.random.default_rng(0).random((100, 3)); y = (x[:, 0] > 0.5).astype(int)
booster = lightgbm.train({"objective": "binary", "verbose": -1}, lightgbm.Dataset(x, y), 3)
convert_lightgbm(booster, initial_types=[("x", FloatTensorType([None, 3]))], target_opset=15, zipmap=False)
root = os.path.dirname(os.path.dirname(lightgbm.__file__))
files = {os.path.relpath(m.__file__, root) for m in list(sys.modules.values()) if getattr(m, "__file__", None)}
print(json.dumps(sorted(f for f in files if not f.startswith(".."))))
"""
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    imported = [f for f in json.loads(found.stdout) if f.split("/")[0] in {"scipy", "onnx", "lightgbm", "google"}]
    assert any(f.startswith("scipy/sparse/") for f in imported)
    assert any(f.startswith("onnx/") for f in imported)
    site = tmp_path / "python"
    for name in imported:
        write(site / name, b"x")
    strip_tree(site, TRAINING_STRIP_RULES)
    assert sorted(set(imported) - relative_files(site)) == []


def test_vendored_libraries_no_native_file_links_go_until_none_is_left(tmp_path: Path):
    site = tmp_path / "python"
    make_elf(site / "scipy" / "sparse" / "_sparsetools.so", ["libc.so.6"])
    make_elf(site / "onnx" / "onnx_cpp2py_export.abi3.so", ["libz-abc.so.1"])
    make_elf(site / "onnx.libs" / "libz-abc.so.1", ["libc.so.6"])
    make_elf(site / "scipy.libs" / "libscipy_openblas-1.so", ["libgfortran-2.so.5"])  # its linalg users are gone
    make_elf(site / "scipy.libs" / "libgfortran-2.so.5", ["libc.so.6"])  # needed only by that OpenBLAS
    report = StripReport()
    remove_unneeded_vendored_libraries(site, report)
    assert relative_files(site) == {
        "scipy/sparse/_sparsetools.so",
        "onnx/onnx_cpp2py_export.abi3.so",
        "onnx.libs/libz-abc.so.1",
    }
    assert report.removed[VENDORED_UNNEEDED][0] == 2


def test_a_library_another_layer_of_the_function_provides_resolves(tmp_path: Path):
    make_elf(tmp_path / "python" / "lightgbm" / "lib" / "lib_lightgbm.so", ["libgomp.so.1", "libc.so.6"])
    assert unresolved_libraries(tmp_path) == [
        "python/lightgbm/lib/lib_lightgbm.so needs libgomp.so.1, which is not in the layer"
    ]
    assert unresolved_libraries(tmp_path, provided=["libgomp.so.1"]) == []


def test_lightgbms_openmp_runtime_is_taken_from_the_scikit_learn_wheel_into_lib(tmp_path: Path):
    site = tmp_path / "python"
    with pytest.raises(PackagingError, match="found 0 copies"):
        install_openmp_runtime(site, tmp_path / "lib")
    write(site / "scikit_learn.libs" / "libgomp-a49a47f9.so.1.0.0", b"\x7fELF...")
    assert "libgomp-a49a47f9.so.1.0.0" in install_openmp_runtime(site, tmp_path / "lib")
    assert (tmp_path / "lib" / OPENMP_RUNTIME).read_bytes() == b"\x7fELF..."


def test_what_the_deps_layer_ships_is_left_to_it_and_must_be_the_same_version(tmp_path: Path):
    deps, training = tmp_path / "deps", tmp_path / "training"
    dist(deps, "numpy", [], {"numpy/__init__.py": ""})
    dist(deps, "pyarrow", [], {"pyarrow/__init__.py": ""})
    dist(training, "numpy", [], {"numpy/__init__.py": ""})
    shared = shared_with_deps_layer(training, deps)
    assert shared == {"numpy": IN_DEPS_LAYER, "pyarrow": IN_DEPS_LAYER}
    assert set(excluded_distributions(shared)) == {"numpy", "pyarrow", "skl2onnx"}

    metadata = training / "numpy-1.0.dist-info" / "METADATA"
    metadata.write_text(metadata.read_text().replace("Version: 1.0", "Version: 2.0"))
    with pytest.raises(PackagingError, match=r"numpy 2\.0 here, 1\.0 in the deps layer"):
        shared_with_deps_layer(training, deps)


# ------------------------------------------------------------------------------------------------ smoke


def test_the_training_smoke_trains_converts_and_runs_a_model(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(smoke, "TRAINING_ABSENT", ())  # this environment has scikit-learn, the layer does not
    smoke.main(["training", "/"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["trained"] == f"10 trees on {smoke.TRAINING_ROWS}x{smoke.TRAINING_FEATURES}"
    assert summary["onnx_gap"] < 1e-5
    assert set(summary["versions"]) == {"lightgbm", "onnx", "onnxmltools", "scipy"}
    valid = smoke.BULK_ROWS - smoke.BULK_ROWS // smoke.INVALID_EVERY
    assert summary["pipeline"]["rows"] == valid  # aiqleads.training's own pipeline, then its model scores a lead
    assert summary["pipeline"]["scored"] in {"A", "B", "C", "D"}
    with pytest.raises(AssertionError, match="imported from outside the layers"):
        smoke.check_training("/nonexistent/opt")


def test_each_function_is_smoke_tested_with_its_own_layers(tmp_path: Path):
    tasks = {"api": tmp_path / "api", "notify": tmp_path / "notify", "training": tmp_path / "training"}
    sets = {"api": ("core", "deps"), "training": ("core", "deps", "training")}
    assert group_by_layers(tasks, sets) == {
        ("core", "deps"): {"api": tmp_path / "api", "notify": tmp_path / "notify"},
        ("core", "deps", "training"): {"training": tmp_path / "training"},
    }
    assert training_layers(tmp_path, sets) is None  # no training.zip built
    write(tmp_path / "training.zip")
    assert training_layers(tmp_path, {"api": ("core", "deps")}) == ("core", "deps", "training")
    assert training_layers(tmp_path, {"t": ("deps", "training", "core")}) == ("deps", "training", "core")
