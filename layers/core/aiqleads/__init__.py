"""AIQLeads: score, explain and recommend real-estate leads.

The library is grouped by part of the mission (see ARCHITECTURE.md): `validation/` cleans and checks a lead,
`features/` turns it into model inputs, `scoring/` runs the ONNX model and explains the score, `files/` and
`bulk/` score whole files, `leads/` holds the use cases of one lead, `recommendations/` ranks leads for a buyer,
`webhooks/` and `notifications/` deliver what happened, `storage/` is the only code that talks to AWS, `api/`
serves REST and GraphQL, and `composition.py` wires them for the functions.

The names below are the small public API. They load on first use, so `import aiqleads` stays cheap for
functions that never score (the authorizer imports no numpy, pyarrow or onnxruntime).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiqleads.files.score_file import FileScoringReport, score_file
    from aiqleads.models import Buyer, Conversion, Interaction, Lead, Reason, Recommendation, Score
    from aiqleads.scoring.artifact import ModelArtifact, load_artifact
    from aiqleads.scoring.scorer import Scorer

_EXPORTS = {
    "Lead": "aiqleads.models",
    "Interaction": "aiqleads.models",
    "Conversion": "aiqleads.models",
    "Buyer": "aiqleads.models",
    "Score": "aiqleads.models",
    "Reason": "aiqleads.models",
    "Recommendation": "aiqleads.models",
    "ModelArtifact": "aiqleads.scoring.artifact",
    "load_artifact": "aiqleads.scoring.artifact",
    "Scorer": "aiqleads.scoring.scorer",
    "score_file": "aiqleads.files.score_file",
    "FileScoringReport": "aiqleads.files.score_file",
}

__all__ = [
    "Buyer",
    "Conversion",
    "FileScoringReport",
    "Interaction",
    "Lead",
    "ModelArtifact",
    "Reason",
    "Recommendation",
    "Score",
    "Scorer",
    "load_artifact",
    "score_file",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'aiqleads' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
