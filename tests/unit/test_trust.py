"""Scores people trust (issue 13): engagement only helps, fit and engagement move apart, engagement fades, and
reasons are about what is known, in the lead's own values. Through the shipped model and the real-time path."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from functools import cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiqleads.composition import default_scorer
from aiqleads.features.behaviour import BEHAVIOUR_COLUMNS, BehaviourTotals
from aiqleads.models import Action, Interaction, Lead
from aiqleads.scoring.batch import score_table
from aiqleads.scoring.reasons import Explainer
from aiqleads.scoring.scorer import Scorer
from aiqleads.validation.flat import InvalidRow, lead_from_flat
from aiqleads_offline.generate import generate_table
from tests.fakes import memory_lead_service

TENANT = "acme"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SERIOUS = (Action.INQUIRY, Action.MESSAGE, Action.SCHEDULE, Action.CONTACT)
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@cache
def leads() -> list[Lead]:
    """Generated leads without behaviour (a CRM export's rows): what the real-time path stores at ingest."""
    found = []
    for row in generate_table(400, 31, invalid_rate=0.0).to_pylist():
        text = {k: None if v is None or k in BEHAVIOUR_COLUMNS else str(v) for k, v in row.items()}
        try:
            found.append(lead_from_flat(text))
        except InvalidRow:
            continue
    return found


def scorer() -> Scorer:
    return default_scorer()


interactions = st.lists(
    st.tuples(st.sampled_from(list(Action)), st.integers(min_value=0, max_value=60 * 24 * 20)), min_size=1, max_size=12
)


@PROPERTIES
@given(lead_index=st.integers(0, 399), steps=interactions)
def test_engagement_never_lowers_a_score_through_the_real_time_path(lead_index: int, steps: list) -> None:
    """Each interaction, applied by the events path, leaves the score at least where it was at that moment;
    a lead with its first interactions never scores below the same lead with none."""
    lead = leads()[lead_index % len(leads())]
    service = memory_lead_service()
    clock = [NOW]
    service.clock = lambda: clock[0]
    created = NOW - timedelta(days=30)
    lead = lead.model_copy(update={"created_at": created})
    untouched = service.ingest(TENANT, lead)
    moments = sorted(created + timedelta(minutes=minutes) for _, minutes in steps)
    for number, ((action, _), at) in enumerate(zip(steps, moments, strict=True)):
        clock[0] = at + timedelta(seconds=1)
        before = service.score(TENANT, lead)  # at the same moment, without this interaction
        change = service.apply_interaction(
            TENANT, Interaction(lead_id=lead.id, actor="lead", action=action, timestamp=at), f"e{number}"
        )
        assert change is not None
        assert change.current.probability >= before.probability, (action, before, change.current)
        assert change.current.fit == before.fit == untouched.fit  # behaviour never moves fit
        nothing = scorer().score_lead(lead)  # the same lead with nothing recorded
        assert change.current.probability >= nothing.probability
        if action in SERIOUS:
            assert change.current.engagement is not None
            assert before.engagement is not None
            assert change.current.engagement >= before.engagement


lead_changes = st.fixed_dictionaries(
    {},
    optional={
        "timeline": st.sampled_from(["asap", "0-3 months", "3-6 months", "6-12 months", "12+ months", "unknown"]),
        "source": st.sampled_from(["zillow", "referral", "facebook-ads", "open-house", "a-new-source"]),
        "price": st.integers(50_000, 3_000_000),
        "description": st.sampled_from([None, "Motivated seller, relocating for work", "Nice home"]),
    },
)
behaviour = st.fixed_dictionaries(
    {},
    optional={
        name: st.floats(0, 40, allow_nan=False)
        for name in ("views", "clicks", "inquiries", "messages", "schedules", "sessions")
    }
    | {
        "minutes_to_first_contact": st.floats(0, 60 * 24 * 30, allow_nan=False),
        "hours_since_last_activity": st.floats(0, 24 * 90, allow_nan=False),
    },
)


def _changed(lead: Lead, changes: dict) -> Lead:
    flat = {k: None if v is None else str(v) for k, v in lead.flat().items() if k not in BEHAVIOUR_COLUMNS}
    flat.update({k: None if v is None else str(v) for k, v in changes.items()})
    return lead_from_flat({k: v for k, v in flat.items() if not k.startswith("market_")})


@PROPERTIES
@given(lead_index=st.integers(0, 399), first=behaviour, second=behaviour, changes=lead_changes)
def test_behaviour_never_moves_fit_and_lead_fields_never_move_engagement(
    lead_index: int, first: dict, second: dict, changes: dict
) -> None:
    lead = leads()[lead_index % len(leads())]
    a, b = scorer().score_lead(lead, first), scorer().score_lead(lead, second)
    assert a.fit == b.fit
    other = _changed(lead, changes)
    c = scorer().score_lead(other, first)
    assert c.engagement == a.engagement
    for score in (a, b, c):
        assert score.fit is not None
        assert score.engagement is not None
        assert score.matrix_grade is not None
        letter = "A" if score.fit >= 75 else "B" if score.fit >= 50 else "C" if score.fit >= 25 else "D"
        digit = "1" if score.engagement >= 67 else "2" if score.engagement >= 33 else "3"
        assert score.matrix_grade == letter + digit
    assert scorer().score_lead(lead).engagement == 0  # nothing recorded: no engagement


def test_engagement_fades_with_the_half_life() -> None:
    """The same interactions count less as they age: a month later at most half as much engagement."""
    lead = leads()[3]
    start = NOW - timedelta(days=90)
    steps = [(Action.INQUIRY, 0), (Action.MESSAGE, 30), (Action.SCHEDULE, 90), (Action.VIEW, 95)]
    totals = BehaviourTotals.replay((action, start + timedelta(minutes=m)) for action, m in steps)
    assert totals is not None
    fresh = totals.signals(start, start + timedelta(hours=3), half_life_days=30.0)
    month = totals.signals(start, start + timedelta(days=30, hours=3), half_life_days=30.0)
    assert month["inquiries"] == pytest.approx(fresh["inquiries"] / 2, rel=0.02)
    engaged = [scorer().score_lead(lead, values).engagement or 0 for values in (fresh, month)]
    later = totals.signals(start, start + timedelta(days=365), half_life_days=30.0)
    engaged.append(scorer().score_lead(lead, later).engagement or 0)
    assert engaged[0] > engaged[2], engaged
    assert engaged == sorted(engaged, reverse=True), engaged


def test_no_reason_of_a_leads_only_file_is_built_on_a_missing_value() -> None:
    """A CRM export with no behaviour and gaps in optional fields: every reason names a value the lead has,
    in both paths, and up reasons raise the score while down reasons lower it."""
    table = generate_table(2000, 17, invalid_rate=0.0).drop_columns(list(BEHAVIOUR_COLUMNS))
    text = table.cast(__import__("pyarrow").schema([(n, __import__("pyarrow").string()) for n in table.column_names]))
    model = scorer()
    scored = score_table(model, text)
    matrix = model.columnar_features.matrix(scored.validated.typed, scored.validated.size)[scored.validated.valid]
    names = model.spec.names
    none_values = {f.name: f.none_value for f in model.spec.features}
    reasons_column = scored.table["reasons"].to_pylist()
    seen_missing = 0
    for row in range(len(matrix)):
        vector = matrix[row]
        seen_missing += int(np.isnan(vector).any())
        factors = model.explainer.factors(vector)
        assert "; ".join(str(f) for f in factors) == reasons_column[row]  # the two paths agree
        for factor in factors:
            value = float(vector[names.index(factor.feature)])
            assert not math.isnan(value), factor
            assert value != none_values[factor.feature], factor  # "nothing recorded" is not a reason here
            assert "unknown" not in factor.text or factor.feature == "timeline", factor  # timeline's own category
            assert (factor.impact > 0) == (factor.direction == "up"), factor
    assert seen_missing > 100  # the file does have gaps: the property is not vacuous


def test_a_worded_none_state_is_a_reason_and_an_unworded_one_never_is() -> None:
    model = scorer()
    explanations = model.artifact.manifest.explanations.model_copy(deep=True)
    recency = next(b for b in explanations.features if b.feature == "activity_recency")
    recency.none_phrase, recency.none_impact = "No activity recorded yet", -2.0
    vector = model.record_features.values(leads()[0].flat())
    worded = Explainer(explanations, model.spec).factors(vector)
    assert "No activity recorded yet" in [f.text for f in worded]
    assert all(f.feature != "activity_recency" for f in model.explainer.factors(vector))


def test_reasons_name_the_leads_values() -> None:
    lead = next(lead for lead in leads() if lead.timeline and lead.timeline.value == "asap")
    score = scorer().score_lead(lead, {"minutes_to_first_contact": 4.0, "hours_since_last_activity": 3.0})
    texts = [reason.text for reason in score.reasons]
    assert "First contacted 4 minutes after arriving" in texts, texts
    assert any(text == "Timeline: asap" for text in texts) or "Last active 3 hours ago" in texts, texts


def test_a_new_lead_that_fits_is_still_worth_a_call_now() -> None:
    """Without engagement a new lead's blended grade is low; its fit letter still makes it a call-now lead."""
    from aiqleads.recommendations.card import LeadCard
    from aiqleads.recommendations.insights import actions
    from aiqleads.recommendations.ranking import Candidate, Fit, Ranked

    card = LeadCard(
        source="zillow", property_type="condo", price=425_000.0, created_at=NOW.isoformat(), intent="sell",
        timeline="asap", has_email=True, has_phone=True, has_name=True, disposable_email=False, role_email=False,
        suspicious_phone=False, completeness=0.9,
    )  # fmt: skip

    def ranked(grade: str, matrix: str | None) -> Ranked:
        candidate = Candidate(
            lead_id="l1", market="las-vegas", probability=0.07, score=7, grade=grade, model_version="2.0.0",
            card=card, matrix_grade=matrix,
        )  # fmt: skip
        return Ranked(candidate, card, 0.5, Fit(1.0, None, None, None, 0.0), freshness=1.0, fraud=0.0)

    assert actions(ranked("C", "A3"))[0].action == "call_now"
    assert actions(ranked("C", "A3"))[0].reason.startswith("fit A")
    assert "call_now" not in [a.action for a in actions(ranked("C", "C3"))]
    assert "call_now" not in [a.action for a in actions(ranked("C", None))]  # a model without the matrix
