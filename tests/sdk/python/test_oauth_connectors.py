"""Google, Microsoft and Yahoo mailboxes through the official Nylas Python SDK
(nylas==6.18.0, unchanged), against a real mailroom, the testbed's OAuth 2.0 authorization
server and Dovecot and Postfix taking its tokens (testbed/README.md, "OAuth mailboxes"):

  * ``connectors.create/find/list/update/destroy`` for ``google``, ``microsoft`` and
    ``yahoo`` with ``settings`` {client_id, client_secret} (Microsoft also ``tenant``):
    the SDK's ``Connector`` model reads the provider, the settings without the secret and
    the default scopes;
  * ``auth.custom_authentication`` with ``settings: {refresh_token}`` for each provider: the
    refresh token comes from a client this module registers at the testbed's OAuth server
    and a consent given on its authorization page; the ``Grant`` the SDK returns is used to
    send a message to itself and to list it once the sync has read it back over IMAP;
  * refusals as the SDK's typed ``NylasApiError``: a refresh token the provider does not
    know (401) and custom auth without the provider's connector (400).

The module runs its own ``mailroom serve`` with the three ``MAILROOM_TEST_OAUTH_*`` settings
that move mailroom's provider table to the testbed, and a 1 s sync poll. It owns testbed
user69 and wipes it before each sign-in.
"""

from __future__ import annotations

import json
import os
import secrets
from types import SimpleNamespace
from typing import List, Tuple
from urllib.parse import urlparse

import pytest
import requests
from nylas.handler import http_client
from nylas.models.connectors import Connector
from nylas.models.errors import NylasApiError
from nylas.models.grants import Grant
from nylas.models.messages import Message
from nylas.models.response import DeleteResponse, ListResponse, Response

import mailbox_seed
import oauth_provider
from conftest import MailroomServer, _mailroom_binary, wait_until

USER = 69

# What a connector asks for unless told otherwise: the mailbox over IMAP and SMTP, offline
# access, and who the user is.
DEFAULT_SCOPES = {
    "google": ["https://mail.google.com/", "openid", "email"],
    "microsoft": [
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
        "openid",
        "email",
    ],
    "yahoo": ["mail-w", "openid", "email"],
}

ARRIVAL_TIMEOUT = 60  # the sync polls every second; a loaded machine may need a while


@pytest.fixture(scope="module")
def server(testbed, tmp_path_factory):
    """A mailroom of this module's own, its Google, Microsoft and Yahoo pointed at the
    testbed; it looks at mailboxes every second."""
    data_dir = tmp_path_factory.mktemp("mailroom-oauth-connectors")
    env = dict(os.environ)
    for key in ("MAILROOM_CONFIG", "MAILROOM_DATABASE_URL", "MAILROOM_DATA_DIR", "MAILROOM_LISTEN", "MAILROOM_SECRET_KEY"):
        env.pop(key, None)
    env.update({
        "MAILROOM_ALLOW_PRIVATE_HOSTS": "true",  # the testbed is on 127.0.0.1 ...
        "MAILROOM_ALLOW_INSECURE_TRANSPORT": "true",  # ... and its OAuth server speaks plain http
        "MAILROOM_EXTRA_CA_FILE": testbed.ca,
        "MAILROOM_PROVIDER_TIMEOUT_SECS": "15",
        "MAILROOM_SYNC_POLL_SECS": "1",
        **oauth_provider.provider_env(testbed),
    })
    srv = MailroomServer(_mailroom_binary(), data_dir, env, data_dir.parent / "mailroom-oauth-connectors.log")
    try:
        srv.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield srv
    finally:
        srv.stop()


def new_app(server: MailroomServer, name: str):
    try:
        return server.create_app(f"sdk-python-oauth-{name}-{secrets.token_hex(3)}")
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture
def wire(monkeypatch) -> List[Tuple[str, str, object]]:
    """(method, path, JSON body) of every request the SDK sends during the test."""
    sent: List[Tuple[str, str, object]] = []

    def record(method, url, **kwargs):
        data = kwargs.get("data")
        sent.append((method, urlparse(url).path, json.loads(data) if data else None))
        return requests.request(method, url, **kwargs)

    # Only the SDK's module sees the recorder; the test's own requests go out unrecorded.
    monkeypatch.setattr(http_client, "requests", SimpleNamespace(request=record, exceptions=requests.exceptions))
    return sent


def assert_api_error(excinfo, status: int, error_type: str, *words: str) -> None:
    error = excinfo.value
    assert isinstance(error, NylasApiError), repr(error)
    assert error.status_code == status, (error.status_code, str(error))
    assert error.type == error_type, (error.type, str(error))
    assert error.request_id, "the error carries the request id"
    for word in words:
        assert word in str(error), str(error)


# --------------------------------------------------------------------------- connectors


def test_oauth_connectors_are_created_found_listed_updated_and_destroyed(server, wire):
    app = new_app(server, "connectors")
    nylas = app.client
    secret = f"sdk-secret-{secrets.token_hex(8)}"
    ids = {p: f"{p}-client-{secrets.token_hex(4)}" for p in ("google", "microsoft", "yahoo")}

    created = {}
    for provider in ("google", "microsoft", "yahoo"):
        response = nylas.connectors.create(
            {"provider": provider, "settings": {"client_id": ids[provider], "client_secret": secret}}
        )
        assert isinstance(response, Response)
        assert isinstance(response.data, Connector)
        assert response.request_id
        created[provider] = response.data
    # The SDK sends the request body exactly as given.
    assert wire == [
        ("POST", "/v3/connectors",
         {"provider": p, "settings": {"client_id": ids[p], "client_secret": secret}})
        for p in ("google", "microsoft", "yahoo")
    ]
    assert created["google"] == Connector(
        provider="google", settings={"client_id": ids["google"]}, scope=DEFAULT_SCOPES["google"]
    )
    # Microsoft's tenant defaults to "common", and is shown (it is no secret).
    assert created["microsoft"] == Connector(
        provider="microsoft",
        settings={"client_id": ids["microsoft"], "tenant": "common"},
        scope=DEFAULT_SCOPES["microsoft"],
    )
    assert created["yahoo"] == Connector(
        provider="yahoo", settings={"client_id": ids["yahoo"]}, scope=DEFAULT_SCOPES["yahoo"]
    )

    # A second connector for the same provider is refused: one per provider.
    with pytest.raises(NylasApiError) as twice:
        nylas.connectors.create({"provider": "google", "settings": {"client_id": "x", "client_secret": "y"}})
    assert_api_error(twice, 409, "api.invalid_request_error", "PATCH /v3/connectors/google")
    # An OAuth connector without its client secret cannot sign anybody in.
    with pytest.raises(NylasApiError) as no_secret:
        new_app(server, "no-secret").client.connectors.create(
            {"provider": "yahoo", "settings": {"client_id": "id-only"}}
        )
    assert_api_error(no_secret, 400, "api.invalid_request_payload", "client_secret")

    for provider in ("google", "microsoft", "yahoo"):
        found = nylas.connectors.find(provider)
        assert isinstance(found.data, Connector)
        assert found.data == created[provider]

    listed = nylas.connectors.list()
    assert isinstance(listed, ListResponse)
    assert sorted(listed.data, key=lambda c: c.provider) == [created[p] for p in ("google", "microsoft", "yahoo")]
    for path in ["/v3/connectors"] + [f"/v3/connectors/{p}" for p in ids]:
        raw = server.raw("GET", path, app.api_key)
        assert raw.status_code == 200, raw.text
        assert secret not in raw.text, f"{path} shows the client secret: {raw.text}"

    # Microsoft: another tenant and fewer scopes; the client id and secret are kept.
    scope = ["https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"]
    wire.clear()
    updated = nylas.connectors.update(
        "microsoft", {"settings": {"tenant": "contoso.onmicrosoft.com"}, "scope": scope}
    )
    # Python updates with PATCH (the Node SDK with PUT); mailroom takes both as a change.
    assert wire == [("PATCH", "/v3/connectors/microsoft",
                     {"settings": {"tenant": "contoso.onmicrosoft.com"}, "scope": scope})]
    assert isinstance(updated.data, Connector)
    assert updated.data == Connector(
        provider="microsoft",
        settings={"client_id": ids["microsoft"], "tenant": "contoso.onmicrosoft.com"},
        scope=scope,
    )
    assert nylas.connectors.find("microsoft").data == updated.data
    # Google: a new client (id and secret); the answer shows the id only.
    rotated = f"sdk-secret-{secrets.token_hex(8)}"
    google = nylas.connectors.update(
        "google", {"settings": {"client_id": "google-client-2", "client_secret": rotated}}
    ).data
    assert google == Connector(provider="google", settings={"client_id": "google-client-2"},
                               scope=DEFAULT_SCOPES["google"])
    raw = server.raw("GET", "/v3/connectors", app.api_key)
    assert rotated not in raw.text and secret not in raw.text, raw.text

    deleted = nylas.connectors.destroy("yahoo")
    assert isinstance(deleted, DeleteResponse)
    assert deleted.request_id
    with pytest.raises(NylasApiError) as gone:
        nylas.connectors.find("yahoo")
    assert_api_error(gone, 404, "api.not_found_error")
    assert sorted(c.provider for c in nylas.connectors.list().data) == ["google", "microsoft"]
    for provider in ("google", "microsoft"):
        assert isinstance(nylas.connectors.destroy(provider), DeleteResponse)
    assert nylas.connectors.list().data == []


# --------------------------------------------------------------------------- custom auth


@pytest.mark.parametrize("provider", ["google", "microsoft", "yahoo"])
def test_custom_authentication_with_a_refresh_token_connects_a_mailbox(server, testbed, wire, provider):
    mailbox_seed.wipe_user(USER)
    email = testbed.email(USER)
    client_id = oauth_provider.new_client(testbed, provider)
    app = new_app(server, provider)
    nylas = app.client
    nylas.connectors.create(
        {"provider": provider,
         "settings": {"client_id": client_id, "client_secret": oauth_provider.CLIENT_SECRET}}
    )
    refresh = oauth_provider.refresh_token(testbed, provider, client_id, email)

    wire.clear()
    response = nylas.auth.custom_authentication({"provider": provider, "settings": {"refresh_token": refresh}})
    assert wire == [("POST", "/v3/connect/custom", {"provider": provider, "settings": {"refresh_token": refresh}})]
    assert isinstance(response, Response)
    grant = response.data
    assert isinstance(grant, Grant)
    assert grant.provider == provider
    assert grant.email == email
    assert grant.grant_status == "valid"
    assert grant.id
    try:
        assert nylas.grants.find(grant.id).data.email == email
        raw = server.raw("GET", f"/v3/grants/{grant.id}", app.api_key)
        assert raw.status_code == 200 and refresh not in raw.text, raw.text

        if provider == "microsoft":
            # Microsoft rotates refresh tokens: the one mailroom traded is spent.
            with pytest.raises(NylasApiError) as spent:
                nylas.auth.custom_authentication({"provider": provider, "settings": {"refresh_token": refresh}})
            assert_api_error(spent, 401, "api.authentication_error", "invalid_grant")
        else:
            # Google and Yahoo keep it: signing in again re-authenticates the same grant.
            again = nylas.auth.custom_authentication({"provider": provider, "settings": {"refresh_token": refresh}})
            assert again.data.id == grant.id
            assert again.data.grant_status == "valid"

        # Sent over SMTP with the access token, then read back over IMAP by the sync.
        subject = f"OAuth {provider} through the SDK {secrets.token_hex(4)}"
        sent = nylas.messages.send(
            grant.id, {"to": [{"email": email}], "subject": subject, "body": f"sent with a {provider} token"}
        ).data
        assert isinstance(sent, Message)
        assert sent.subject == subject

        def arrived():
            listed = nylas.messages.list(grant.id, query_params={"subject": subject}).data
            # One message, in two folders: the copy filed in Sent and the delivered one.
            done = len(listed) == 1 and len(listed[0].folders or []) == 2
            return done, [(m.subject, m.folders) for m in listed]

        wait_until(f"'{subject}' in Sent and INBOX", arrived, timeout=ARRIVAL_TIMEOUT)
        message = nylas.messages.list(grant.id, query_params={"subject": subject}).data[0]
        assert [p["email"] for p in message.from_] == [email]
        assert [p["email"] for p in message.to] == [email]
        folders = {nylas.folders.find(grant.id, f).data.name: f for f in message.folders}
        assert set(folders) == {"INBOX", "Sent"}, folders
        inbox = nylas.messages.list(grant.id, query_params={"in": folders["INBOX"], "limit": 50}).data
        assert [m.subject for m in inbox] == [subject]
    finally:
        # No sync left on user69 for the next sign-in's wipe.
        nylas.grants.destroy(grant.id)


def test_custom_authentication_refusals_are_typed_api_errors(server, testbed):
    client_id = oauth_provider.new_client(testbed, "google")
    app = new_app(server, "refusals")
    nylas = app.client
    nylas.connectors.create(
        {"provider": "google",
         "settings": {"client_id": client_id, "client_secret": oauth_provider.CLIENT_SECRET}}
    )

    # A refresh token the provider never issued: it refuses it, and so does mailroom.
    with pytest.raises(NylasApiError) as refused:
        nylas.auth.custom_authentication({"provider": "google", "settings": {"refresh_token": "not-a-refresh-token"}})
    assert_api_error(refused, 401, "api.authentication_error", "invalid_grant")

    # No Yahoo connector in this application: nothing to trade a token with.
    with pytest.raises(NylasApiError) as no_connector:
        nylas.auth.custom_authentication({"provider": "yahoo", "settings": {"refresh_token": "rt"}})
    assert_api_error(no_connector, 400, "api.invalid_request_error", "connector")
    # Nor in a fresh application for Google.
    with pytest.raises(NylasApiError) as fresh:
        new_app(server, "empty").client.auth.custom_authentication(
            {"provider": "google", "settings": {"refresh_token": "rt"}}
        )
    assert_api_error(fresh, 400, "api.invalid_request_error", "connector")
    assert nylas.grants.list().data == []
