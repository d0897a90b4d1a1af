"""Our numpy metrics and Platt scaling against scikit-learn's, which the training function cannot ship."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from aiqleads.scoring import metrics

scores_and_labels = st.integers(min_value=2, max_value=300).flatmap(
    lambda n: st.tuples(
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]) | st.floats(0, 1), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


@settings(max_examples=150, deadline=None)
@given(scores_and_labels)
def test_the_figures_are_sklearns_with_and_without_ties(data: tuple[list[float], list[bool]]) -> None:
    scores, labels = np.array(data[0]), np.array(data[1], dtype=np.float64)
    if labels.min() == labels.max():
        assert np.isnan(metrics.roc_auc(labels, scores))
        return
    assert metrics.roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert metrics.average_precision(labels, scores) == pytest.approx(average_precision_score(labels, scores))
    assert metrics.brier(labels, scores) == pytest.approx(brier_score_loss(labels, scores))
    assert metrics.log_loss(labels, scores) == pytest.approx(log_loss(labels, scores, labels=[0, 1]), rel=1e-9)


def test_platt_finds_the_optimum_sklearn_approaches() -> None:
    rng = np.random.default_rng(7)
    raw = rng.normal(-2.0, 1.5, 20_000)
    labels = (rng.random(raw.size) < 1 / (1 + np.exp(-(0.8 * raw + 0.3)))).astype(np.float64)
    slope, intercept = metrics.platt(raw, labels)
    reference = LogisticRegression(C=1e6, max_iter=1000, tol=1e-10).fit(raw.reshape(-1, 1), labels)
    assert slope == pytest.approx(reference.coef_[0][0], rel=1e-5)
    assert intercept == pytest.approx(reference.intercept_[0], rel=1e-5)
    assert slope == pytest.approx(0.8, abs=0.05)
