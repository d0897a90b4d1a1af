"""Training: dataset, spec fitting and inference, LightGBM + calibration, ONNX export with parity, artifact."""
