"""POST /api/v1/items/import (contract section 7): upsert by SKU, all or nothing."""

from __future__ import annotations

import pytest

import models
from tests.support.http import assert_problem, count

IMPORT = "/api/v1/items/import"
ITEMS = "/api/v1/items"


@pytest.fixture
def admin(api):
    return api.user("root", admin=True)


def row(n: int, **fields):
    return {"sku": f"SKU-{n:04}", "name": f"item {n}", "price": "1.50", **fields}


def by_sku(client):
    body = client.get(ITEMS, query_string={"per_page": 100}).get_json()
    return {item["sku"]: item for item in body["items"]}


def test_creates_then_updates_skips_or_fails(client, admin, app):
    created = client.post(IMPORT, json={"items": [row(1), row(2, stock=5)]}, headers=admin)
    assert created.status_code == 200, created.get_json()
    body = created.get_json()
    assert body["created"] == 2 and body["updated"] == 0 and body["skipped"] == 0
    items = by_sku(client)
    assert body["ids"] == [items["SKU-0001"]["id"], items["SKU-0002"]["id"]]
    assert items["SKU-0002"]["stock"] == 5 and items["SKU-0001"]["price"] == "1.50"

    # "fail" (the default): an existing SKU makes the whole import a 409 naming it; nothing written.
    failed = client.post(IMPORT, json={"items": [row(3), row(2, name="changed")]}, headers=admin)
    assert "SKU-0002" in assert_problem(failed, 409)["detail"]
    assert count(app, models.Item) == 2 and by_sku(client)["SKU-0002"]["name"] == "item 2"

    skipped = client.post(
        IMPORT, json={"items": [row(2, name="changed"), row(3)], "on_conflict": "skip"}, headers=admin
    ).get_json()
    assert (skipped["created"], skipped["updated"], skipped["skipped"]) == (1, 0, 1)
    items = by_sku(client)
    assert items["SKU-0002"]["name"] == "item 2"
    assert skipped["ids"] == [items["SKU-0002"]["id"], items["SKU-0003"]["id"]]

    before = items["SKU-0001"]
    updated = client.post(
        IMPORT,
        json={"items": [row(4), row(1, name="renamed", price=9, description="new")], "on_conflict": "update"},
        headers=admin,
    ).get_json()
    assert (updated["created"], updated["updated"], updated["skipped"]) == (1, 1, 0)
    after = by_sku(client)["SKU-0001"]
    assert updated["ids"][1] == before["id"]
    assert (after["name"], after["price"], after["description"], after["stock"]) == (
        "renamed",
        "9.00",
        "new",
        0,
    )
    assert after["created_at"] == before["created_at"] and after["updated_at"] > before["updated_at"]


def test_a_bad_row_writes_nothing_and_says_where(client, admin, app):
    rows = [row(1), row(2, price="1.234"), row(3, name=" "), {"name": "no sku", "price": 1}]
    body = assert_problem(client.post(IMPORT, json={"items": rows}, headers=admin), 422)
    locs = {tuple(error["loc"]) for error in body["errors"]}
    assert {("body", "items", 1, "price"), ("body", "items", 2, "name"), ("body", "items", 3, "sku")} <= locs
    assert count(app, models.Item) == 0
    # A JSON number read as written, in every row.
    raw = b'{"items": [{"sku": "A", "name": "a", "price": 1}, {"sku": "B", "name": "b", "price": 1e-999}]}'
    body = assert_problem(client.post(IMPORT, data=raw, content_type="application/json", headers=admin), 422)
    assert [e["loc"] for e in body["errors"]] == [["body", "items", 1, "price"]]
    duplicate = client.post(IMPORT, json={"items": [row(1), row(2), row(1)]}, headers=admin)
    body = assert_problem(duplicate, 422)
    assert [e["loc"] for e in body["errors"]] == [["body", "items", 2, "sku"]]
    for bad in (
        {"items": []},
        {"items": [row(n) for n in range(1001)]},
        {"items": [row(1)], "on_conflict": "x"},
    ):
        assert_problem(client.post(IMPORT, json=bad, headers=admin), 422)
    assert count(app, models.Item) == 0


def test_admins_with_items_write_only(api, client, admin):
    alice = api.user("alice")
    assert_problem(client.post(IMPORT, json={"items": [row(1)]}, headers=alice), 403)
    assert_problem(client.post(IMPORT, json={"items": [row(1)]}), 401)
    reader = api.key(admin, ["read"])
    assert_problem(client.post(IMPORT, json={"items": [row(1)]}, headers=reader), 403)
    writer = api.key(admin, ["items:write"])
    assert client.post(IMPORT, json={"items": [row(1)]}, headers=writer).status_code == 200


def test_a_thousand_items_in_one_request_and_idempotency(client, admin, app):
    rows = [row(n, stock=n) for n in range(1000)]
    headers = {**admin, "Idempotency-Key": "import-1"}
    first = client.post(IMPORT, json={"items": rows, "on_conflict": "update"}, headers=headers)
    assert first.status_code == 200 and first.get_json()["created"] == 1000
    again = client.post(IMPORT, json={"items": rows, "on_conflict": "update"}, headers=headers)
    assert again.get_json() == first.get_json() and again.headers.get("Idempotent-Replayed") == "true"
    assert count(app, models.Item) == 1000
    assert client.get(ITEMS, query_string={"per_page": 1}).get_json()["total"] == 1000
