"""From the score index to pages of recommendations: candidates, ranking, diversity, cursors.

Candidates: for each market the buyer may draw from, the `candidates_per_market` best-scored leads of that
market, read best first from the ScoreIndex (gsi1pk = <tenant>#<market>) in bounded pages; never a table scan.
Markets are queried concurrently. The pool is every eligible candidate (ranking.evaluate), in the total order
of `Ranked.key`.

Pages: built greedily from the pool in order, taking an item unless its source or market already fills its
share of the page (`max(1, floor(share x limit))` items); a skipped item waits for a later page. Only when the
rest of the pool cannot fill a page within the caps (e.g. a buyer with a single market) does the page take the
best waiting items anyway. Every page except the last is full.

Stable and complete: the cursor pins `as_of` (the first page's time; freshness and the purchase/sale cut-off are
computed at it) and the page number, and is bound to the query. While scores do not change, page n is the same
on every call, and the pages together hold each eligible lead exactly once. Leads bought or sold exclusively
after `as_of` keep their place in the partition and are only left out of what is returned, so buying a lead from
page 1 never shifts page 2.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from aiqleads.errors import DomainError
from aiqleads.recommendations.config import Diversity
from aiqleads.recommendations.ranking import Candidate, Ranked

CURSOR_VERSION = 1


class InvalidCursor(DomainError):
    status = 400
    code = "invalid_cursor"


class CandidateSource(Protocol):
    def top(self, tenant_id: str, market: str, limit: int) -> list[Candidate]:
        """The market's `limit` best-scored leads, best first (ScoreIndex order)."""
        ...


Mapper = Callable[[Callable[[str], list[Candidate]], Sequence[str]], Iterable[list[Candidate]]]


def sequential_map(function: Callable[[str], list[Candidate]], items: Sequence[str]) -> Iterable[list[Candidate]]:
    return [function(item) for item in items]


def gather_candidates(
    source: CandidateSource, tenant_id: str, markets: Sequence[str], per_market: int, mapper: Mapper = sequential_map
) -> list[Candidate]:
    results = mapper(lambda market: source.top(tenant_id, market, per_market), list(markets))
    seen: set[str] = set()
    candidates: list[Candidate] = []
    for batch in results:
        for candidate in batch:
            if candidate.lead_id not in seen:
                seen.add(candidate.lead_id)
                candidates.append(candidate)
    return candidates


# ---------------------------------------------------------------------------------------------------- pages


def cap(share: float, limit: int) -> int:
    return max(1, math.floor(share * limit + 1e-9))


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # 0-based
    items: list[Ranked]
    relaxed: bool  # the caps could not all be kept with what was left
    has_more: bool


def _relax(
    taken: list[Ranked],
    pending: list[Ranked],
    limit: int,
    by_source: tuple[dict[str, int], int],
    by_market: tuple[dict[str, int], int],
) -> None:
    """Fill the page from the skipped items, breaking as few caps as possible: a cap is broken only when no
    skipped item is left that keeps it (then the group truly fills what is left), best-ranked first otherwise."""
    caps = ((by_source, "source"), (by_market, "market"))
    while len(taken) < limit and pending:
        # Caps some pending item still keeps: breaking one of them now would be avoidable.
        keepable = [
            (counts, cap, attribute)
            for (counts, cap), attribute in caps
            if any(counts.get(getattr(item, attribute), 0) < cap for item in pending)
        ]
        # The best-ranked item breaking the fewest keepable caps (the first breaking none, if any does).
        best, fewest = 0, len(keepable) + 1
        for index, item in enumerate(pending):
            breaks = sum(1 for counts, cap, attribute in keepable if counts.get(getattr(item, attribute), 0) >= cap)
            if breaks < fewest:
                best, fewest = index, breaks
                if breaks == 0:
                    break
        item = pending.pop(best)
        taken.append(item)
        for (counts, _), attribute in caps:
            group = getattr(item, attribute)
            counts[group] = counts.get(group, 0) + 1


def paginate(pool: Sequence[Ranked], limit: int, diversity: Diversity, page: int) -> Page:
    """Page `page` (0-based) of the pool, partitioned as the module docstring says."""
    remaining = sorted(pool, key=lambda r: r.key)
    source_cap = cap(diversity.max_source_share, limit)
    market_cap = cap(diversity.max_market_share, limit)
    number = 0
    while True:
        taken: list[Ranked] = []
        skipped_at: list[int] = []
        sources: dict[str, int] = {}
        markets: dict[str, int] = {}
        index = 0
        for index, item in enumerate(remaining):
            if len(taken) == limit:
                break
            if sources.get(item.source, 0) >= source_cap or markets.get(item.market, 0) >= market_cap:
                skipped_at.append(index)
                continue
            taken.append(item)
            sources[item.source] = sources.get(item.source, 0) + 1
            markets[item.market] = markets.get(item.market, 0) + 1
        relaxed = False
        if len(taken) < limit and skipped_at:
            relaxed = True
            _relax(taken, [remaining[i] for i in skipped_at], limit, (sources, source_cap), (markets, market_cap))
        chosen = {item.candidate.lead_id for item in taken}
        remaining = [item for item in remaining if item.candidate.lead_id not in chosen]
        if number == page or not remaining:
            ordered = sorted(taken, key=lambda r: r.key)
            return Page(number, ordered if number == page else [], relaxed, bool(remaining) and number == page)
        number += 1


# ---------------------------------------------------------------------------------------------------- cursors


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, separators=(",", ":")).encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Cursor:
    as_of: datetime
    page: int
    query: str  # fingerprint of the query the cursor belongs to

    def encode(self) -> str:
        body = {"v": CURSOR_VERSION, "t": int(self.as_of.timestamp()), "p": self.page, "q": self.query}
        body["c"] = fingerprint(body)
        return base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, query: str) -> Cursor:
        """The cursor, or InvalidCursor (400) if it was altered, is not ours, or belongs to another query."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body = json.loads(raw)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise InvalidCursor("the cursor is not one this API issued", {"field": "cursor"}) from None
        if not isinstance(body, dict) or body.get("v") != CURSOR_VERSION:
            raise InvalidCursor("the cursor is not one this API issued", {"field": "cursor"})
        check = body.pop("c", None)
        if check != fingerprint(body):
            raise InvalidCursor("the cursor was altered", {"field": "cursor"})
        if body.get("q") != query:
            raise InvalidCursor(
                "the cursor belongs to another query: keep buyer_id, limit, score_min and market as they were",
                {"field": "cursor"},
            )
        page, stamp = body.get("p"), body.get("t")
        if not isinstance(page, int) or page < 1 or not isinstance(stamp, int):
            raise InvalidCursor("the cursor is not one this API issued", {"field": "cursor"})
        return cls(as_of=datetime.fromtimestamp(stamp, UTC), page=page, query=query)
