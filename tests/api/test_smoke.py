from tests.support.http import assert_problem


def test_health(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_register_and_me(api, client):
    headers = api.user("alice")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    assert me.get_json()["email"] == "alice@example.com"
    assert_problem(client.get("/api/v1/me"), 401)
