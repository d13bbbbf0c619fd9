"""v2 hosted authentication through the Nylas Python SDK 5.14.1, unchanged:
``APIClient.authentication_url`` builds ``GET /oauth/authorize?client_id&response_type=code&
redirect_uri&login_hint&state&scopes``; mailroom answers its sign-in page (the form of v3's
hosted page), which is submitted as a browser would; the 303 to the redirect URI carries
``code`` and ``state``; ``send_authorization`` / ``token_for_code`` redeem the code
(``POST /oauth/token``, form-encoded) and the access token reads ``GET /account``. What the
token's scopes allow is in test_scopes.py.

Testbed user77.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
from nylas.client.errors import NylasApiError

from conftest import REDIRECT_URI, redirect_query, sign_in, v2_error

SCOPES = "email.read_only,email.send"


def test_authentication_url_sign_in_and_token_for_code(new_app, testbed):
    app = new_app()
    client = app.client()
    auth_url = client.authentication_url(
        REDIRECT_URI, login_hint=testbed.email(), scopes=SCOPES, state="state-77"
    )
    # What the SDK asks for (v2's query names: `scopes`, comma-joined).
    parsed = urlparse(auth_url)
    assert parsed.path == "/oauth/authorize"
    assert {k: v[0] for k, v in parse_qs(parsed.query).items()} == {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": REDIRECT_URI,
        "login_hint": testbed.email(),
        "state": "state-77",
        "scopes": SCOPES,
    }

    back = redirect_query(sign_in(auth_url, testbed))
    assert back["state"] == "state-77"
    assert back.get("code"), back

    # POST /oauth/token (client_id, client_secret, grant_type=authorization_code, code).
    results = client.send_authorization(back["code"])
    assert isinstance(results.get("access_token"), str) and results["access_token"], results
    assert client.access_token == results["access_token"]
    assert results["email_address"] == testbed.email()
    assert results["provider"] == "imap"
    assert isinstance(results.get("account_id"), str) and results["account_id"], results
    assert str(results.get("token_type", "")).lower() == "bearer", results
    account_id = results["account_id"]

    # GET /account with the token (Bearer).
    account = app.client(results["access_token"]).account
    assert account.object == "account"
    assert account.id == account_id
    assert account.account_id == account_id
    assert account.email_address == testbed.email()
    assert account.provider == "imap"
    assert account.organization_unit == "folder"
    assert isinstance(account.sync_state, str) and account.sync_state

    # A code redeems once; a replay also revokes the token it gave (RFC 6749 section 4.1.2).
    with pytest.raises(NylasApiError) as reused:
        app.client().send_authorization(back["code"])
    v2_error(reused.value.response, 400)
    with pytest.raises(NylasApiError) as revoked:
        app.client(results["access_token"]).account
    v2_error(revoked.value.response, 401)

    # Signing in again re-authenticates the same account; token_for_code returns the token.
    again = redirect_query(sign_in(client.authentication_url(REDIRECT_URI, login_hint=testbed.email(),
                                                             scopes=SCOPES, state="again"), testbed))
    assert again["state"] == "again"
    second = app.client()
    token = second.token_for_code(again["code"])
    assert isinstance(token, str) and token
    assert app.client(token).account.id == account_id


def test_unknown_code_and_wrong_secret(new_app):
    """The token endpoint refuses a code it never issued (400) and a wrong client secret
    (401), with v2's error body."""
    app = new_app()
    with pytest.raises(NylasApiError) as unknown:
        app.client().send_authorization("not-a-code")
    v2_error(unknown.value.response, 400)

    impostor = app.client()
    impostor.client_secret = "not-the-secret"
    with pytest.raises(NylasApiError) as wrong:
        impostor.send_authorization("not-a-code")
    v2_error(wrong.value.response, 401)
