"""The one batch path: a batch of text rows -> validated typed columns -> features -> scores and reasons -> the
results table. `aiqleads score`, the bulk function and every later batch job score through `score_table`; what
they do with the result (encode it, store lead and score items, ...) is theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import pyarrow as pa

from aiqleads.scoring.reasons import Explainer
from aiqleads.scoring.scorer import BatchScores, Scorer
from aiqleads.validation.columnar import ValidatedBatch, validate_batch

SCORE_COLUMNS = ("probability", "score", "grade", "fit", "engagement", "matrix_grade", "reasons")


@dataclass(frozen=True)
class ScoredBatch:
    """One scored batch. `validated` holds the typed columns of every row of `source` and which rows are
    valid; `scores` and `table` cover the valid rows only, in input order."""

    source: pa.Table
    first_row: int  # the 1-based row number of source's first row, for the error lines
    validated: ValidatedBatch
    scores: BatchScores
    explainer: Explainer

    @property
    def rows(self) -> int:
        return self.source.num_rows

    @property
    def scored(self) -> int:
        return len(self.scores)

    @cached_property
    def columns(self) -> dict[str, pa.Array]:
        """The typed columns of the valid rows."""
        return self.validated.columns()

    @cached_property
    def table(self) -> pa.Table:
        """The results rows: the valid input rows with every input column as it was (a score column the input
        already had is replaced), then SCORE_COLUMNS."""
        kept = self.source if self.validated.all_valid else self.source.filter(pa.array(self.validated.valid))
        kept = kept.drop_columns([name for name in SCORE_COLUMNS if name in kept.column_names])
        for name, column in self.scores.columns(self.explainer).items():
            kept = kept.append_column(name, column)
        return kept

    def error_lines(self) -> list[dict[str, Any]]:
        """The errors file's lines for this batch's invalid rows."""
        return [error.as_dict() for error in self.validated.errors]


def score_table(scorer: Scorer, batch: pa.Table, first_row: int = 1) -> ScoredBatch:
    """Validate and score `batch` (text cells, as `files.tabular` reads them); rows count from `first_row`."""
    validated = validate_batch(batch, scorer.spec, first_row=first_row)
    return ScoredBatch(batch, first_row, validated, scorer.score_batch(validated), scorer.explainer)
