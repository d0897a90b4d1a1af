"""Export a trained LightGBM booster plus its Platt calibration as one ONNX graph: features -> probability."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxmltools.convert import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType

INPUT_NAME = "features"
OUTPUT_NAME = "probability"
EPSILON = 1e-7
TARGET_OPSET = 15


def export_onnx(booster: lgb.Booster, n_features: int, slope: float, intercept: float) -> onnx.ModelProto:
    model = convert_lightgbm(
        booster,
        name="lead_scorer",
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        zipmap=False,
        target_opset=TARGET_OPSET,
    )
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, TARGET_OPSET)
    graph = model.graph
    probabilities = next(o.name for o in graph.output if o.name != "label")
    # Calibrate in log-odds: p' = sigmoid(slope * logit(p) + intercept), the same map as training used.
    constants: dict[str, np.ndarray] = {
        "cal_index": np.array([1], dtype=np.int64),
        "cal_low": np.array(EPSILON, dtype=np.float32),
        "cal_high": np.array(1 - EPSILON, dtype=np.float32),
        "cal_one": np.array(1.0, dtype=np.float32),
        "cal_slope": np.array(slope, dtype=np.float32),
        "cal_intercept": np.array(intercept, dtype=np.float32),
    }
    graph.initializer.extend(numpy_helper.from_array(v, k) for k, v in constants.items())
    graph.node.extend(
        [
            helper.make_node("Gather", [probabilities, "cal_index"], ["cal_p2d"], axis=1),
            helper.make_node("Clip", ["cal_p2d", "cal_low", "cal_high"], ["cal_p"]),
            helper.make_node("Sub", ["cal_one", "cal_p"], ["cal_q"]),
            helper.make_node("Div", ["cal_p", "cal_q"], ["cal_odds"]),
            helper.make_node("Log", ["cal_odds"], ["cal_logit"]),
            helper.make_node("Mul", ["cal_logit", "cal_slope"], ["cal_scaled"]),
            helper.make_node("Add", ["cal_scaled", "cal_intercept"], ["cal_z"]),
            helper.make_node("Sigmoid", ["cal_z"], ["cal_prob2d"]),
            helper.make_node("Flatten", ["cal_prob2d"], ["cal_flat"], axis=0),
            helper.make_node("Squeeze", ["cal_flat", "cal_axis0"], [OUTPUT_NAME]),
        ]
    )
    graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "cal_axis0"))
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [None]))
    onnx.checker.check_model(model)
    return model
