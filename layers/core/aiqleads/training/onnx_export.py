"""Export a trained LightGBM booster plus its Platt calibration as one small ONNX graph: features -> probability.

Platt calibration is sigmoid(slope * raw + intercept) and the tree ensemble already computes sigmoid(raw), so the
calibration folds into the ensemble itself: every leaf value times `slope`, `intercept` as the base value. The
graph is then the ensemble and one Gather, which keeps one-row latency at the ensemble's own cost.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxmltools.convert import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType

INPUT_NAME = "features"
OUTPUT_NAME = "probability"
TARGET_OPSET = 15
ENSEMBLE = "TreeEnsembleClassifier"


def _attribute(node: onnx.NodeProto, name: str) -> onnx.AttributeProto | None:
    return next((a for a in node.attribute if a.name == name), None)


def _floor_thresholds(ensemble: onnx.NodeProto, booster: lgb.Booster) -> None:
    """Make each `x <= threshold` split send float32 inputs where LightGBM sends them.

    LightGBM compares in double, the ONNX ensemble in float32 with the threshold rounded to the nearest float32.
    A threshold just under a float32 value v (LightGBM puts them there when the data has v and its float32
    neighbour below, as continuous measurements do) rounds up to v, and a row holding exactly v goes left in
    ONNX and right in LightGBM. For a float32 x, `x <= t` is `x <= the largest float32 not above t`, so those
    thresholds are stepped down one float32."""
    rounded_up: dict[int, set[float]] = {}  # feature -> float32 values that some threshold lies just under
    stack = [tree["tree_structure"] for tree in booster.dump_model()["tree_info"]]
    while stack:
        node = stack.pop()
        if "split_index" not in node:
            continue
        stack += [node["left_child"], node["right_child"]]
        threshold = node["threshold"]
        if node["decision_type"] == "<=" and float(np.float32(threshold)) > threshold:
            rounded_up.setdefault(node["split_feature"], set()).add(float(np.float32(threshold)))
    values, features, modes = (
        _attribute(ensemble, name) for name in ("nodes_values", "nodes_featureids", "nodes_modes")
    )
    if not rounded_up or values is None or features is None or modes is None:
        return
    for i, (value, feature, mode) in enumerate(zip(values.floats, features.ints, modes.strings, strict=True)):
        if mode == b"BRANCH_LEQ" and value in rounded_up.get(feature, ()):
            values.floats[i] = float(np.nextafter(np.float32(value), np.float32(-np.inf)))


def export_onnx(booster: lgb.Booster, n_features: int, slope: float, intercept: float) -> onnx.ModelProto:
    converted = convert_lightgbm(
        booster,
        name="lead_scorer",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        zipmap=False,
        target_opset=TARGET_OPSET,
    )
    ensemble = next(n for n in converted.graph.node if n.op_type == ENSEMBLE)
    _floor_thresholds(ensemble, booster)
    post_transform = _attribute(ensemble, "post_transform")
    if post_transform is None or post_transform.s != b"LOGISTIC" or _attribute(ensemble, "base_values") is not None:
        raise ValueError("unexpected ONNX tree ensemble: cannot fold the calibration into it")
    weights = _attribute(ensemble, "class_weights")
    assert weights is not None
    scaled = [float(w) * slope for w in weights.floats]
    del weights.floats[:]
    weights.floats.extend(scaled)
    ensemble.attribute.append(helper.make_attribute("base_values", [float(intercept)]))

    positive = helper.make_node("Gather", [ensemble.output[1], "positive_class"], [OUTPUT_NAME], axis=1)
    graph = helper.make_graph(
        [ensemble, positive],
        "lead_scorer",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, n_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None])],
        initializer=[numpy_helper.from_array(np.array(1, dtype=np.int64), "positive_class")],
    )
    model = helper.make_model(graph, opset_imports=list(converted.opset_import), producer_name="aiqleads")
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, TARGET_OPSET)
    model.ir_version = converted.ir_version
    onnx.checker.check_model(model)
    return model
