"""Seed 000 ("Create grants with IMAP authentication") driven through the official Nylas
Python SDK (nylas==6.18.0), unchanged, against a real mailroom and real Dovecot/Postfix.

The flows are the ones an application runs: create the IMAP connector exactly as the
seed's Python snippet does, manage it, create grants with custom authentication
(POST /v3/connect/custom), manage grants, and get the SDK's typed errors when something
is wrong. Where the SDK's models drop a field (the Connector model has no `name`) or where
the point is what went over the wire (no password anywhere), the raw JSON is read with
`requests`.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, List

import pytest
from nylas import Client
from nylas.models.application_details import ApplicationDetails
from nylas.models.connectors import Connector
from nylas.models.errors import NylasApiError
from nylas.models.grants import Grant
from nylas.models.response import DeleteResponse, ListResponse, Response

# --------------------------------------------------------------------------- helpers


def assert_no_secret(value, secrets: Iterable[str], where: str = "response") -> None:
    """No key that looks like a password and no secret value anywhere in a JSON value."""
    secrets = [s for s in secrets if s]

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                assert "password" not in key.lower(), f"{where}: key {path}.{key} exposes a password field"
                walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{path}[{i}]")
        elif isinstance(node, str):
            for secret in secrets:
                assert secret not in node, f"{where}: {path} contains a password"

    walk(value, "$")


def create_grant(client: Client, testbed, n: int, **overrides) -> Grant:
    response = client.auth.custom_authentication(
        {"provider": "imap", "settings": testbed.imap_settings(n, **overrides)}
    )
    assert isinstance(response, Response)
    assert isinstance(response.data, Grant)
    return response.data


def grant_ids(response: ListResponse) -> List[str]:
    return [g.id for g in response.data]


@pytest.fixture
def imap_app(new_app):
    """A fresh application with an IMAP connector, created through the SDK."""
    app = new_app("-imap")
    connector = app.client.connectors.create(request_body={"name": "aol", "provider": "imap"})
    assert connector.data.provider == "imap"
    return app


# --------------------------------------------------------------------------- application


def test_applications_info_returns_the_application(app, nylas, mailroom):
    response = nylas.applications.info()
    assert isinstance(response, Response)
    assert isinstance(response.data, ApplicationDetails)
    assert response.request_id
    details = response.data
    assert details.application_id == app.application_id
    assert details.organization_id
    assert details.branding.name == app.name
    # docs/API.md §1.4: the request id also travels as a header (Node reads it from there).
    assert response.headers.get("x-request-id") == response.request_id
    # The raw body has the SDK's required keys, in the v3 envelope.
    raw = mailroom.raw("GET", "/v3/applications", app.api_key)
    assert raw.status_code == 200
    body = raw.json()
    assert body["request_id"]
    assert body["data"]["application_id"] == app.application_id
    assert_no_secret(body, [app.client_secret, app.api_key], "GET /v3/applications")


# --------------------------------------------------------------------------- connectors


def test_create_imap_connector_exactly_as_in_the_seed(new_app, mailroom):
    nylas = new_app().client
    # The seed's Python snippet, verbatim.
    connector = nylas.connectors.create(
        request_body={
            "name": "aol",
            "provider": "imap"
        }
    )
    assert isinstance(connector, Response)
    assert isinstance(connector.data, Connector)
    assert connector.request_id
    assert connector.data.provider == "imap"
    # IMAP has no scopes and an IMAP connector has no settings.
    assert not connector.data.scope
    assert not connector.data.settings

    # The SDK's Connector model has no `name` attribute: read it from the wire.
    raw = mailroom.raw("GET", "/v3/connectors/imap", nylas.api_key)
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert body["request_id"]
    assert body["data"]["provider"] == "imap"
    assert body["data"]["name"] == "aol"


def test_connectors_list_find_update_destroy(new_app, mailroom):
    nylas = new_app().client
    nylas.connectors.create(request_body={"name": "aol", "provider": "imap"})

    listed = nylas.connectors.list()
    assert isinstance(listed, ListResponse)
    assert listed.request_id
    assert [c.provider for c in listed.data] == ["imap"]
    assert all(isinstance(c, Connector) for c in listed.data)
    assert [c.provider for c in nylas.connectors.list(query_params={"limit": 1}).data] == ["imap"]
    assert nylas.connectors.list(query_params={"limit": 1, "offset": 1}).data == []

    found = nylas.connectors.find("imap")
    assert isinstance(found.data, Connector)
    assert found.data.provider == "imap"

    updated = nylas.connectors.update("imap", request_body={"name": "AOL mail"})
    assert isinstance(updated.data, Connector)
    assert updated.data.provider == "imap"
    raw = mailroom.raw("GET", "/v3/connectors/imap", nylas.api_key)
    assert raw.json()["data"]["name"] == "AOL mail"

    deleted = nylas.connectors.destroy("imap")
    assert isinstance(deleted, DeleteResponse)
    assert deleted.request_id

    with pytest.raises(NylasApiError) as excinfo:
        nylas.connectors.find("imap")
    assert excinfo.value.status_code == 404
    assert excinfo.value.type == "api.not_found_error"
    assert nylas.connectors.list().data == []

    with pytest.raises(NylasApiError) as excinfo:
        nylas.connectors.destroy("imap")
    assert excinfo.value.status_code == 404

    # After deletion the provider can be connected again.
    again = nylas.connectors.create(request_body={"name": "aol", "provider": "imap"})
    assert again.data.provider == "imap"
    assert [c.provider for c in nylas.connectors.list().data] == ["imap"]


def test_second_imap_connector_is_rejected(new_app, mailroom):
    nylas = new_app().client
    nylas.connectors.create(request_body={"name": "aol", "provider": "imap"})

    with pytest.raises(NylasApiError) as excinfo:
        nylas.connectors.create(request_body={"name": "another", "provider": "imap"})
    err = excinfo.value
    assert err.status_code in (400, 409), err.status_code
    assert err.request_id
    assert "connector" in str(err).lower()

    # The first connector is untouched, and there is still exactly one.
    assert [c.provider for c in nylas.connectors.list().data] == ["imap"]
    assert mailroom.raw("GET", "/v3/connectors/imap", nylas.api_key).json()["data"]["name"] == "aol"


def test_imap_connector_with_scopes_is_rejected(new_app):
    nylas = new_app().client
    # The seed: "IMAP does not support the concept of scopes, so don't list any".
    with pytest.raises(NylasApiError) as excinfo:
        nylas.connectors.create(
            request_body={"name": "aol", "provider": "imap", "scope": ["email.read_only"]}
        )
    err = excinfo.value
    assert err.status_code == 400
    assert err.type.startswith("api.invalid_request")
    assert "scope" in str(err).lower()
    # Nothing was created.
    with pytest.raises(NylasApiError) as excinfo:
        nylas.connectors.find("imap")
    assert excinfo.value.status_code == 404

    # Adding scopes to an existing IMAP connector is refused the same way.
    nylas.connectors.create(request_body={"name": "aol", "provider": "imap"})
    with pytest.raises(NylasApiError) as excinfo:
        nylas.connectors.update("imap", request_body={"scope": ["email.read_only"]})
    assert excinfo.value.status_code == 400
    assert not nylas.connectors.find("imap").data.scope


# --------------------------------------------------------------------------- custom auth


def test_custom_auth_creates_a_valid_grant_without_exposing_passwords(imap_app, testbed, mailroom):
    nylas = imap_app.client
    response = nylas.auth.custom_authentication(
        {"provider": "imap", "settings": testbed.imap_settings(1)}
    )
    assert isinstance(response, Response)
    assert response.request_id
    grant = response.data
    assert isinstance(grant, Grant)
    assert grant.id
    assert grant.provider == "imap"
    assert grant.email == testbed.email(1)
    assert grant.grant_status == "valid"
    assert grant.scope == []  # IMAP has no scopes
    assert isinstance(grant.created_at, int) and isinstance(grant.updated_at, int)

    # settings describe the servers but never carry a password.
    assert isinstance(grant.settings, dict)
    assert grant.settings.get("imap_host") == "localhost"
    assert grant.settings.get("imap_port") == testbed.imap_port
    assert grant.settings.get("smtp_port") == testbed.submission_port
    assert "imap_password" not in grant.settings
    assert "smtp_password" not in grant.settings
    assert_no_secret(grant.settings, [testbed.password(1)], "grant.settings")

    # ... nor anywhere in the raw JSON the server sends.
    for path in (f"/v3/grants/{grant.id}", "/v3/grants", f"/v3/grants?email={testbed.email(1)}"):
        raw = mailroom.raw("GET", path, imap_app.api_key)
        assert raw.status_code == 200, raw.text
        assert testbed.password(1) not in raw.text, f"GET {path} leaks the password"
        assert_no_secret(raw.json(), [testbed.password(1)], f"GET {path}")
    assert raw.json()["data"][0]["id"] == grant.id

    found = nylas.grants.find(grant.id)
    assert isinstance(found.data, Grant)
    assert (found.data.id, found.data.email, found.data.provider, found.data.grant_status) == (
        grant.id,
        testbed.email(1),
        "imap",
        "valid",
    )


def test_custom_auth_raw_response_has_no_password(imap_app, testbed, mailroom):
    body = {"provider": "imap", "settings": testbed.imap_settings(2)}
    raw = mailroom.raw("POST", "/v3/connect/custom", imap_app.api_key, json=body)
    assert raw.status_code in (200, 201), raw.text
    assert testbed.password(2) not in raw.text
    payload = raw.json()
    assert payload["request_id"]
    assert payload["data"]["email"] == testbed.email(2)
    assert payload["data"]["grant_status"] == "valid"
    assert_no_secret(payload, [testbed.password(2)], "POST /v3/connect/custom")


def test_reauthenticating_the_same_email_returns_the_same_grant(imap_app, testbed, mailroom):
    nylas = imap_app.client
    first = create_grant(nylas, testbed, 1)

    second = create_grant(nylas, testbed, 1)
    assert second.id == first.id
    assert second.grant_status == "valid"
    assert second.email == testbed.email(1)

    # Same again over the raw wire, and with the address in another case.
    raw = mailroom.raw(
        "POST",
        "/v3/connect/custom",
        imap_app.api_key,
        json={
            "provider": "imap",
            "settings": testbed.imap_settings(1, imap_username=testbed.email(1).upper()),
        },
    )
    assert raw.status_code in (200, 201), raw.text
    assert raw.json()["data"]["id"] == first.id
    assert raw.json()["data"]["grant_status"] == "valid"

    # Re-authenticating with a wrong password fails and leaves the grant as it was.
    with pytest.raises(NylasApiError) as excinfo:
        create_grant(nylas, testbed, 1, imap_password="not-the-password")
    assert excinfo.value.status_code == 401
    assert nylas.grants.find(first.id).data.grant_status == "valid"
    assert create_grant(nylas, testbed, 1).id == first.id

    # One grant per email address in the application.
    listed = nylas.grants.list(query_params={"email": testbed.email(1)})
    assert grant_ids(listed) == [first.id]
    assert grant_ids(nylas.grants.list()) == [first.id]

    # A different user is a different grant.
    other = create_grant(nylas, testbed, 2)
    assert other.id != first.id
    assert sorted(grant_ids(nylas.grants.list())) == sorted([first.id, other.id])


def test_concurrent_custom_auth_for_one_email_yields_one_grant(imap_app, testbed):
    # An application submitting the same login twice at once (a double click) must
    # still end up with one grant for the address.
    nylas = imap_app.client
    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(lambda _: create_grant(nylas, testbed, 3).id, range(6)))
    assert len(set(ids)) == 1
    assert grant_ids(nylas.grants.list()) == [ids[0]]
    assert nylas.grants.find(ids[0]).data.grant_status == "valid"


def test_the_same_email_in_two_applications_is_two_grants(new_app, testbed):
    a, b = new_app("-a"), new_app("-b")
    for app in (a, b):
        app.client.connectors.create(request_body={"provider": "imap"})
    ga = create_grant(a.client, testbed, 1)
    gb = create_grant(b.client, testbed, 1)
    assert ga.id != gb.id
    # Each application sees only its own grant.
    assert grant_ids(a.client.grants.list()) == [ga.id]
    assert grant_ids(b.client.grants.list()) == [gb.id]
    with pytest.raises(NylasApiError) as excinfo:
        b.client.grants.find(ga.id)
    assert excinfo.value.status_code == 404
    with pytest.raises(NylasApiError) as excinfo:
        b.client.grants.destroy(ga.id)
    assert excinfo.value.status_code == 404
    assert a.client.grants.find(ga.id).data.id == ga.id


# --------------------------------------------------------------------------- grants


def test_grants_list_with_query_params(imap_app, testbed, mailroom):
    nylas = imap_app.client
    created = [create_grant(nylas, testbed, n) for n in (1, 2, 3)]
    all_ids = {g.id for g in created}

    everything = nylas.grants.list()
    assert isinstance(everything, ListResponse)
    assert everything.request_id
    assert all(isinstance(g, Grant) for g in everything.data)
    assert set(grant_ids(everything)) == all_ids
    assert len(everything.data) == 3

    # limit / offset paging, in a fixed order.
    order = {"sort_by": "created_at", "order_by": "asc"}
    page1 = nylas.grants.list(query_params={**order, "limit": 2, "offset": 0})
    page2 = nylas.grants.list(query_params={**order, "limit": 2, "offset": 2})
    assert len(page1.data) == 2
    assert len(page2.data) == 1
    assert set(grant_ids(page1)) | set(grant_ids(page2)) == all_ids
    assert not set(grant_ids(page1)) & set(grant_ids(page2))
    assert nylas.grants.list(query_params={"offset": 3}).data == []
    # The envelope echoes limit and offset (docs/API.md §1.4).
    raw = mailroom.raw("GET", "/v3/grants?limit=2&offset=1", imap_app.api_key).json()
    assert (raw["limit"], raw["offset"], len(raw["data"])) == (2, 1, 2)

    # email
    by_email = nylas.grants.list(query_params={"email": testbed.email(2)})
    assert [(g.id, g.email) for g in by_email.data] == [(created[1].id, testbed.email(2))]
    assert nylas.grants.list(query_params={"email": f"nobody@{testbed.domain}"}).data == []

    # grant_status
    valid = nylas.grants.list(query_params={"grant_status": "valid"})
    assert set(grant_ids(valid)) == all_ids
    assert all(g.grant_status == "valid" for g in valid.data)
    assert nylas.grants.list(query_params={"grant_status": "invalid"}).data == []

    # provider
    assert set(grant_ids(nylas.grants.list(query_params={"provider": "imap"}))) == all_ids
    assert nylas.grants.list(query_params={"provider": "google"}).data == []

    # sort_by / order_by: desc is exactly asc reversed, and asc is non-decreasing.
    for field in ("created_at", "updated_at"):
        asc = nylas.grants.list(query_params={"sort_by": field, "order_by": "asc"}).data
        desc = nylas.grants.list(query_params={"sort_by": field, "order_by": "desc"}).data
        assert [g.id for g in asc] == [g.id for g in reversed(desc)]
        values = [getattr(g, field) for g in asc]
        assert values == sorted(values)
        # The SDK's deprecated camelCase aliases are renamed before sending.
        camel = nylas.grants.list(query_params={"sortBy": field, "orderBy": "desc"}).data
        assert [g.id for g in camel] == [g.id for g in desc]

    # Combined filters.
    combined = nylas.grants.list(
        query_params={
            "limit": 5,
            "offset": 0,
            "email": testbed.email(3),
            "grant_status": "valid",
            "provider": "imap",
            "sort_by": "updated_at",
            "order_by": "desc",
        }
    )
    assert grant_ids(combined) == [created[2].id]


def test_grants_update_with_new_valid_settings(imap_app, testbed, mailroom):
    nylas = imap_app.client
    grant = create_grant(nylas, testbed, 1)
    assert grant.settings["imap_port"] == testbed.imap_port

    # Move both servers to implicit TLS (IMAPS, SMTPS): the server proves them first.
    new_settings = testbed.imap_settings(
        1,
        imap_port=testbed.imaps_port,
        imap_security="ssl",
        smtp_port=testbed.smtps_port,
        smtp_security="ssl",
    )
    updated = nylas.grants.update(grant.id, request_body={"settings": new_settings})
    assert isinstance(updated, Response)
    assert isinstance(updated.data, Grant)
    assert updated.data.id == grant.id
    assert updated.data.email == testbed.email(1)
    assert updated.data.grant_status == "valid"
    assert updated.data.settings["imap_port"] == testbed.imaps_port
    assert updated.data.settings["smtp_port"] == testbed.smtps_port
    assert_no_secret(updated.data.settings, [testbed.password(1)], "updated grant.settings")

    found = nylas.grants.find(grant.id).data
    assert found.settings["imap_port"] == testbed.imaps_port
    assert found.settings["smtp_port"] == testbed.smtps_port
    raw = mailroom.raw("GET", f"/v3/grants/{grant.id}", imap_app.api_key)
    assert testbed.password(1) not in raw.text


def test_grants_update_with_wrong_password_is_rejected_and_grant_keeps_working(imap_app, testbed):
    nylas = imap_app.client
    grant = create_grant(nylas, testbed, 1)

    with pytest.raises(NylasApiError) as excinfo:
        nylas.grants.update(
            grant.id,
            request_body={"settings": testbed.imap_settings(1, imap_password="not-the-password")},
        )
    err = excinfo.value
    assert err.status_code == 401
    assert "IMAP" in str(err)

    # Nothing changed...
    after = nylas.grants.find(grant.id).data
    assert after.grant_status == "valid"
    assert after.settings == grant.settings

    # ... and the stored password is still the good one. It never follows the servers
    # elsewhere: a move to another port without it is refused, with it it succeeds.
    with pytest.raises(NylasApiError) as excinfo:
        nylas.grants.update(
            grant.id,
            request_body={"settings": {"imap_port": testbed.imaps_port, "imap_security": "ssl"}},
        )
    assert excinfo.value.status_code == 400
    assert "settings.imap_password is required" in str(excinfo.value)
    moved = nylas.grants.update(
        grant.id,
        request_body={
            "settings": {
                "imap_port": testbed.imaps_port,
                "imap_security": "ssl",
                "imap_password": testbed.password(1),
            }
        },
    ).data
    assert moved.id == grant.id
    assert moved.grant_status == "valid"
    assert moved.settings["imap_port"] == testbed.imaps_port

    # Re-authentication with the right password on the grant's servers still finds the
    # same grant; on its old servers it is refused (signing in never moves a mailbox).
    assert create_grant(
        nylas, testbed, 1, imap_port=testbed.imaps_port, imap_security="ssl"
    ).id == grant.id
    with pytest.raises(NylasApiError) as excinfo:
        create_grant(nylas, testbed, 1)
    assert excinfo.value.status_code == 400
    assert "PATCH /v3/grants/" in str(excinfo.value)


def test_grants_destroy(imap_app, testbed):
    nylas = imap_app.client
    grant = create_grant(nylas, testbed, 1)
    keep = create_grant(nylas, testbed, 2)

    deleted = nylas.grants.destroy(grant.id)
    assert isinstance(deleted, DeleteResponse)
    assert deleted.request_id

    with pytest.raises(NylasApiError) as excinfo:
        nylas.grants.find(grant.id)
    assert excinfo.value.status_code == 404
    assert excinfo.value.type == "api.not_found_error"
    assert grant_ids(nylas.grants.list()) == [keep.id]

    for call in (
        lambda: nylas.grants.destroy(grant.id),
        lambda: nylas.grants.update(grant.id, request_body={"settings": {"imap_port": testbed.imaps_port}}),
    ):
        with pytest.raises(NylasApiError) as excinfo:
            call()
        assert excinfo.value.status_code == 404

    # The mailbox can be connected again afterwards.
    again = create_grant(nylas, testbed, 1)
    assert again.grant_status == "valid"
    assert sorted(grant_ids(nylas.grants.list())) == sorted([again.id, keep.id])


# --------------------------------------------------------------------------- typed errors


def test_custom_auth_with_wrong_imap_password(imap_app, testbed):
    nylas = imap_app.client
    with pytest.raises(NylasApiError) as excinfo:
        create_grant(nylas, testbed, 1, imap_password="wrong-password")
    err = excinfo.value
    assert err.status_code == 401
    assert err.type == "api.authentication_error"
    assert "IMAP" in str(err)
    assert err.request_id
    assert "wrong-password" not in str(err)
    # No grant was created.
    assert nylas.grants.list().data == []


def test_custom_auth_with_wrong_smtp_only_password(imap_app, testbed):
    nylas = imap_app.client
    with pytest.raises(NylasApiError) as excinfo:
        create_grant(
            nylas,
            testbed,
            1,
            smtp_username=testbed.email(1),
            smtp_password="wrong-smtp-password",
        )
    err = excinfo.value
    assert err.status_code == 401
    assert err.type == "api.authentication_error"
    assert "SMTP" in str(err)
    assert "wrong-smtp-password" not in str(err)
    assert nylas.grants.list().data == []


@pytest.mark.parametrize("server", ["imap", "smtp"])
def test_custom_auth_with_unreachable_server(imap_app, testbed, free_port, server):
    nylas = imap_app.client
    with pytest.raises(NylasApiError) as excinfo:
        create_grant(nylas, testbed, 1, **{f"{server}_host": "127.0.0.1", f"{server}_port": free_port})
    err = excinfo.value
    assert err.status_code == 504
    assert err.type == "api.provider_error"
    assert server.upper() in str(err)
    assert nylas.grants.list().data == []


def test_unknown_api_key_is_rejected(mailroom):
    stranger = mailroom.client("not-a-real-api-key")
    calls = {
        "applications.info": lambda: stranger.applications.info(),
        "connectors.list": lambda: stranger.connectors.list(),
        "connectors.create": lambda: stranger.connectors.create(request_body={"provider": "imap"}),
        "grants.list": lambda: stranger.grants.list(),
        "auth.custom_authentication": lambda: stranger.auth.custom_authentication(
            {"provider": "imap", "settings": {"imap_username": "user1@example.test", "imap_password": "x"}}
        ),
    }
    for name, call in calls.items():
        with pytest.raises(NylasApiError) as excinfo:
            call()
        assert excinfo.value.status_code == 401, name
        assert excinfo.value.type == "api.authentication_error", name


def test_custom_auth_without_an_imap_connector(new_app, testbed):
    nylas = new_app().client
    with pytest.raises(NylasApiError) as excinfo:
        create_grant(nylas, testbed, 1)
    err = excinfo.value
    assert err.status_code == 400
    assert "connector" in str(err).lower()
    assert nylas.grants.list().data == []


def test_unknown_grant_id(nylas):
    for grant_id in ("does-not-exist", str(uuid.uuid4())):
        with pytest.raises(NylasApiError) as excinfo:
            nylas.grants.find(grant_id)
        err = excinfo.value
        assert err.status_code == 404, grant_id
        assert err.type == "api.not_found_error", grant_id
        assert err.request_id
        assert err.headers.get("x-request-id") == err.request_id
