"""Why a lead is recommended, in words, and what the buyer should do next, with a priority.

Actions (highest priority first), each with the reason it applies:
- call_now (high): grade A or B, or a fit letter of A or B (a new lead has no engagement yet, and speed to lead
  matters most then), with a timeline of asap / 0-3 months and a phone number, while the lead is fresh;
- schedule_viewing (high for buyers with a short timeline, else medium): intent buy, a dwelling (not land);
- request_valuation (medium): intent sell, to win the listing;
- send_email (medium; high when there is no phone): an email address and nothing more urgent;
- send_text (medium): a phone without a call-now case;
- nurture (low): grade C/D without a fit of A/B, or a long timeline: a drip campaign rather than sales time.
"""

from __future__ import annotations

import json
from datetime import datetime

from aiqleads.leads import trend
from aiqleads.models import NextBestAction
from aiqleads.recommendations.ranking import Ranked

PRIORITY_ORDER = {"high": 0, "medium": 1, "low": 2}
SHORT_TIMELINES = {"asap", "0-3 months"}
LONG_TIMELINES = {"6-12 months", "12+ months"}
FRESH_DAYS_FRESHNESS = 0.8  # freshness at or above this counts as fresh (about a week at the default half-life)


def _money(value: float) -> str:
    return f"${value / 1_000_000:.2f}M" if value >= 1_000_000 else f"${value / 1000:.0f}k"


def actions(ranked: Ranked) -> list[NextBestAction]:
    card, grade, matrix = ranked.card, ranked.candidate.grade, ranked.candidate.matrix_grade
    fits = matrix is not None and matrix[0] in ("A", "B")
    hot = grade in ("A", "B") or fits
    short = card.timeline in SHORT_TIMELINES
    found: list[NextBestAction] = []
    if hot and short and card.has_phone and ranked.freshness >= FRESH_DAYS_FRESHNESS:
        found.append(
            NextBestAction(
                action="call_now",
                priority="high",
                reason=f"{'grade ' + grade if grade in ('A', 'B') else 'fit ' + str(matrix)[0]}, wants to move "
                f"{card.timeline}, reachable by phone",
            )
        )
    if card.intent == "buy" and card.property_type not in (None, "land"):
        found.append(
            NextBestAction(
                action="schedule_viewing",
                priority="high" if short else "medium",
                reason="an active buyer: show matching homes",
            )
        )
    if card.intent == "sell":
        found.append(
            NextBestAction(
                action="request_valuation", priority="medium", reason="a seller: offer a valuation to win the listing"
            )
        )
    if card.has_email:
        found.append(
            NextBestAction(
                action="send_email",
                priority="medium" if card.has_phone else "high",
                reason="introduce yourself in writing" if card.has_phone else "email is the only channel",
            )
        )
    if card.has_phone and not any(a.action == "call_now" for a in found):
        found.append(
            NextBestAction(action="send_text", priority="medium", reason="a short text gets a reply before a cold call")
        )
    if not hot or card.timeline in LONG_TIMELINES:
        found.append(NextBestAction(action="nurture", priority="low", reason="not ready yet: add to a drip campaign"))
    return sorted(found, key=lambda a: PRIORITY_ORDER[a.priority])  # stable: rule order within a priority


def insights(ranked: Ranked, as_of: datetime | None = None) -> list[str]:
    """The lines, best evidence first; with `as_of`, the score's 7-day trend after the grade ("Score improving:
    +12 in 7 days"), from the points on the candidate's score item (no read: leads/trend.py)."""
    card, candidate, fit = ranked.card, ranked.candidate, ranked.fit
    lines = [f"Grade {candidate.grade}: {candidate.probability:.0%} expected chance to convert"]
    if as_of is not None and candidate.recent_scores:
        line = trend.insight(trend.trend(trend.loads(candidate.recent_scores), as_of, candidate.score))
        if line is not None:
            lines.append(line)
    for reason in json.loads(candidate.reasons_json or "[]"):
        if reason.get("direction") == "up":
            lines.append(f"Raises the score: {reason.get('text')}")
    if fit.type_match:
        lines.append(f"A {str(card.property_type).replace('_', ' ')}, one of your property types")
    elif fit.type_match is False:
        lines.append(f"A {str(card.property_type or 'property').replace('_', ' ')}, outside your property types")
    if fit.price_match and card.price is not None:
        lines.append(f"Priced at {_money(card.price)}, within your range")
    elif fit.price_match is False and card.price is not None:
        lines.append(f"Priced at {_money(card.price)}, outside your range")
    if fit.market_preferred:
        lines.append(f"In {candidate.market}, one of your preferred markets")
    if fit.history_match > 0:
        lines.append("Like leads you bought before")
    age = "new" if ranked.freshness >= FRESH_DAYS_FRESHNESS else "older"
    lines.append(f"{age.capitalize()} lead (freshness {ranked.freshness:.2f}) from {card.source}")
    return lines


def features_used(ranked: Ranked) -> list[str]:
    model_features = [
        str(reason.get("feature"))
        for reason in json.loads(ranked.candidate.reasons_json or "[]")
        if reason.get("feature")
    ]
    ranking_features = ["probability", "market", "created_at (freshness)", "contact flags (fraud signal)"]
    if ranked.fit.type_match is not None:
        ranking_features.append("property_type")
    if ranked.fit.price_match is not None:
        ranking_features.append("price")
    if ranked.fit.history_match or ranked.fit.market_preferred is not None:
        ranking_features.append("purchase history and preferred markets")
    return list(dict.fromkeys(model_features + ranking_features))
