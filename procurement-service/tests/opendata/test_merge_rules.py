"""Records compile their releases with ocdsmerge, the Open Contracting Partnership's reference merge, by the merge
rules of the OCDS 1.1 release schema (standards/ocds-1.1), which procurement carries as ``MERGE_RULES``."""

from __future__ import annotations

from ocds_validation import PREFIX, merged, merger

from procurement.opendata.service import MERGE_RULES, compile_record


def test_the_merge_rules_are_the_release_schemas() -> None:
    assert merger().merge_rules == MERGE_RULES


def test_a_record_compiles_by_the_standards_rules() -> None:
    """Where a field-by-field merge would go wrong: a whole list replaced (a party's roles, its identifiers
    though they carry ids), an item removed from a list by null, a field removed by null."""
    ocid = f"{PREFIX}-merge"
    party = {"id": "p1", "name": "北京市房山区民政局"}
    first = {
        "ocid": ocid,
        "id": "1",
        "date": "2026-11-27T10:00:00+08:00",
        "tag": ["tender"],
        "initiationType": "tender",
        "parties": [
            {
                **party,
                "roles": ["buyer", "payer"],
                "additionalIdentifiers": [{"id": "a", "scheme": "CN-USCC"}, {"id": "b", "scheme": "CN-MCA"}],
            }
        ],
        "tender": {"id": "t", "title": "社区养老服务", "status": "active", "description": "征集"},
    }
    second = {
        "ocid": ocid,
        "id": "2",
        "date": "2026-11-28T10:00:00+08:00",
        "tag": ["tenderUpdate"],
        "initiationType": "tender",
        "parties": [{**party, "roles": ["buyer"], "additionalIdentifiers": [{"id": "b", "scheme": "CN-MCA"}]}],
        "tender": {"id": "t", "status": "complete", "description": None},
    }
    record = compile_record(ocid, [first, second])
    compiled = record["compiledRelease"]
    assert compiled == {**merged([first, second]), "id": f"{ocid}-compiled"}
    assert compiled["parties"] == [
        {**party, "roles": ["buyer"], "additionalIdentifiers": [{"id": "b", "scheme": "CN-MCA"}]}
    ]
    assert compiled["tender"] == {"id": "t", "title": "社区养老服务", "status": "complete"}
    assert (compiled["date"], compiled["tag"]) == ("2026-11-28T10:00:00+08:00", ["compiled"])
    assert record["releases"] == [first, second]
