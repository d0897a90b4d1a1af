"""DynamoDB's billing rules, applied to items in AttributeValue form: item size, write and read request units.

moto answers ReturnConsumedCapacity with constants (1.0 or 0.5 whatever the item), so the cost model computes
the units from the items it sees written and read, by the rules DynamoDB documents:
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
- item size: attribute names (UTF-8) + values; numbers about 1 byte per 2 significant digits + 1; binary, strings
  as bytes; booleans and null 1; lists and maps 3 bytes + 1 per element; sets the sum of their elements;
- a write: 1 unit per started KB of the larger of the item before and after (a transactional write 2 per KB);
  every global secondary index whose projection changes costs its own writes (a put, a delete, or both when the
  index key moves), at the projected item's size;
- a read: 1 unit per started 4 KB strongly consistent, half that eventually consistent (a transaction's 2);
  a Query or Scan is priced on the total size of what it read, an item not found as a 4 KB one.
Storage adds 100 bytes per item, in the table and in each index that holds it.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Item = Mapping[str, Any]  # {"name": {"S": "..."}, ...}: the wire form
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
STORAGE_OVERHEAD_BYTES = 100


def _number_size(text: str) -> int:
    digits = text.lstrip("-+").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    (kind, data), *_ = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data) if isinstance(data, bytes) else len(base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(element.encode()) for element in data)
    if kind == "NS":
        return sum(_number_size(element) for element in data)
    if kind == "BS":
        return sum(len(e) if isinstance(e, bytes) else len(base64.b64decode(e)) for e in data)
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in data.items())
    raise ValueError(f"not an AttributeValue: {value!r}")


def item_size(item: Item | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int, *, transactional: bool = False) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES)) * (2 if transactional else 1)


def read_units(size: int, *, consistent: bool = False, transactional: bool = False) -> float:
    units = float(max(1, math.ceil(size / READ_UNIT_BYTES)))
    if transactional:
        return units * 2
    return units if consistent else units / 2


@dataclass(frozen=True)
class Index:
    """A global secondary index as DescribeTable returns it: its key attributes and its projection."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL, KEYS_ONLY, INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableShape:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    @classmethod
    def from_description(cls, table: Mapping[str, Any]) -> TableShape:
        indexes = tuple(
            Index(
                name=index["IndexName"],
                keys=tuple(k["AttributeName"] for k in index["KeySchema"]),
                projection=index["Projection"]["ProjectionType"],
                included=tuple(index["Projection"].get("NonKeyAttributes", ())),
            )
            for index in table.get("GlobalSecondaryIndexes", ())
        )
        return cls(table["TableName"], tuple(k["AttributeName"] for k in table["KeySchema"]), indexes)

    def key_of(self, item: Item) -> dict[str, Any]:
        return {name: item[name] for name in self.keys}

    def projected(self, index: Index, item: Item | None) -> dict[str, Any] | None:
        """The item as `index` holds it, or None when the item lacks the index's keys (a sparse index)."""
        if not item or any(name not in item for name in index.keys):
            return None
        if index.projection == "ALL":
            return dict(item)
        names = {*self.keys, *index.keys, *index.included}
        return {name: value for name, value in item.items() if name in names}


def index_write_units(shape: TableShape, before: Item | None, after: Item | None) -> dict[str, int]:
    """Write units each index of `shape` consumes when an item goes from `before` to `after` (None: absent)."""
    units: dict[str, int] = {}
    for index in shape.indexes:
        old, new = shape.projected(index, before), shape.projected(index, after)
        if old == new:
            continue
        spent = 0
        moved = old is not None and new is not None and any(old[k] != new[k] for k in index.keys)
        if old is not None and (new is None or moved):
            spent += write_units(item_size(old))  # the old index entry is deleted
        if new is not None:
            spent += write_units(item_size(new) if old is None or moved else max(item_size(old), item_size(new)))
        units[index.name] = spent
    return units


def query_read_units(items: Sequence[Item], *, consistent: bool = False) -> float:
    return read_units(sum(item_size(item) for item in items), consistent=consistent)


def storage_bytes(shape: TableShape, item: Item) -> int:
    """What one item occupies, in the table and in every index that holds it."""
    total = item_size(item) + STORAGE_OVERHEAD_BYTES
    for index in shape.indexes:
        projected = shape.projected(index, item)
        if projected is not None:
            total += item_size(projected) + STORAGE_OVERHEAD_BYTES
    return total
