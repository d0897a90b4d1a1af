"""A tenant's market signals: one snapshot put or read (the API), many rows validated and stored (files, the demo).

Every snapshot belongs to the tenant that wrote it; scoring reads only the caller's own (LeadService.signals).
Rows are validated one by one with the `MarketSnapshot` model, the way the API validates a body: a bad row is
reported with its field errors, the valid rows are stored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from aiqleads.errors import InvalidInput, NotFound
from aiqleads.models import MarketPeriod, MarketSignals, MarketSnapshot
from aiqleads.validation.fields import field_errors, summary
from aiqleads.validation.grammar import blank_to_none

COLUMNS: tuple[str, ...] = tuple(MarketSnapshot.model_fields)
"""The columns of a market signals file, in the documented order; others are ignored."""
REQUIRED_COLUMNS: tuple[str, ...] = tuple(n for n, f in MarketSnapshot.model_fields.items() if f.is_required())
LATEST = "latest"  # GET .../snapshots/latest: the newest period, the one scores use


class MarketSnapshotStore(Protocol):
    def put(self, tenant_id: str, snapshot: MarketSnapshot) -> bool: ...
    def put_many(self, tenant_id: str, snapshots: Sequence[MarketSnapshot]) -> int: ...
    def get(self, tenant_id: str, market: str, period: str) -> MarketSnapshot | None: ...
    def latest(self, tenant_id: str, market: str) -> MarketSnapshot | None: ...


@dataclass(slots=True)
class LoadedRows:
    """What became of some rows: how many were stored, the error lines of the others (row, field, message,
    value), how many were superseded by a later row for the same market and period, and the latest period
    stored per market."""

    rows: int = 0
    stored: int = 0
    invalid: int = 0
    superseded: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    latest: dict[str, str] = field(default_factory=dict)

    def add(self, other: LoadedRows) -> None:
        self.rows += other.rows
        self.stored += other.stored
        self.invalid += other.invalid
        self.superseded += other.superseded
        self.errors.extend(other.errors)
        for market, period in other.latest.items():
            self.latest[market] = max(period, self.latest.get(market, period))


def _cells(row: Mapping[str, Any]) -> dict[str, Any]:
    """The known columns of a row that hold a value (an empty cell is an absent value, as in lead files)."""
    cells = {}
    for name in COLUMNS:
        value = row.get(name)
        if isinstance(value, str):
            value = blank_to_none(value)
        if value is not None:
            cells[name] = value
    return cells


def _row_errors(row_number: int, cells: Mapping[str, Any], error: ValidationError) -> list[dict[str, Any]]:
    lines = []
    for detail in field_errors(error):
        line: dict[str, Any] = {"row": row_number, "field": detail["field"], "message": detail["message"]}
        value = cells.get(detail["field"])
        if value is not None:
            line["value"] = str(value)[:200]
        lines.append(line)
    return lines


@dataclass
class MarketSignalService:
    store: MarketSnapshotStore

    def put(self, tenant_id: str, market: str, period: str, signals: MarketSignals) -> tuple[MarketSnapshot, bool]:
        """Create or replace the tenant's snapshot of `market` in `period`; (the snapshot, whether it is new)."""
        snapshot = self._snapshot(market, period, signals.model_dump())
        return snapshot, self.store.put(tenant_id, snapshot)

    def get(self, tenant_id: str, market: str, period: str) -> MarketSnapshot:
        """The tenant's snapshot of `market` in `period` (`latest`: its newest period, as scoring reads it)."""
        if period == LATEST:
            key = self._key(market, "2000-01")
            snapshot = self.store.latest(tenant_id, key.market)
            if snapshot is None:
                raise NotFound(f"no snapshot of {key.market!r}", {"market": market, "period": period})
            return snapshot
        key = self._key(market, period)
        snapshot = self.store.get(tenant_id, key.market, key.period)
        if snapshot is None:
            raise NotFound(f"no snapshot of {key.market!r} for {key.period}", {"market": market, "period": period})
        return snapshot

    @staticmethod
    def _snapshot(market: str, period: str, signals: dict[str, Any]) -> MarketSnapshot:
        """The snapshot the path names (a slug and a YYYY-MM month) with these signals; errors per field."""
        try:
            return MarketSnapshot.model_validate({**signals, "market": market, "period": period})
        except ValidationError as error:
            details = field_errors(error)
            raise InvalidInput(summary(details), details) from None

    @staticmethod
    def _key(market: str, period: str) -> MarketPeriod:
        try:
            return MarketPeriod.model_validate({"market": market, "period": period})
        except ValidationError as error:
            details = field_errors(error)
            raise InvalidInput(summary(details), details) from None

    def load_rows(self, tenant_id: str, rows: Iterable[Mapping[str, Any]], first_row: int = 1) -> LoadedRows:
        """Validate each row (cells as text or values; blank cells are absent) and store the valid ones; a later
        row for the same market and period replaces an earlier one. Rows are numbered from `first_row`."""
        result = LoadedRows()
        valid: dict[tuple[str, str], MarketSnapshot] = {}
        for number, row in enumerate(rows, start=first_row):
            result.rows += 1
            cells = _cells(row)
            try:
                snapshot = MarketSnapshot.model_validate(cells)
            except ValidationError as error:
                result.invalid += 1
                result.errors.extend(_row_errors(number, cells, error))
                continue
            key = (snapshot.market, snapshot.period)
            if valid.pop(key, None) is not None:
                result.superseded += 1
            valid[key] = snapshot
        snapshots = list(valid.values())
        if snapshots:
            result.stored = self.store.put_many(tenant_id, snapshots)
        for snapshot in snapshots:
            result.latest[snapshot.market] = max(snapshot.period, result.latest.get(snapshot.market, snapshot.period))
        return result
