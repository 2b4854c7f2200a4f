from conftest import login


def test_sign_in_and_see_workspace(app, client, factory):
    factory.tenant("acme", owner_email="boss@acme.example")
    response = login(client, "boss@acme.example")
    assert response.status_code == 302
    page = client.get("/t/acme/", follow_redirects=True)
    assert page.status_code == 200
    assert "Acme" in page.text
