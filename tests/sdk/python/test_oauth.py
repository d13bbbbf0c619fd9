"""Hosted authentication's OAuth side through the official Nylas Python SDK (nylas==6.18.0),
unchanged: ``url_for_oauth2`` / ``url_for_oauth2_pkce`` build the sign-in link (the page
itself is driven with ``requests``, as a browser would submit it), then
``exchange_code_for_token`` (with and without PKCE), ``refresh_access_token``,
``id_token_info``, ``validate_access_token`` and ``revoke``; and the access token used as
the SDK's ``api_key`` on ``identifier="me"``.

The first test follows the seed's Flask example to the letter: its ``Client`` holds the
client id where the API key belongs, so the SDK sends the client id as ``client_secret``.
mailroom takes that for a public client: it may redeem a code (bound to the registered
redirect URI, single use), never refresh a token. The second does the same with the API key,
as the SDK documents.

Testbed user user15 (its mailbox is only read).
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from nylas import Client
from nylas.models.auth import CodeExchangeResponse, PkceAuthUrl, TokenInfoResponse
from nylas.models.errors import NylasApiError, NylasOAuthError
from nylas.models.grants import Grant
from nylas.models.response import ListResponse, Response

USER = 15
REDIRECT_CLIENT_URI = "http://localhost:9015/oauth/exchange"


@pytest.fixture
def oauth_app(new_app, mailroom):
    """A fresh application with an IMAP connector and the redirect URI registered."""
    app = new_app("-oauth")
    app.client.connectors.create(request_body={"name": "aol", "provider": "imap"})
    app.client.applications.redirect_uris.create(request_body={"url": REDIRECT_CLIENT_URI})
    return app


def sign_in(auth_url: str, testbed) -> dict:
    """Opens the hosted page and submits it for user15; returns the redirect's query."""
    page = requests.get(auth_url, timeout=30)
    assert page.status_code == 200, page.text
    # The CSRF cookie is named after the flow: mailroom_csrf_<flow id>.
    cookies = {k: v for k, v in page.cookies.items() if k.startswith("mailroom_csrf_")}
    assert len(cookies) == 1, page.headers

    def hidden(name: str) -> str:
        match = re.search(rf'name="{name}" value="([^"]*)"', page.text)
        assert match, f"no hidden input {name}"
        return match.group(1)

    assert '<form method="post" action="/v3/connect/auth"' in page.text
    form = {
        "flow": hidden("flow"),
        "csrf": hidden("csrf"),
        "email": testbed.email(USER),
        "password": testbed.password(USER),
        "imap_host": "localhost",
        "imap_port": str(testbed.imap_port),
        "imap_security": "starttls",
        "smtp_host": "localhost",
        "smtp_port": str(testbed.submission_port),
        "smtp_security": "starttls",
    }
    action = auth_url.split("/v3/connect/auth")[0] + "/v3/connect/auth"
    done = requests.post(
        action, data=form, cookies=cookies, allow_redirects=False, timeout=30
    )
    assert done.status_code == 303, done.text
    location = done.headers["location"]
    assert location.startswith(REDIRECT_CLIENT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def auth_config(app, testbed, **extra) -> dict:
    """The sign-in link's config for user15, as an application fills it in."""
    config = {
        "client_id": app.client_id,
        "provider": "imap",
        "redirect_uri": REDIRECT_CLIENT_URI,
        "login_hint": testbed.email(USER),
    }
    config.update(extra)
    return config


def refresh_request(app, refresh_token: str) -> dict:
    return {"refresh_token": refresh_token, "client_id": app.client_id, "redirect_uri": REDIRECT_CLIENT_URI}


def jwt_claims(token: str) -> dict:
    header, payload, _signature = token.split(".")
    pad = lambda part: part + "=" * (-len(part) % 4)  # noqa: E731
    assert json.loads(base64.urlsafe_b64decode(pad(header)))["alg"] == "HS256"
    return json.loads(base64.urlsafe_b64decode(pad(payload)))


def oauth_error(call) -> NylasOAuthError:
    with pytest.raises(NylasOAuthError) as excinfo:
        call()
    return excinfo.value


def test_seed_flask_example_verbatim(oauth_app, testbed, mailroom):
    """Seed 000: ``Client(NYLAS_CLIENT_ID, NYLAS_API_URI)``, url_for_oauth2, then
    exchange_code_for_token with code, client_id and redirect_uri only."""
    nylas = Client(oauth_app.client_id, mailroom.base_url)
    auth_url = nylas.auth.url_for_oauth2(
        config={
            "client_id": oauth_app.client_id,
            "provider": "imap",
            "redirect_uri": REDIRECT_CLIENT_URI,
            "login_hint": testbed.email(USER),
            "state": "state",
        }
    )
    back = sign_in(auth_url, testbed)
    code_exchange_response = nylas.auth.exchange_code_for_token(
        request={
            "code": back["code"],
            "client_id": oauth_app.client_id,
            "redirect_uri": REDIRECT_CLIENT_URI,
        }
    )
    assert {"email": code_exchange_response.email, "grant_id": code_exchange_response.grant_id} == {
        "email": testbed.email(USER),
        "grant_id": oauth_app.client.grants.list().data[0].id,
    }
    # A public client cannot refresh, and cannot redeem a code twice.
    err = oauth_error(
        lambda: nylas.auth.exchange_code_for_token(
            request={
                "code": back["code"],
                "client_id": oauth_app.client_id,
                "redirect_uri": REDIRECT_CLIENT_URI,
            }
        )
    )
    assert err.error == "invalid_grant"
    err = oauth_error(
        lambda: nylas.auth.refresh_access_token(
            request={"refresh_token": "mrrt_anything", "client_id": oauth_app.client_id}
        )
    )
    assert err.error == "invalid_client"


def test_seed_flow_exchange_code_for_token(oauth_app, testbed):
    nylas = oauth_app.client
    auth_url = nylas.auth.url_for_oauth2(
        config={
            "client_id": oauth_app.client_id,
            "provider": "imap",
            "redirect_uri": REDIRECT_CLIENT_URI,
            "login_hint": testbed.email(USER),
            "state": "state",
        }
    )
    back = sign_in(auth_url, testbed)
    assert back["state"] == "state"

    code_exchange_response = nylas.auth.exchange_code_for_token(
        request={
            "code": back["code"],
            "client_id": oauth_app.client_id,
            "redirect_uri": REDIRECT_CLIENT_URI,
        }
    )
    assert isinstance(code_exchange_response, CodeExchangeResponse)
    assert code_exchange_response.email == testbed.email(USER)
    assert code_exchange_response.grant_id
    assert code_exchange_response.expires_in == 3600
    assert code_exchange_response.token_type == "Bearer"
    assert code_exchange_response.provider == "imap"
    assert code_exchange_response.refresh_token is None, "access_type defaults to online"
    claims = jwt_claims(code_exchange_response.id_token)
    assert claims["sub"] == code_exchange_response.grant_id
    assert claims["email"] == testbed.email(USER)
    assert claims["aud"] == oauth_app.client_id
    assert claims["email_verified"] is True

    # The grant is the application's, seen with the API key.
    grant = nylas.grants.find(code_exchange_response.grant_id).data
    assert grant.email == testbed.email(USER)

    # A code redeems once.
    err = oauth_error(
        lambda: nylas.auth.exchange_code_for_token(
            request={"code": back["code"], "client_id": oauth_app.client_id, "redirect_uri": REDIRECT_CLIENT_URI}
        )
    )
    assert err.error == "invalid_grant"
    assert err.error_code == 400
    assert err.status_code == 400
    assert err.error_description


def test_pkce_exchange_refresh_tokeninfo_and_revoke(oauth_app, testbed, mailroom):
    nylas = oauth_app.client
    pkce = nylas.auth.url_for_oauth2_pkce(
        config=auth_config(oauth_app, testbed, access_type="offline", state="pkce-state")
    )
    assert isinstance(pkce, PkceAuthUrl)
    assert "code_challenge_method=s256" in pkce.url
    back = sign_in(pkce.url, testbed)

    request = {"code": back["code"], "client_id": oauth_app.client_id, "redirect_uri": REDIRECT_CLIENT_URI}
    wrong = oauth_error(lambda: nylas.auth.exchange_code_for_token(request={**request, "code_verifier": "nope"}))
    assert wrong.error == "invalid_grant"
    tokens = nylas.auth.exchange_code_for_token(request={**request, "code_verifier": pkce.secret})
    assert tokens.refresh_token, "access_type=offline yields a refresh token"
    assert tokens.access_token.startswith("mrat_")

    # tokeninfo, for the access token and the id_token.
    info = nylas.auth.validate_access_token(tokens.access_token)
    assert isinstance(info, Response) and isinstance(info.data, TokenInfoResponse)
    assert info.request_id
    assert info.data.sub == tokens.grant_id
    assert info.data.aud == oauth_app.client_id
    assert info.data.email == testbed.email(USER)
    assert info.data.exp - info.data.iat == 3600
    id_info = nylas.auth.id_token_info(tokens.id_token).data
    assert (id_info.sub, id_info.email, id_info.iss) == (tokens.grant_id, testbed.email(USER), info.data.iss)

    # Refresh: a new access token and a new refresh token; the old one is spent.
    refreshed = nylas.auth.refresh_access_token(request=refresh_request(oauth_app, tokens.refresh_token))
    assert isinstance(refreshed, CodeExchangeResponse)
    assert refreshed.grant_id == tokens.grant_id
    assert refreshed.access_token != tokens.access_token
    assert refreshed.refresh_token and refreshed.refresh_token != tokens.refresh_token
    assert nylas.auth.validate_access_token(refreshed.access_token).data.sub == tokens.grant_id

    # Revoke: True, then the token is no longer valid; the grant stays.
    assert nylas.auth.revoke(refreshed.access_token) is True
    gone = oauth_error(lambda: nylas.auth.validate_access_token(refreshed.access_token))
    assert gone.error == "invalid_token"
    assert nylas.grants.find(tokens.grant_id).data.id == tokens.grant_id
    # The spent refresh token, presented again, is refused (and revokes what it issued).
    replay = oauth_error(
        lambda: nylas.auth.refresh_access_token(request=refresh_request(oauth_app, tokens.refresh_token))
    )
    assert replay.error == "invalid_grant"


def test_access_token_as_the_sdk_api_key(oauth_app, testbed, mailroom):
    nylas = oauth_app.client
    auth_url = nylas.auth.url_for_oauth2(
        config=auth_config(oauth_app, testbed, scope=["email.read_only"], state="me")
    )
    back = sign_in(auth_url, testbed)
    tokens = nylas.auth.exchange_code_for_token(
        request={"code": back["code"], "client_id": oauth_app.client_id, "redirect_uri": REDIRECT_CLIENT_URI}
    )
    assert tokens.scope == "email.read_only"

    user = mailroom.client(tokens.access_token)
    messages = user.messages.list(identifier="me", query_params={"limit": 5})
    assert isinstance(messages, ListResponse)
    assert messages.request_id
    assert all(m.grant_id == tokens.grant_id for m in messages.data)
    folders = user.folders.list(identifier="me")
    assert all(f.grant_id == tokens.grant_id for f in folders.data)
    assert any(f.name.upper() == "INBOX" for f in folders.data) or folders.data == []
    # The grant by id works too; GET /v3/grants/me names the token's grant.
    assert isinstance(user.messages.list(identifier=tokens.grant_id), ListResponse)
    me = user.grants.find("me")
    assert isinstance(me.data, Grant) and me.data.id == tokens.grant_id

    # Application-level calls need the API key.
    with pytest.raises(NylasApiError) as excinfo:
        user.applications.info()
    assert excinfo.value.status_code == 401
    assert excinfo.value.type == "api.authentication_error"
    with pytest.raises(NylasApiError) as excinfo:
        user.grants.list()
    assert excinfo.value.status_code == 401

    # After revoke, the token opens nothing.
    assert nylas.auth.revoke(tokens.access_token) is True
    with pytest.raises(NylasApiError) as excinfo:
        user.messages.list(identifier="me")
    assert excinfo.value.status_code == 401
