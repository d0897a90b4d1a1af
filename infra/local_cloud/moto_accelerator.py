"""moto's server with faster DynamoDB queries: same answers, without sorting the whole table on every Query.

    python infra/local_cloud/moto_accelerator.py -H 127.0.0.1 -p 4566     # as `python -m moto.server ...`

Run by file path in the moto child process (server.py), so it imports only moto and the standard library.

Why: moto's `Table.query` reads `Table.all_items()`, which sorts every item of the table on each call; a base-table
Query then keeps the items of one hash key and an index Query filters the whole table by its hash attribute. At
200,000 items one ScoreIndex page takes seconds. Here `Table.query` hands moto's own `query` only the items it can
look at, through a thread-local override of `all_items` (the server is multi-threaded; nothing on the shared Table
object is swapped), and moto's code then does everything else as before: key conditions, sort, direction,
ExclusiveStartKey, Limit, the 1 MB page size, filters, projections, LastEvaluatedKey, ScannedCount.

- Base table, hash key given: the items of that one hash key (a dict lookup), in `all_items` order.
- Secondary index with one hash attribute and at most one range attribute, hash attribute equality: that
  partition, from a cache per (table, index) of hash value -> the partition's items in moto's index sort order
  (see `_partition`). From it the override passes only the window moto's loop visits: from the
  first item after ExclusiveStartKey (a binary search with moto's `_item_comes_before_dct`, done only when every
  sort attribute of the partition and of the start key has one type, so the order is total) to one item past the
  Limit-th item the range condition accepts (moto's `compare`). Without Limit, or when the types are mixed, the
  whole partition.
- Anything else (multi-attribute keys, QueryFilter, consistent reads on a GSI, unknown index, ...) runs unchanged.

The caches hold for one write version of the table: `Table.put_item`, `Table.delete_item` (every write path of
the backend ends in one of them: PutItem, BatchWriteItem, TransactWriteItems, PartiQL, imports) and
`DynamoDBBackend.update_item` (which changes items in place) and `update_table` (indexes) take a new version
before and after they run, and the next Query rebuilds what it needs; a cancelled transaction puts its items
back under new versions too (see "transactions"). `all_items` itself (Scan, PartiQL) returns a copy of a cached
sorted list, rebuilt per version.

Transactions (see "transactions" below): TransactWriteItems runs under one write lock that every other write
path of the backend also takes, so it is atomic and isolated as in DynamoDB (moto runs requests in threads and
interleaves a transaction with other writes: a rolled-back one put back its snapshot over their items); its
rollback is an undo log of the items it touches, not a deep copy of the whole table per transact item (moto's
way: O(table) per write, seconds per transaction at tens of thousands of items, past the functions' boto3
read_timeout, whose retry then found the first attempt's lead and answered 409), and it also takes back the stream
records a cancelled transaction wrote (moto's copy did: else a refused lead's outbox event would be published). And
its ClientRequestToken
(botocore sends one per call and keeps it across retries) makes it idempotent for ten minutes, as in DynamoDB: a
retry of a transaction that succeeded succeeds without running again; the same token with other items is
IdempotentParameterMismatchException.

Responses (see "responses" below for the profile): a DynamoDB serialiser that writes maps of AttributeValues
directly with the rules of moto's generic one; `Item.project` deserialises the item once, not once per projected
name; a Query's projection runs on the items rather than moto's deep copies of them and is kept per write version
(as are item sizes); writes size an item incrementally.

AIQLEADS_MOTO_ACCELERATOR=0 in the environment disables everything (plain moto; for differential tests).
Enabled, it refuses any moto but MOTO_VERSION (the one pyproject.toml pins): the internals it patches are that
release's, and another release may have changed them without an error, only wrong answers.
"""

from __future__ import annotations

import base64
import copy
import functools
import importlib.metadata
import itertools
import os
import re
import sys
import threading
import time
import weakref
from typing import Any

if __name__ == "__main__" and sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
    del sys.path[0]  # run by path: our sibling modules (server.py, functions.py, ...) must not shadow moto's imports

DISABLE_VARIABLE = "AIQLEADS_MOTO_ACCELERATOR"
MOTO_VERSION = "5.2.5"
_VERSION_ATTRIBUTE = "_aiqleads_write_version"

_versions = itertools.count(1)  # next() is atomic under the GIL: every bump is a version never seen before
_override = threading.local()
_build_lock = threading.RLock()
_write_lock = threading.RLock()  # every write of the backend; a transaction holds it from validation to the end
_transaction = threading.local()  # .active: inside a transaction, whose table backups are skipped (undo log)
TOKEN_SECONDS = 600.0  # DynamoDB: a ClientRequestToken is valid for 10 minutes after its request completes
_tokens: dict[tuple[str, str, str], tuple[float, str, Any]] = {}  # (account, region, token) -> (expiry, items, result)
_caches: dict[int, _TableCache] = {}
_originals: dict[str, Any] = {}
_types: dict[str, type] = {}


def enabled() -> bool:
    return os.environ.get(DISABLE_VARIABLE, "1").strip().lower() not in {"0", "false", "no", "off"}


def check_moto_version(installed: str | None = None) -> None:
    installed = installed or importlib.metadata.version("moto")
    if installed != MOTO_VERSION:
        raise RuntimeError(
            f"the local cloud's moto accelerator is written against moto {MOTO_VERSION}; installed: {installed}. "
            f"Run make setup (it installs the locked version) or set {DISABLE_VARIABLE}=0 to run plain moto "
            "(same answers, slower DynamoDB queries)"
        )


def _version(table: Any) -> int:
    return int(getattr(table, _VERSION_ATTRIBUTE, 0))


def _bump(table: Any) -> None:
    setattr(table, _VERSION_ATTRIBUTE, next(_versions))


class _Partition:
    """One hash value of one index: its items ascending in moto's index order, and whether that order is total
    (every sort attribute present with one type), which the binary search for ExclusiveStartKey needs."""

    __slots__ = ("items", "sort_attrs", "types")

    def __init__(self, items: list[Any], sort_attrs: list[str]) -> None:
        self.items = items
        self.sort_attrs = sort_attrs
        types: dict[str, str] | None = {}
        for item in items:
            for name in sort_attrs:
                value = item.attrs.get(name)
                if value is None or types is None:
                    types = None
                    break
                if types.setdefault(name, value.type) != value.type:
                    types = None
                    break
            if types is None:
                break
        self.types = types


class _TableCache:
    def __init__(self, table: Any) -> None:
        self.table_ref = weakref.ref(table)
        self.all_items: tuple[int, list[Any]] | None = None
        # index name -> (version, index object, hash value -> items in all_items order)
        self.groups: dict[str, tuple[int, Any, dict[Any, list[Any]]]] = {}
        # (index name, hash value) -> (version, partition)
        self.partitions: dict[tuple[str, Any], tuple[int, _Partition]] = {}
        # (index name, projection) -> (version, id(item) -> (item, projected item)); item sizes likewise
        self.projections: dict[tuple[Any, ...], tuple[int, dict[int, tuple[Any, Any]]]] = {}
        self.sizes: tuple[int, dict[int, tuple[Any, int]]] = (-1, {})


def _cache(table: Any) -> _TableCache:
    key = id(table)
    cache = _caches.get(key)
    if cache is None or cache.table_ref() is not table:
        with _build_lock:
            cache = _caches.get(key)
            if cache is None or cache.table_ref() is not table:
                cache = _TableCache(table)
                _caches[key] = cache
                weakref.finalize(table, _caches.pop, key, None)
    return cache


def _cached_all_items(table: Any) -> list[Any]:
    """moto's sorted all_items list, computed once per write version (callers get a copy)."""
    cache = _cache(table)
    version = _version(table)
    found = cache.all_items
    if found is None or found[0] != version:
        with _build_lock:
            found = cache.all_items
            if found is None or found[0] != version:
                found = (version, _originals["all_items"](table))
                cache.all_items = found
    return found[1]


def _groups(table: Any, index: Any, hash_attr: str, range_attrs: list[str]) -> dict[Any, list[Any]]:
    """Index hash value -> the items moto's index query keeps for it (hash attribute equal, every range
    attribute present), in the table's dict order."""
    cache = _cache(table)
    version = _version(table)
    found = cache.groups.get(index.name)
    if found is None or found[0] != version or found[1] is not index:
        with _build_lock:
            found = cache.groups.get(index.name)
            if found is None or found[0] != version or found[1] is not index:
                groups: dict[Any, list[Any]] = {}
                for stored in list(table.items.values()):
                    for item in list(stored.values()) if table.range_key_attr else [stored]:
                        attrs = item.attrs
                        value = attrs.get(hash_attr)
                        if value is None or any(attrs.get(name) is None for name in range_attrs):
                            continue
                        groups.setdefault(value, []).append(item)
                found = (version, index, groups)
                cache.groups[index.name] = found
    return found[2]


def _all_items_key(item: Any) -> Any:
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def _partition(
    table: Any, index: Any, hash_attr: str, range_attrs: list[str], value: Any, sort_args: tuple[Any, Any]
) -> _Partition:
    """The partition ascending in moto's index order. Its sort attributes end with the table's key, so no two
    items tie: with one type per attribute, DynamoType comparisons are those of the cast values and sorting by
    the tuple of cast values gives moto's order whatever the input order. Otherwise moto's own sort runs on the
    items in all_items order (the restriction of all_items to these items: same key, stable sort)."""
    cache = _cache(table)
    version = _version(table)
    key = (index.name, value)
    found = cache.partitions.get(key)
    if found is None or found[0] != version:
        members = list(_groups(table, index, hash_attr, range_attrs).get(value, []))
        sort_attrs = table._generate_attr_to_sort_by(sort_args[0], sort_args[1])
        partition = _Partition(members, sort_attrs)
        if partition.types is not None:
            members.sort(key=lambda x: tuple(x.attrs[name].cast_value for name in sort_attrs))
        else:
            members.sort(key=_all_items_key)
            partition.items = _originals["sorted_items"](table, sort_args[0], sort_args[1], members)
        found = (version, partition)
        cache.partitions[key] = found
    return found[1]


# ------------------------------------------------------------------------------------------------ patched methods


def _all_items(self: Any) -> list[Any]:
    override = getattr(_override, "value", None)
    if override is not None and override[0] is self:
        return list(override[1])
    return list(_cached_all_items(self))


def _table_write(original: str) -> Any:
    """A Table method that changes items, taking a new write version before and after it runs."""

    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            _bump(self)
            try:
                return _originals[original](self, *args, **kwargs)
            finally:
                _bump(self)

    return write


def _backend_write(original: str) -> Any:
    """A DynamoDBBackend method that changes one table (named by its first argument) in place, likewise."""

    def write(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            table = self.tables.get(table_name)
            if table is not None:
                _bump(table)
            try:
                return _originals[original](self, table_name, *args, **kwargs)
            finally:
                if table is not None:
                    _bump(table)

    return write


# ---------------------------------------------------------------------------------------------------- transactions


class _ModelsCopyModule:
    """models/__init__.py's `copy`: inside a transaction its backup of a whole table (a deep copy of every item, once
    per transact item) is the table itself, and moto's rollback (putting the backup back) changes nothing; the
    transaction's undo log (`_undo_log`) restores what it wrote instead."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if getattr(_transaction, "active", False) and type(value) is _types["Table"]:
            return value
        return copy.deepcopy(value, memo)


_Undo = tuple[Any, Any, Any, bool, Any]  # (table, hash value, range value or None, hash present before, item or None)


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """(table, hash value, range value) of each item the transaction may write; an operation moto will refuse
    (no such table, a key attribute missing) writes nothing and is left out."""
    dynamo_type = _types["DynamoType"]
    touched = []
    for entry in transact_items:
        _, operation = next(iter(entry.items()))
        table = backend.tables.get(operation.get("TableName"))
        attributes = operation.get("Item") or operation.get("Key") or {}
        if table is None or table.hash_key_attr not in attributes:
            continue
        range_value = None
        if table.range_key_attr is not None:
            if table.range_key_attr not in attributes:
                continue
            range_value = dynamo_type(attributes[table.range_key_attr])
        touched.append((table, dynamo_type(attributes[table.hash_key_attr]), range_value))
    return touched


def _undo_log(backend: Any, transact_items: list[dict[str, Any]]) -> list[_Undo]:
    log: list[_Undo] = []
    for table, hash_value, range_value in _touched(backend, transact_items):
        present = hash_value in table.items
        if range_value is not None:
            current = table.items[hash_value].get(range_value) if present else None
        else:
            current = table.items.get(hash_value)
        log.append((table, hash_value, range_value, present, copy.deepcopy(current)))
    return log


def _undo(log: list[_Undo]) -> None:
    """Put every touched item back as it was before the transaction (absent ones removed)."""
    for table, hash_value, range_value, present, item in reversed(log):
        _bump(table)
        if range_value is None:
            if item is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = item
        else:
            partition = table.items[hash_value]
            if item is None:
                partition.pop(range_value, None)
            else:
                partition[range_value] = item
            if not present and not partition:
                del table.items[hash_value]
        _bump(table)


def _stream_marks(log: list[_Undo]) -> list[tuple[Any, int]]:
    """Each touched table's stream length: a cancelled transaction's writes must leave no stream record either
    (moto's own rollback restores a copy of the table, stream included)."""
    tables = {id(entry[0]): entry[0] for entry in log}.values()
    return [(table, len(table.stream_shard.items)) for table in tables if table.stream_shard is not None]


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
    with _write_lock:
        log = _undo_log(self, transact_items)
        streams = _stream_marks(log)
        _transaction.active = True
        try:
            return _originals["transact_write_items"](self, transact_items)
        except BaseException:
            _undo(log)
            for table, length in streams:
                del table.stream_shard.items[length:]
            raise
        finally:
            _transaction.active = False


def _idempotent_transaction(self: Any) -> Any:
    """DynamoHandler.transact_write_items with DynamoDB's ClientRequestToken: a token seen on a transaction that
    succeeded in the last TOKEN_SECONDS answers as it did, without running again."""
    token = self.body.get("ClientRequestToken")
    if not token:
        return _originals["transact_response"](self)
    items = repr(self.body.get("TransactItems"))
    key = (str(self.current_account), str(self.region), str(token))
    with _write_lock:
        now = time.monotonic()
        for stale in [name for name, (expiry, _, _) in _tokens.items() if expiry <= now]:
            del _tokens[stale]
        seen = _tokens.get(key)
        if seen is not None:
            if seen[1] != items:
                raise _types["IdempotentParameterMismatch"]()
            return seen[2]
        result = _originals["transact_response"](self)
        _tokens[key] = (time.monotonic() + TOKEN_SECONDS, items, result)
        return result


def _mismatch_class() -> type:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    class IdempotentParameterMismatch(DynamodbException):
        def __init__(self) -> None:
            super().__init__(
                ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                message="The request uses the same client token as a previous, but non-identical request.",
            )

    return IdempotentParameterMismatch


def _query(
    self: Any,
    hash_key: Any,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int,
    exclusive_start_key: dict[str, Any],
    scan_index_forward: bool,
    projection_expressions: list[list[str]] | None,
    index_name: str | None = None,
    consistent_read: bool = False,
    filter_expression: Any = None,
    hash_key_conditions: list[tuple[str, Any]] | None = None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None = None,
    **filter_kwargs: Any,
) -> Any:
    arguments = (hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward)
    keywords: dict[str, Any] = {
        "projection_expressions": projection_expressions,
        "index_name": index_name,
        "consistent_read": consistent_read,
        "filter_expression": filter_expression,
        "hash_key_conditions": hash_key_conditions,
        "range_key_conditions": range_key_conditions,
        **filter_kwargs,
    }
    candidates = None
    presorted = False
    if not filter_kwargs and getattr(_override, "value", None) is None:
        try:
            if index_name:
                candidates, presorted = _index_window(
                    self,
                    index_name,
                    range_comparison,
                    range_objs,
                    limit,
                    exclusive_start_key,
                    scan_index_forward,
                    consistent_read,
                    hash_key_conditions,
                    range_key_conditions,
                )
            elif hash_key is not None:
                candidates = _base_partition(self, hash_key)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError):
            candidates = None  # anything unexpected: moto's own path decides (and raises what it raises)
    if candidates is None:
        return _run_query(self, arguments, keywords)
    _override.value = (self, candidates)
    _override.presorted = (self, scan_index_forward) if presorted else None
    try:
        return _run_query(self, arguments, keywords)
    finally:
        _override.value = None
        _override.presorted = None


def _sorted_items(self: Any, hash_key_attrs: list[str], range_key_attrs: list[str | None], items: list[Any]) -> Any:
    """moto's Table.sorted_items; for a window taken from a partition in total order (see `_partition`) the items
    are already in that order in the query's direction, so they only need turning ascending (moto sorts
    ascending, then reverses a backward query), not a sort of ~100 items through DynamoType comparisons."""
    presorted = getattr(_override, "presorted", None)
    if presorted is not None and presorted[0] is self:
        return items if presorted[1] is not False else items[::-1]
    return _originals["sorted_items"](self, hash_key_attrs, range_key_attrs, items)


def _run_query(table: Any, arguments: tuple[Any, ...], keywords: dict[str, Any]) -> Any:
    """moto's Table.query. With a ProjectionExpression, moto's last step (`[r.project(p) for r in results]`, after
    the index projection and the filter) runs here instead, on the items themselves rather than on moto's deep
    copies of them (projecting reads an item and builds a new one, as the filter only reads), and a projected
    item is kept for the next Query with the same projection while the table's write version holds; item sizes
    (moto's 1 MB page check) likewise."""
    original = _originals["query"]
    projection = keywords.get("projection_expressions")
    if not projection:
        return original(table, *arguments, **keywords)
    version = _version(table)
    cache = _cache(table)
    if cache.sizes[0] != version:
        cache.sizes = (version, {})
    _override.shallow = True
    _override.sizes = cache.sizes[1]
    try:
        results, scanned_count, last_evaluated_key = original(
            table, *arguments, **(keywords | {"projection_expressions": None})
        )
    finally:
        _override.shallow = False
        _override.sizes = None
    memo = _projection_memo(table, version, keywords.get("index_name"), projection)
    projected = []
    for item in results:
        entry = memo.get(id(item)) if memo is not None else None
        if entry is not None and entry[0] is item:
            projected.append(entry[1])
            continue
        result = item.project(projection)
        if memo is not None and _version(table) == version:
            memo[id(item)] = (item, result)
        projected.append(result)
    return projected, scanned_count, last_evaluated_key


def _projection_memo(
    table: Any, version: int, index_name: str | None, projection: list[list[str]]
) -> dict[int, tuple[Any, Any]] | None:
    """Projected items by id of the stored item (with the item, so the id is not reused), for one write version;
    None when the items moto returns are not the stored ones (an index that projects only some attributes)."""
    if index_name:
        index = {i.name: i for i in table.all_indexes()}.get(index_name)
        if index is None or (index.projection or {}).get("ProjectionType", "ALL") != "ALL":
            return None
    key = (index_name, tuple(tuple(path) for path in projection))
    cache = _cache(table)
    found = cache.projections.get(key)
    if found is None or found[0] != version:
        found = (version, {})
        cache.projections[key] = found
    return found[1]


class _CopyModule:
    """table.py's `copy` module: its `deepcopy` of a Query's results is a list copy while `_run_query` asks."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        if type(value) is list and getattr(_override, "shallow", False):
            _override.shallow = False  # once: moto's `results = copy.deepcopy(results)`
            return list(value)
        return copy.deepcopy(value, memo)


def _item_size(self: Any) -> int:
    sizes = getattr(_override, "sizes", None)
    if sizes is None:
        return int(_originals["item_size"](self))
    entry = sizes.get(id(self))
    if entry is not None and entry[0] is self:
        return int(entry[1])
    size = int(_originals["item_size"](self))
    sizes[id(self)] = (self, size)
    return size


def _base_partition(table: Any, hash_key: Any) -> list[Any]:
    """The items with this hash key, in all_items order ((hash, range) ascending): what moto keeps of all_items."""
    stored = table.items.get(hash_key)  # .get: table.items is a defaultdict, [] would add the key
    if stored is None:
        return []
    if not table.range_key_attr:
        return [stored]
    return sorted(stored.values(), key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)


def _index_window(
    table: Any,
    index_name: str,
    range_comparison: str | None,
    range_objs: list[Any],
    limit: int | None,
    exclusive_start_key: dict[str, Any] | None,
    forward: bool,
    consistent_read: bool,
    hash_key_conditions: list[tuple[str, Any]] | None,
    range_key_conditions: list[tuple[str, str, list[Any]]] | None,
) -> tuple[list[Any] | None, bool]:
    """The items moto's loop needs to see, and whether they are already in its order (in the query's direction)."""
    indexes = {i.name: i for i in table.all_indexes()}
    index = indexes.get(index_name)
    if index is None or (consistent_read and index in table.global_indexes):
        return None, False
    hash_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
    range_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
    if len(hash_attrs) != 1 or len(range_attrs) > 1:
        return None, False
    if not hash_key_conditions or len(hash_key_conditions) != 1 or hash_key_conditions[0][0] != hash_attrs[0]:
        return None, False
    if range_key_conditions and len(range_key_conditions) > 1:
        return None, False
    if range_comparison and not range_attrs:
        return None, False  # moto raises for this: let it
    # moto's arguments for sorted_items, as table.query builds them
    sort_hash = [hash_attrs[0], table.hash_key_attr]
    if range_attrs:
        sort_range: list[str | None] = [range_attrs[0], table.range_key_attr]
    else:  # moto: a GSI without a range key sorts by the table's range key, else by the table's hash key
        in_gsi = index in table.global_indexes
        fallback = table.range_key_attr if in_gsi and table.range_key_attr else table.hash_key_attr
        sort_range = [fallback, table.range_key_attr]
    value = hash_key_conditions[0][1]
    partition = _partition(table, index, hash_attrs[0], range_attrs, value, (sort_hash, sort_range))
    ordered = partition.items if forward else partition.items[::-1]
    if partition.types is None:
        return list(ordered), False
    start = 0
    if exclusive_start_key is not None:
        found = _start_position(table, ordered, exclusive_start_key, partition, sort_hash, sort_range, forward)
        if found is None:
            return list(ordered), True
        start = found
    if limit is None:
        return list(ordered[start:]), True
    comparison_attr: str | None = None
    if range_comparison:
        comparison_attr = range_key_conditions[-1][0] if range_key_conditions else range_attrs[0]
    accepted = 0
    for position in range(start, len(ordered)):
        if accepted == limit:
            return list(ordered[start : position + 1]), True
        if comparison_attr is None:
            accepted += 1
        else:
            attribute = ordered[position].attrs.get(comparison_attr)
            if attribute is not None and attribute.compare(range_comparison, range_objs):
                accepted += 1
    return list(ordered[start:]), True


def _start_position(
    table: Any,
    ordered: list[Any],
    start_key: dict[str, Any],
    partition: _Partition,
    sort_hash: list[str],
    sort_range: list[str | None],
    forward: bool,
) -> int | None:
    """The index of the first item moto's loop does not skip as 'before ExclusiveStartKey' (None: not sure)."""
    types = partition.types or {}
    for name in partition.sort_attrs:
        given = start_key.get(name)
        if not isinstance(given, dict) or len(given) != 1 or (types and next(iter(given)) != types.get(name)):
            return None
    comes_before = table._item_comes_before_dct
    low, high = 0, len(ordered)
    while low < high:  # comes_before is True on a prefix of `ordered` (a total order: one type per attribute)
        middle = (low + high) // 2
        if comes_before(ordered[middle], start_key, sort_hash, sort_range, forward):
            low = middle + 1
        else:
            high = middle
    return low


# ------------------------------------------------------------------------------------------------ responses
#
# Where a Query's time went once the accelerator had made it read only its window (cProfile in the moto process,
# a ScoreIndex page of 100 items with a ProjectionExpression, ~2.5 ms per item):
# - moto's generic response serialiser walks every attribute value through the botocore shape (alias providers
#   and a value picker per member of AttributeValue): ~90%. `_DynamoSerializer` writes a map of AttributeValues
#   directly, with the same rules (below).
# - `Item.project` (a ProjectionExpression) deserialises every attribute of the item once per projected name
#   (`to_regular_json`: a deepcopy and boto3's TypeDeserializer) and builds the projected Item through
#   `LimitedSizeDict`, which re-measures the whole item on every inserted attribute. `_project` does it once.
# - Writes: `Item.__init__` inserts through the same `LimitedSizeDict` (quadratic in the number of attributes; ~75%
#   of a PutItem in moto). `_item_init` keeps a running size instead, and raises where moto raises.

_VALUE_MEMBERS = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
_LIST_INDEX = re.compile(r"(.+)\[(\d+)\]$")  # moto's find_nested_key treats such a name as a list element
_MAX_ITEM_SIZE = 405000  # moto's LimitedSizeDict limit


class _Unusual(Exception):
    """A value the direct conversion does not know: moto's generic serialiser handles the whole map."""


_ABSENT = object()


def _string(value: Any) -> Any:
    if type(value) is not str:
        raise _Unusual
    return value


def _blob(value: Any) -> str:
    if type(value) is str:
        value = value.encode("utf-8")
    elif type(value) is not bytes:
        raise _Unusual
    return base64.b64encode(value).strip().decode("utf-8")


def _attribute_value(value: Any) -> Any:
    """One AttributeValue as moto's JSON serialiser writes it (value: the plain dict `dynamo_to_dict` makes).

    moto: a structure (None: left out of its map); each member the value picker finds (a dict key) and is not None,
    in the shape's member order: S/N strings as they are, B base64, SS/NS lists of strings, BS lists of base64, M a
    map of AttributeValues, L a list of AttributeValues (None stays None), NULL/BOOL as they are."""
    if value is None:
        return _ABSENT
    if type(value) is not dict or len(value) != 1:
        raise _Unusual
    ((kind, member),) = value.items()
    if member is None:
        if kind not in _VALUE_MEMBERS:
            raise _Unusual
        return {}
    if kind == "S" or kind == "N":
        return {kind: _string(member)}
    if kind == "M":
        return {"M": _attribute_map(member)}
    if kind == "L":
        if type(member) is not list:
            raise _Unusual
        converted: list[Any] = []
        for element in member:
            if element is None:
                converted.append(None)
            else:
                found = _attribute_value(element)
                converted.append(found)
        return {"L": converted}
    if kind == "NULL" or kind == "BOOL":
        return {kind: member}
    if kind == "B":
        return {"B": _blob(member)}
    if kind == "SS" or kind == "NS":
        if type(member) is not list:
            raise _Unusual
        return {kind: [_string(element) for element in member]}
    if kind == "BS":
        if type(member) is not list:
            raise _Unusual
        return {"BS": [_blob(element) for element in member]}
    raise _Unusual


def _attribute_map(value: Any) -> dict[str, Any]:
    if type(value) is not dict:
        raise _Unusual
    converted: dict[str, Any] = {}
    for name, member in value.items():
        found = _attribute_value(member)
        if found is not _ABSENT:
            converted[name] = found
    return converted


def _transformers_touch_values(transformers: dict[str, Any] | None) -> bool:
    """Whether a response transformer (a key-path suffix; BaseResponse keeps one dict for every service) could
    apply to a member of an AttributeValue, whose key path ends with `.<member>` after user data."""
    for path in transformers or {}:
        last = path.rsplit(".", 1)[-1]
        if any(member == last if "." in path else member.endswith(path) for member in _VALUE_MEMBERS):
            return True
    return False


def _serializer_class() -> type:
    from moto.core.serialize import JSONSerializer

    class _DynamoSerializer(JSONSerializer):
        """moto's JSON serialiser, writing maps of AttributeValues (items, keys, M values) directly."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            picker = self._value_picker
            self._direct = not _transformers_touch_values(getattr(picker, "response_transformers", None))

        def _serialize_type_map(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
            if self._direct and getattr(shape.value, "name", None) == "AttributeValue":
                try:
                    converted = _attribute_map(value)
                except _Unusual:
                    pass
                else:
                    serialized[self.get_serialized_name(shape, key)] = converted
                    return
            super()._serialize_type_map(serialized, value, shape, key)

        def _serialize_type_list(self, serialized: Any, value: Any, shape: Any, key: str) -> None:
            member = shape.member
            if (
                self._direct
                and member.type_name == "map"
                and getattr(member.value, "name", None) == "AttributeValue"
                and type(value) is list
            ):
                try:
                    converted = [_attribute_map(element) for element in value]
                except _Unusual:
                    pass
                else:
                    serialized[self.get_serialized_name(shape, key)] = converted
                    return
            super()._serialize_type_list(serialized, value, shape, key)

    return _DynamoSerializer


def _dynamo_to_dict(obj: Any) -> Any:
    """moto's `dynamo_to_dict` (DynamoResult's conversion) without its generic checks on the common shapes: a plain
    dict or list (an item's LimitedSizeDict included: no to_json, not a datetime), an S or N DynamoType holding a
    str, and str/int/float/bool/None, which it returns as they are. Anything else goes to moto's function."""
    kind = type(obj)
    if kind is _types["DynamoType"]:
        value = obj.value
        if (obj.type == "S" or obj.type == "N") and type(value) is str:
            return {obj.type: value}
        return _originals["dynamo_to_dict"](obj)
    if kind is dict or kind is _types["LimitedSizeDict"]:
        return {key: _dynamo_to_dict(value) for key, value in obj.items()}
    if kind is list:
        return [_dynamo_to_dict(value) for value in obj]
    if kind is str or kind is int or kind is float or kind is bool or obj is None:
        return obj
    return _originals["dynamo_to_dict"](obj)


def _value_size(self: Any) -> int:
    """DynamoType.size: an ASCII S value's UTF-8 length is its length (no encoding); everything else is moto's."""
    if self.type == "S" and type(self.value) is str and self.value.isascii():
        return len(self.value)
    return int(_originals["value_size"](self))


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto's Item.__init__ with LimitedSizeDict's check done incrementally: moto sums the sizes of every key and
    value already in the dict plus the new one on each insert; the keys here are distinct, so that is a running
    total (same order of DynamoType constructions, same ItemSizeTooLarge at the same attribute)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    self.attrs = LimitedSizeDict()
    total = 0
    for key, value in attrs.items():
        converted = DynamoType(value)
        if key in self.attrs:  # not from a dict's items(): moto's own insert (it counts the old value too)
            self.attrs[key] = converted
            total = sum(bytesize(str(k)) + v.size() for k, v in self.attrs.items())
            continue
        total += bytesize(str(key)) + converted.size()
        if total > _MAX_ITEM_SIZE:
            raise ItemSizeTooLarge
        dict.__setitem__(self.attrs, key, converted)


def _project(self: Any, projection_expressions: list[list[str]]) -> Any:
    """moto's Item.project for distinct top-level names: its result is the deserialised value of each named
    attribute the item has, in projection order (find_nested_key takes `{name: value}`, merge_dicts adds distinct
    keys), serialised again (boto3 normalises numbers) into a new Item. moto deserialises the whole item once per
    name; once is the same (nothing is shared between names). Nested paths and list elements: moto's own."""
    names = [expression[0] for expression in projection_expressions if len(expression) == 1]
    if len(names) != len(projection_expressions) or len(set(names)) != len(names):
        return _originals["project"](self, projection_expressions)
    if any(_LIST_INDEX.match(name) for name in names):
        return _originals["project"](self, projection_expressions)
    from moto.dynamodb.models.dynamo_type import Item, serializer

    regular = self.to_regular_json()
    result = {name: regular[name] for name in names if name in regular}
    return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=serializer.serialize(result)["M"])


# ------------------------------------------------------------------------------------------------ install / main


def install() -> bool:
    """Patch moto's DynamoDB in this process (idempotent); False when disabled by the environment."""
    if not enabled():
        return False
    check_moto_version()
    if _originals:
        return True
    from moto.core import serialize
    from moto.dynamodb import models as models_module
    from moto.dynamodb import responses
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models import table as table_module
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.table import Table

    _originals.update(
        query=Table.query,
        all_items=Table.all_items,
        sorted_items=Table.sorted_items,
        put_item=Table.put_item,
        delete_item=Table.delete_item,
        update_item=DynamoDBBackend.update_item,
        update_table=DynamoDBBackend.update_table,
        item_init=Item.__init__,
        project=Item.project,
        value_size=DynamoType.size,
        item_size=Item.size,
        dynamo_to_dict=responses.dynamo_to_dict,
        transact_write_items=DynamoDBBackend.transact_write_items,
        transact_response=responses.DynamoHandler.transact_write_items,
    )
    _types.update(
        DynamoType=DynamoType,
        LimitedSizeDict=LimitedSizeDict,
        Table=Table,
        IdempotentParameterMismatch=_mismatch_class(),
    )
    Table.query = _query  # type: ignore[method-assign]
    Table.sorted_items = _sorted_items  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    Table.put_item = _table_write("put_item")  # type: ignore[method-assign]
    Table.delete_item = _table_write("delete_item")  # type: ignore[method-assign]
    DynamoDBBackend.update_item = _backend_write("update_item")  # type: ignore[method-assign]
    DynamoDBBackend.update_table = _backend_write("update_table")  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    responses.DynamoHandler.transact_write_items = _idempotent_transaction  # type: ignore[method-assign]
    models_module.copy = _ModelsCopyModule()  # type: ignore[assignment]
    Item.__init__ = _item_init  # type: ignore[method-assign]
    Item.project = _project  # type: ignore[method-assign]
    DynamoType.size = _value_size  # type: ignore[method-assign]
    Item.size = _item_size  # type: ignore[method-assign]
    table_module.copy = _CopyModule()  # type: ignore[assignment]
    responses.dynamo_to_dict = _dynamo_to_dict
    serialize.SERVICE_SPECIFIC_SERIALIZERS.setdefault("dynamodb", {})["json"] = _serializer_class()
    _remember_per_request_lookups()
    return True


def _remember_per_request_lookups() -> None:
    """Two answers moto's server works out again on every request of every service, though they cannot change
    while it runs: the installed backend packages (a directory listing and ~150 `isdir` calls, to route by Host)
    and a response class's method names (`inspect.getmembers`, to find the action). About a third of a small
    request's time in moto; remembered here for the life of the process."""
    from moto import backends
    from moto.core import responses as core_responses

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    method_names = functools.lru_cache(maxsize=None)(core_responses.method_names_from_class)
    core_responses.method_names_from_class = lambda clazz: list(method_names(clazz))


def main(argv: list[str] | None = None) -> None:
    install()
    from moto.server import main as moto_main

    moto_main(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
