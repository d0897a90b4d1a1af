"""Market signals of a lead's market and the model inputs they give (the spec's market group)."""

from __future__ import annotations

from collections.abc import Mapping

from aiqleads.models import MarketSnapshot

PREFIX = "market_"
# The snapshot fields the model reads as they are; raw counts only say something per listing.
AS_IS: tuple[str, ...] = ("median_price", "inventory", "days_on_market", "price_trend")
INQUIRIES_PER_LISTING = f"{PREFIX}inquiries_per_listing"
MARKET_COLUMNS: tuple[str, ...] = (*(PREFIX + name for name in AS_IS), INQUIRIES_PER_LISTING)
"""The spec's market inputs, in file order: what `market_signals` gives."""


def market_signals(snapshot: MarketSnapshot | None) -> dict[str, float]:
    """The spec's market inputs from a snapshot (a market without signals leaves them missing)."""
    if snapshot is None:
        return {}
    values = {PREFIX + name: float(getattr(snapshot, name)) for name in AS_IS}
    values[INQUIRIES_PER_LISTING] = snapshot.inquiries / snapshot.inventory if snapshot.inventory else 0.0
    return values


def snapshot_from_signals(market: str, period: str, values: Mapping[str, float]) -> MarketSnapshot:
    """A snapshot that gives these signals back (up to rounding the inquiries to a whole number)."""
    fields = {name: float(values[PREFIX + name]) for name in AS_IS}
    inventory = int(fields["inventory"])
    return MarketSnapshot.model_validate(
        {
            **fields,
            "market": market,
            "period": period,
            "inventory": inventory,
            "inquiries": round(float(values[INQUIRIES_PER_LISTING]) * inventory),
        }
    )
