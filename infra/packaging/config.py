"""Where the build's inputs are, the Lambda platform it targets and the size limits, shared by every step."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPS_REQUIREMENTS = ROOT / "layers" / "deps" / "requirements.txt"
DEPS_LOCK = ROOT / "layers" / "deps" / "requirements.lock"  # DEPS_REQUIREMENTS pinned with hashes (make lock)
# The training function's own layer (lightgbm, onnx, onnxmltools and what they import), on top of the deps layer.
TRAINING_REQUIREMENTS = ROOT / "layers" / "training" / "requirements.txt"
TRAINING_LOCK = ROOT / "layers" / "training" / "requirements.lock"  # pinned like DEPS_LOCK (make lock)
CORE_PACKAGE = ROOT / "layers" / "core" / "aiqleads"
MODEL_ROOT = ROOT / "model_artifacts" / "lead_scorer"
OPENAPI_DOCUMENT = ROOT / "openapi.json"  # GET /v1/openapi.json serves it from the core layer (make openapi)
FUNCTIONS_DIR = ROOT / "functions"
TEMPLATE = ROOT / "template.yaml"  # which layers each function deploys with (the size check is per function)
DEFAULT_OUT = ROOT / "build" / "package"

PYTHON_VERSION = "3.13"
# Lambda architecture name -> the machine name in manylinux platform tags.
ARCHITECTURES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}
# The python3.13 runtime runs on Amazon Linux 2023 (glibc 2.34): any manylinux_2_17 .. manylinux_2_34 wheel runs.
# manylinux2014 (= manylinux_2_17) alone is not enough: onnxruntime >= 1.20 and pyarrow publish manylinux_2_28
# wheels only, and pip does not widen a manylinux_2_x --platform to other glibc versions.
GLIBC_MINORS = range(34, 16, -1)

MB = 1024 * 1024  # Lambda's "250 MB" is 262,144,000 bytes = 250 MiB
LAMBDA_UNZIPPED_LIMIT_MB = 250
GOAL_UNZIPPED_MB = 150


class PackagingError(Exception):
    """The build cannot produce correct artifacts; the message says why."""


def shorten(part: str) -> str:
    """`part` relative to the repository when it is a path inside it, for shorter output."""
    try:
        return str(Path(part).relative_to(ROOT)) if os.path.isabs(part) else part
    except ValueError:
        return part
