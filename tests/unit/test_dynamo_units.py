"""DynamoDB's billing rules as the cost model applies them (bench/dynamo_units.py)."""

from __future__ import annotations

from bench import dynamo_units as units

SHAPE = units.TableShape(
    "Leads",
    ("pk", "sk"),
    (
        units.Index("ScoreIndex", ("gsi1pk", "gsi1sk"), "ALL"),
        units.Index("TenantIndex", ("gsi2pk", "gsi2sk"), "KEYS_ONLY"),
    ),
)


def test_item_size_counts_names_and_values_by_dynamodbs_rules() -> None:
    # names 2 + 5 + 4 + 1 + 1 bytes; "héllo" is 6 bytes in UTF-8; 12345 has 5 significant digits -> 4 bytes;
    # a list: 3 + (1 + 1) for its one boolean; a map: 3 + (1 + 1 + 1) for {"a": null}
    item = {
        "pk": {"S": "héllo"},
        "score": {"N": "12345"},
        "list": {"L": [{"BOOL": True}]},
        "m": {"M": {"a": {"NULL": True}}},
    }
    assert units.item_size(item) == (2 + 6) + (5 + 4) + (4 + 5) + (1 + 6)


def test_write_units_per_started_kilobyte_and_double_in_transactions() -> None:
    assert units.write_units(0) == 1
    assert units.write_units(1024) == 1
    assert units.write_units(1025) == 2
    assert units.write_units(1025, transactional=True) == 4


def test_read_units_per_started_4kb_halved_when_eventually_consistent() -> None:
    assert units.read_units(100) == 0.5
    assert units.read_units(4097, consistent=True) == 2
    assert units.read_units(4097, transactional=True) == 4


def _score(score: str, pad: int = 0) -> dict[str, dict[str, str]]:
    return {
        "pk": {"S": "t#l1"}, "sk": {"S": "score"}, "gsi1pk": {"S": "t#austin"}, "gsi1sk": {"S": f"{score}#l1"},
        "pad": {"S": "x" * pad},
    }  # fmt: skip


def test_a_new_item_writes_each_index_that_holds_it() -> None:
    lead = {"pk": {"S": "t#l1"}, "sk": {"S": "lead"}, "gsi2pk": {"S": "t"}, "gsi2sk": {"S": "2026#l1"}}
    assert units.index_write_units(SHAPE, None, lead) == {"TenantIndex": 1}
    assert units.index_write_units(SHAPE, None, _score("050", pad=2000)) == {"ScoreIndex": 2}


def test_a_moved_index_key_costs_a_delete_and_a_put_and_an_unchanged_projection_nothing() -> None:
    assert units.index_write_units(SHAPE, _score("050"), _score("061")) == {"ScoreIndex": 2}
    assert units.index_write_units(SHAPE, _score("050"), _score("050")) == {}
    # keys only: a change outside the keys leaves TenantIndex alone
    before = {"pk": {"S": "t#l1"}, "sk": {"S": "lead"}, "gsi2pk": {"S": "t"}, "gsi2sk": {"S": "k"}, "x": {"N": "1"}}
    assert units.index_write_units(SHAPE, before, {**before, "x": {"N": "2"}}) == {}


def test_storage_counts_the_item_and_its_index_copies_with_overheads() -> None:
    item = _score("050")
    assert units.storage_bytes(SHAPE, item) == 2 * (units.item_size(item) + 100)
