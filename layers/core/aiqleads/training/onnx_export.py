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


def export_onnx(booster: lgb.Booster, n_features: int, slope: float, intercept: float) -> onnx.ModelProto:
    converted = convert_lightgbm(
        booster,
        name="lead_scorer",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        zipmap=False,
        target_opset=TARGET_OPSET,
    )
    ensemble = next(n for n in converted.graph.node if n.op_type == ENSEMBLE)
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
