"""Scoring: where a lead's features become a probability, a 0-100 score, a grade and reasons.

artifact.py  a versioned model (model.onnx + manifest.json), checked when loaded, one session per process
scorer.py    features -> ONNX probability -> score, grade and reasons, for one lead or a whole batch
reasons.py   the factors that raised and lowered a score, in words a buyer understands
"""
