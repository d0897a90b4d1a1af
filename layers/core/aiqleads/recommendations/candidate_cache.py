"""A market's best candidates, kept for a few seconds by each process and shared by every buyer of the tenant.

Every buyer of a market starts from the same ScoreIndex page. A warm function serving many buyers would otherwise
read the same pages again and again: about 80% of a ten-market request's time in the local cloud. What a few
seconds of staleness can change stays correct:
- the buyer's own purchases come from the buyer's record on every request;
- exclusive sales are checked against the sale records for every page served;
- only a new or rescored lead waits, at most `seconds`, before it appears or moves.
`seconds` <= 0 turns the cache off.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiqleads.recommendations.ranking import Candidate
from aiqleads.recommendations.service import CandidateStore


@dataclass
class CachedCandidates:
    """A CandidateStore whose `top` answers are kept `seconds`; everything else goes straight to `source`."""

    source: CandidateStore
    seconds: float
    max_entries: int = 1024
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[tuple[str, str, int], tuple[float, tuple[Candidate, ...]]] = field(
        default_factory=OrderedDict, init=False, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def top(self, tenant_id: str, market: str, limit: int) -> list[Candidate]:
        if self.seconds <= 0:
            return self.source.top(tenant_id, market, limit)
        key = (tenant_id, market, limit)
        now = self.clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self._entries.move_to_end(key)
                return list(entry[1])
        found = tuple(self.source.top(tenant_id, market, limit))
        with self._lock:
            self._entries[key] = (now + self.seconds, found)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return list(found)

    def candidate(self, tenant_id: str, lead_id: str) -> Candidate | None:
        return self.source.candidate(tenant_id, lead_id)

    def sold_exclusive(self, tenant_id: str, lead_ids: Sequence[str]) -> dict[str, str]:
        return self.source.sold_exclusive(tenant_id, lead_ids)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
