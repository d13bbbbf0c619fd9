"""v2 native authentication (``POST /connect/authorize`` then ``POST /connect/token``) with
IMAP settings in v2's names, its refusals, and ``POST /oauth/revoke`` through the Python SDK
5.14.1's ``revoke_token``. The 5.x SDK has no call for native authentication, so those two
requests go out with ``requests`` (trusting the session's CA), as seed 004's curl does;
everything after uses the SDK.

Testbed user77.
"""

from __future__ import annotations

import pytest
import requests
from nylas.client.errors import NylasApiError

from conftest import HTTP_TIMEOUT, native_auth, native_authorize, native_token, v2_error


def test_native_authentication(new_app, testbed):
    app = new_app()
    authorized = native_authorize(app, testbed, "email.read_only,email.send")
    assert authorized.status_code == 200, authorized.text
    code = authorized.json()["code"]
    assert isinstance(code, str) and code

    # The wrong client secret does not redeem it.
    wrong = requests.post(
        app.api_server + "/connect/token",
        json={"client_id": app.client_id, "client_secret": "not-the-secret", "code": code},
        timeout=HTTP_TIMEOUT,
    )
    v2_error(wrong, 401)

    token = native_token(app, code)
    assert token.status_code == 200, token.text
    account = token.json()
    assert isinstance(account.get("access_token"), str) and account["access_token"], account
    assert account["object"] == "account"
    assert account["id"] == account["account_id"]
    assert account["email_address"] == testbed.email()
    assert account["name"] == "User Seventy-Seven"
    assert account["provider"] == "imap"
    assert account["organization_unit"] == "folder"
    assert account["billing_state"] in ("paid", "canceled", "trial"), account

    # The SDK reads the account with the token.
    me = app.client(account["access_token"]).account
    assert (me.id, me.email_address, me.provider) == (account["id"], testbed.email(), "imap")

    # A code redeems once; a replay also revokes the token it gave (RFC 6749 section 4.1.2).
    v2_error(native_token(app, code), 400)
    with pytest.raises(NylasApiError) as revoked:
        app.client(account["access_token"]).account
    v2_error(revoked.value.response, 401)

    # Authenticating the same mailbox again keeps the account.
    again = native_auth(app, testbed, "email.read_only")
    assert again["account_id"] == account["account_id"]
    assert app.client(again["access_token"]).account.id == account["id"]


def test_wrong_password_is_401_api_error(new_app, testbed):
    app = new_app()
    refused = native_authorize(
        app, testbed, "email.read_only", imap_password="wrong-pass-77", smtp_password="wrong-pass-77"
    )
    body = v2_error(refused, 401)
    assert body["type"] == "api_error", body
    assert "wrong-pass-77" not in refused.text


def test_unknown_scope_is_400(new_app, testbed):
    app = new_app()
    refused = native_authorize(app, testbed, "email.read_only,email.everything")
    body = v2_error(refused, 400)
    assert "email.everything" in body["message"], body


def test_revoke(new_app, testbed):
    app = new_app()
    first = native_auth(app, testbed, "email.read_only")["access_token"]
    second = native_auth(app, testbed, "email.read_only")["access_token"]
    assert first != second

    # The SDK: POST /oauth/revoke with the token as the Basic user (password "None").
    client = app.client(first)
    assert client.account.email_address == testbed.email()
    client.revoke_token()
    assert client.access_token is None
    with pytest.raises(NylasApiError) as revoked:
        app.client(first).account
    v2_error(revoked.value.response, 401)

    # Only that token: the other one still reads the account, until it is revoked too
    # (here with an empty password, as the Node SDK sends it).
    assert app.client(second).account.email_address == testbed.email()
    answer = requests.post(app.api_server + "/oauth/revoke", auth=(second, ""), timeout=HTTP_TIMEOUT)
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), dict), answer.text
    with pytest.raises(NylasApiError) as revoked:
        app.client(second).account
    v2_error(revoked.value.response, 401)
