"""Reading drops: CSV and JSON, every problem named by its line, nothing half-read; and the
signature scheme of the inbound webhook."""

from __future__ import annotations

import json
import time

from plugins.erp.file_connector import (
    MAX_ERRORS,
    compute_signature,
    read_csv,
    read_json,
    signature_header,
    verify_signature,
)


def test_csv_with_a_bom_lines_as_json_and_deleted_rows() -> None:
    body = (
        "\ufeffexternal_id,number,party,status,lines,deleted,updated_at\n"
        'S1,SO-1,P1,paid,"[{""name"": ""Widget"", ""quantity"": 2, ""unit_price"": ""5""}]",,'
        "2026-01-02T03:04:05Z\n"
        "S2,,,,,true,\n"
    ).encode()
    drop = read_csv(body, "sale")
    assert drop.errors == []
    (key1, first), (key2, second) = drop.records
    assert (key1, first.external_id, first.data["number"], first.data["party"]) == (
        "sale",
        "S1",
        "SO-1",
        "P1",
    )
    assert first.data["lines"] == [{"name": "Widget", "quantity": 2, "unit_price": "5"}]
    assert first.updated_at is not None and first.updated_at.tzinfo is not None
    assert (key2, second.deleted, second.data["number"]) == ("sale", True, None)


def test_csv_problems_are_named_by_line() -> None:
    body = b"external_id,number,lines\nS1,SO-1,not json\nS2,SO-2,[],extra\nS3,SO-3,{}\n"
    drop = read_csv(body, "sale")
    assert drop.records[:0] == [] and len(drop.errors) == 3
    assert drop.errors[0] == "line 2: lines must be a JSON list"
    assert drop.errors[1] == "line 3: more cells than header columns"
    assert drop.errors[2] == "line 4: lines must be a list"
    assert read_csv(b"name\nAcme\n", "party").errors == [
        "line 1: the header needs an external_id column"
    ]
    assert read_csv(b"\xff\xfe", "party").errors == ["file: not UTF-8 text"]
    assert "unknown object" in read_csv(b"external_id\n1\n", "planet").errors[0]


def test_json_problems_are_named_by_record_and_capped() -> None:
    assert "not valid JSON" in read_json(b"{nope").errors[0]
    assert read_json(b'{"rows": []}').errors == [
        'file: expected a list of records or {"records": [...]}'
    ]
    many = [{"object": "party", "external_id": "", "data": {}}] * (MAX_ERRORS + 5)
    drop = read_json(json.dumps(many).encode())
    assert len(drop.errors) == MAX_ERRORS + 1 and drop.errors[-1] == "... and more errors."
    mixed = read_json(
        json.dumps(
            [
                {"object": "party", "external_id": "P1", "data": {"name": "A"}},
                {"object": "sale", "external_id": "P1", "data": {}},  # same id, other object: fine
                {"object": "party", "external_id": "P1", "data": {"name": "B"}},
                {"object": "party", "external_id": "P2", "deleted": "maybe", "data": {}},
                {"object": "party", "external_id": "P3", "data": {"shoe": 42}},
                "text",
            ]
        ).encode()
    )
    assert mixed.errors == [
        "record 3: duplicate external_id P1 (also at record 1)",
        "record 4: deleted must be true or false",
        "record 5: unknown field(s) shoe for party",
        "record 6: not an object",
    ]
    assert read_json(b"[]" + b" " * 100, limit=50).errors == ["file: larger than 0 KB"]


def test_signatures() -> None:
    body = b'{"records": []}'
    now = int(time.time())
    header = signature_header("secret-of-sixteen+", body, now)
    assert header == f"t={now},v1={compute_signature('secret-of-sixteen+', now, body)}"
    assert verify_signature("secret-of-sixteen+", header, body) is None
    assert verify_signature("secret-of-sixteen+", header, body + b" ") == "signature mismatch"
    assert verify_signature("another-secret-xx", header, body) == "signature mismatch"
    old = signature_header("secret-of-sixteen+", body, now - 301)
    assert verify_signature("secret-of-sixteen+", old, body) == "stale timestamp"
    assert verify_signature("secret-of-sixteen+", None, body) == "missing signature"
    assert verify_signature("secret-of-sixteen+", "v1=abc", body) == "malformed signature"
    rotated = f"{header},v1=deadbeef"
    assert verify_signature("secret-of-sixteen+", rotated, body) is None
