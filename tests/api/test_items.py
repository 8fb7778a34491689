"""Items: money in and out, sku rules, admin + items:write only, filters, sort."""

from __future__ import annotations

import pytest

import models
from tests.support.http import ITEM_KEYS, assert_problem, count

ITEMS = "/api/v1/items"


@pytest.fixture
def admin(api):
    return api.user("root", admin=True)


def make(client, headers, **fields):
    response = client.post(ITEMS, json={"name": "Widget", "price": "1.00", **fields}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [i["name"] for i in response.get_json()["items"]]


def test_create_shape_defaults_location(client, admin):
    response = client.post(ITEMS, json={"name": "Pen", "price": 19.9}, headers=admin)
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == ITEM_KEYS
    assert (body["price"], body["stock"], body["description"], body["sku"]) == ("19.90", 0, "", None)
    assert response.headers["Location"].endswith(f"{ITEMS}/{body['id']}")
    assert client.get(response.headers["Location"]).get_json() == body


@pytest.mark.parametrize(
    ("price", "out"),
    [
        (19.9, "19.90"),
        ("19.90", "19.90"),
        (0, "0.00"),
        ("0.01", "0.01"),
        (5, "5.00"),
        ("99999999.99", "99999999.99"),
    ],
)
def test_money_accepted(client, admin, price, out):
    body = make(client, admin, price=price)
    assert body["price"] == out
    assert client.get(f"{ITEMS}/{body['id']}").get_json()["price"] == out


@pytest.mark.parametrize(
    "price",
    [
        "19.999",
        19.999,
        -1,
        "-0.01",
        "NaN",
        "Infinity",
        "-Infinity",
        "1e309",
        100_000_000,
        "100000000.00",
        True,
        False,
        None,
        "abc",
        "",
        [1],
        {"amount": 1},
    ],
)
def test_money_rejected(client, admin, app, price):
    problem = assert_problem(client.post(ITEMS, json={"name": "Bad", "price": price}, headers=admin), 422)
    assert ["body", "price"] in [e["loc"][:2] for e in problem["errors"]]
    assert count(app, models.Item) == 0


def test_nan_and_infinity_literals_rejected(client, admin, app):
    for raw in ('{"name": "x", "price": NaN}', '{"name": "x", "price": Infinity}'):
        response = client.post(ITEMS, data=raw, content_type="application/json", headers=admin)
        assert response.status_code in (400, 422), response.get_data(as_text=True)
        assert_problem(response, response.status_code)
    assert count(app, models.Item) == 0


def test_sku_rules(client, admin, app):
    make(client, admin, sku="ABC-123")
    assert_problem(client.post(ITEMS, json={"name": "x", "price": 1, "sku": "ABC-123"}, headers=admin), 409)
    for sku in ("abc", "A" * 33, "AB_C", "", "ÄBC"):
        assert_problem(client.post(ITEMS, json={"name": "x", "price": 1, "sku": sku}, headers=admin), 422)
    assert count(app, models.Item) == 1
    other = make(client, admin, sku="XYZ")
    assert_problem(client.patch(f"{ITEMS}/{other['id']}", json={"sku": "ABC-123"}, headers=admin), 409)
    assert client.get(f"{ITEMS}/{other['id']}").get_json()["sku"] == "XYZ"
    assert make(client, admin)["sku"] is None
    assert make(client, admin)["sku"] is None  # several items without a sku are fine


def test_field_limits(client, admin, app):
    for body in (
        {"name": "", "price": 1},
        {"name": "n" * 101, "price": 1},
        {"name": "n", "price": 1, "description": "d" * 2001},
        {"name": "n", "price": 1, "stock": -1},
        {"name": "n", "price": 1, "stock": 1.5},
        {"name": "n", "price": 1, "stock": "3"},
        {"price": 1},
    ):
        assert_problem(client.post(ITEMS, json=body, headers=admin), 422)
    assert count(app, models.Item) == 0


def test_writes_need_admin_with_items_write(api, client, app, admin):
    user = api.user("bob")
    item = make(client, admin)
    url = f"{ITEMS}/{item['id']}"
    assert_problem(client.post(ITEMS, json={"name": "x", "price": 1}), 401)
    assert_problem(client.post(ITEMS, json={"name": "x", "price": 1}, headers=user), 403)
    assert_problem(client.put(url, json={"name": "x", "price": 1}, headers=user), 403)
    assert_problem(client.patch(url, json={"name": "x"}, headers=user), 403)
    assert_problem(client.delete(url, headers=user), 403)
    assert count(app, models.Item) == 1
    assert client.get(url).get_json()["name"] == "Widget"


def test_put_patch_delete(client, admin):
    item = make(client, admin, sku="S1", stock=3, description="d")
    url = f"{ITEMS}/{item['id']}"
    replaced = client.put(url, json={"name": "New", "price": "2.50"}, headers=admin)
    assert replaced.status_code == 200
    assert {k: replaced.get_json()[k] for k in ("name", "price", "stock", "sku", "description")} == {
        "name": "New",
        "price": "2.50",
        "stock": 0,
        "sku": None,
        "description": "",
    }
    assert_problem(client.put(url, json={"name": "x"}, headers=admin), 422)
    patched = client.patch(url, json={"stock": 7}, headers=admin).get_json()
    assert (patched["stock"], patched["name"], patched["price"]) == (7, "New", "2.50")
    assert_problem(client.patch(url, json={"price": "1.001"}, headers=admin), 422)
    assert_problem(client.put(f"{ITEMS}/999999", json={"name": "x", "price": 1}, headers=admin), 404)
    assert client.delete(url, headers=admin).status_code == 204
    assert_problem(client.get(url), 404)


def test_filters_and_sort(client, admin):
    make(client, admin, name="Apple", price="1.50", stock=0, description="red fruit")
    make(client, admin, name="Banana", price="0.25", stock=10)
    make(client, admin, name="Cherry", price="10.00", stock=2, description="Tiny")
    assert names(client.get(ITEMS)) == ["Apple", "Banana", "Cherry"]
    assert names(client.get(f"{ITEMS}?sort=price")) == ["Banana", "Apple", "Cherry"]
    assert names(client.get(f"{ITEMS}?sort=-price")) == ["Cherry", "Apple", "Banana"]
    assert names(client.get(f"{ITEMS}?sort=-created_at")) == ["Cherry", "Banana", "Apple"]
    assert names(client.get(f"{ITEMS}?min_price=1.50")) == ["Apple", "Cherry"]
    assert names(client.get(f"{ITEMS}?max_price=1.50")) == ["Apple", "Banana"]
    assert names(client.get(f"{ITEMS}?min_price=0.25&max_price=0.25")) == ["Banana"]
    assert names(client.get(f"{ITEMS}?in_stock=true")) == ["Banana", "Cherry"]
    assert names(client.get(f"{ITEMS}?in_stock=false")) == ["Apple"]
    assert names(client.get(f"{ITEMS}?q=FRUIT")) == ["Apple"]
    assert names(client.get(f"{ITEMS}?q=tiny")) == ["Cherry"]
    assert names(client.get(f"{ITEMS}?q=an")) == ["Banana"]  # shorter than a trigram: a scan
    assert names(client.get(f"{ITEMS}?q=%25%25%25")) == []  # wildcards are literal either way
    # The trigram index follows every write.
    cherry = client.get(f"{ITEMS}?q=tiny").get_json()["items"][0]
    patched = client.patch(
        f"{ITEMS}/{cherry['id']}", json={"name": "Damson", "description": ""}, headers=admin
    )
    assert patched.status_code == 200
    assert names(client.get(f"{ITEMS}?q=tiny")) == [] and names(client.get(f"{ITEMS}?q=damso")) == ["Damson"]
    assert client.delete(f"{ITEMS}/{cherry['id']}", headers=admin).status_code == 204
    assert names(client.get(f"{ITEMS}?q=damso")) == []
    make(client, admin, name="Cherry", price="10.00", stock=2, description="Tiny")
    for qs in ("sort=stock", "min_price=abc", "max_price=-1", "min_price=1.001", "in_stock=maybe", "x=1"):
        problem = assert_problem(client.get(f"{ITEMS}?{qs}"), 422)
        assert problem["errors"][0]["loc"][0] == "query"
    body = client.get(f"{ITEMS}?per_page=1&page=4").get_json()
    assert (body["items"], body["total"], body["pages"]) == ([], 3, 3)


def test_negative_zero_price_is_zero(api, client):
    admin = api.user("boss", admin=True)
    created = client.post("/api/v1/items", json={"name": "Free", "price": "-0"}, headers=admin)
    assert created.status_code == 201
    assert created.get_json()["price"] == "0.00"
    assert client.get(created.headers["Location"]).get_json()["price"] == "0.00"


@pytest.mark.parametrize(
    "price",
    [
        "5_0",
        "\u0665",
        "\u0661\u0669.\u0669\u0660",
        "\uff15",
        " 5",
        "5 ",
        "5\n",
        "1e3",
        "1E3",
        "+5",
        "5.",
        ".5",
        "0x10",
    ],
)
def test_money_string_must_be_plain_ascii_decimal(client, admin, app, price):
    problem = assert_problem(client.post(ITEMS, json={"name": "Bad", "price": price}, headers=admin), 422)
    assert ["body", "price"] in [e["loc"] for e in problem["errors"]]
    assert count(app, models.Item) == 0


@pytest.mark.parametrize(
    "literal",
    [
        "1e3",
        "1E2",
        "1.0e0",
        "0e0",
        "1e-999999999",
        "1e400",
        "1" * 5000,
        "-" + "1" * 5000,
        "1" * 5000 + ".0",
        "0." + "0" * 5000 + "1",
        "19.9000000000000000001",
    ],
)
def test_money_json_number_is_plain_and_exact(client, admin, app, literal):
    raw = '{"name": "Bad", "price": ' + literal + "}"
    response = client.post(ITEMS, data=raw, content_type="application/json", headers=admin)
    problem = assert_problem(response, 422)
    assert ["body", "price"] in [e["loc"] for e in problem["errors"]]
    assert count(app, models.Item) == 0


@pytest.mark.parametrize(
    ("literal", "out"), [("19.90", "19.90"), ("-0", "0.00"), ("-0.0", "0.00"), ("100", "100.00")]
)
def test_money_json_number_in_plain_notation_is_exact(client, admin, literal, out):
    raw = '{"name": "Fine", "price": ' + literal + "}"
    response = client.post(ITEMS, data=raw, content_type="application/json", headers=admin)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["price"] == out


@pytest.mark.parametrize("name", ["min_price", "max_price"])
@pytest.mark.parametrize("value", ["5_0", "%D9%A5", "%205", "1e3", "1" * 5000, "0x10"])
def test_price_filters_must_be_plain_ascii_decimal(client, name, value):
    problem = assert_problem(client.get(f"{ITEMS}?{name}={value}"), 422)
    assert [e["loc"] for e in problem["errors"]] == [["query", name]]


def test_money_schema_still_documents_the_format(client):
    doc = client.get("/openapi.json").get_json()
    price = doc["components"]["schemas"]["ItemCreate"]["properties"]["price"]
    query = {p["name"]: p["schema"] for p in doc["paths"][ITEMS]["get"]["parameters"]}
    for schema in (price, query["min_price"], query["max_price"]):
        kinds = {option["type"]: option for option in schema["anyOf"]}
        assert kinds["string"]["pattern"].startswith("^")
        assert (kinds["number"]["minimum"], kinds["number"]["maximum"]) == (0, 99999999.99)


def test_deeply_nested_item_body_is_a_400(client, admin, app):
    raw = '{"name": "x", "price": 1, "description": ' + "[" * 200_000 + "]" * 200_000 + "}"
    response = client.post(ITEMS, data=raw, content_type="application/json", headers=admin)
    assert_problem(response, 400)
    assert count(app, models.Item) == 0
