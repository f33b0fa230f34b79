from tests.factories import exchange, get_code, make_client, make_user


def test_code_flow_happy_path(client, db):
    make_user(db)
    rp = make_client(db)
    code, verifier, loc = get_code(client, rp)
    assert code
    resp = exchange(client, rp, code, verifier)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert "id_token" in body
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert info.status_code == 200
    assert info.get_json()["email"] == "alice@example.org"
