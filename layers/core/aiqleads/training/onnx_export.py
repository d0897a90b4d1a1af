"""Export a trained LightGBM booster plus its Platt calibration as one small ONNX graph: features -> probability
and the two halves of its log-odds (fit, engagement).

Platt calibration is sigmoid(slope * raw + intercept), so it folds into the ensemble itself: every leaf value
times `slope`, `intercept` as a base value. Training keeps fit and engagement features out of each other's trees
(interaction constraints), so each tree belongs to one side: the ensemble is exported as a regressor with two
targets, tree by tree to its side's, giving `margins` [rows, 2] (fit with the intercept, engagement); the
probability is the sigmoid of their sum. One ensemble evaluation gives all three.
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
MARGINS_NAME = "margins"
TARGET_OPSET = 15
ENSEMBLE = "TreeEnsembleClassifier"
FIT, ENGAGEMENT = 0, 1


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


def tree_sides(booster: lgb.Booster, engagement_features: set[int]) -> list[int]:
    """Per tree, FIT or ENGAGEMENT: the side of the features it splits on (a tree with no split is fit's)."""
    sides = []
    for tree in booster.dump_model()["tree_info"]:
        used: set[int] = set()
        stack = [tree["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_index" in node:
                used.add(node["split_feature"])
                stack += [node["left_child"], node["right_child"]]
        engaged = used & engagement_features
        if engaged and engaged != used:
            raise ValueError("a tree mixes fit and engagement features: train with the spec's interaction sets")
        sides.append(ENGAGEMENT if engaged else FIT)
    return sides


def _regressor(ensemble: onnx.NodeProto, sides: list[int], slope: float, intercept: float) -> onnx.NodeProto:
    """The classifier's trees as a two-target regressor: each tree's leaves to its side, scaled by `slope`."""
    copied = {a.name: onnx.helper.get_attribute_value(a) for a in ensemble.attribute if a.name.startswith("nodes_")}
    trees = list(_attribute(ensemble, "class_treeids").ints)  # type: ignore[union-attr]
    return helper.make_node(
        "TreeEnsembleRegressor",
        [INPUT_NAME],
        [MARGINS_NAME],
        domain="ai.onnx.ml",
        n_targets=2,
        aggregate_function="SUM",
        post_transform="NONE",
        base_values=[float(intercept), 0.0],
        target_treeids=trees,
        target_nodeids=list(_attribute(ensemble, "class_nodeids").ints),  # type: ignore[union-attr]
        target_ids=[sides[t] for t in trees],
        target_weights=[float(w) * slope for w in _attribute(ensemble, "class_weights").floats],  # type: ignore[union-attr]
        **copied,
    )


def export_onnx(
    booster: lgb.Booster, n_features: int, slope: float, intercept: float, engagement_features: set[int]
) -> onnx.ModelProto:
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
    if set(_attribute(ensemble, "class_ids").ints) != {0}:  # type: ignore[union-attr]
        raise ValueError("unexpected ONNX tree ensemble: expected the one score of a binary model")
    regressor = _regressor(ensemble, tree_sides(booster, engagement_features), slope, intercept)
    nodes = [
        regressor,
        helper.make_node("ReduceSum", [MARGINS_NAME, "sum_axis"], ["logit"], keepdims=0),
        helper.make_node("Sigmoid", ["logit"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(
        nodes,
        "lead_scorer",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [None, n_features])],
        [
            helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None]),
            helper.make_tensor_value_info(MARGINS_NAME, TensorProto.FLOAT, [None, 2]),
        ],
        initializer=[numpy_helper.from_array(np.array([1], dtype=np.int64), "sum_axis")],
    )
    model = helper.make_model(graph, opset_imports=list(converted.opset_import), producer_name="aiqleads")
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, TARGET_OPSET)
    model.ir_version = converted.ir_version
    onnx.checker.check_model(model)
    return model
