"""The testbed's OAuth 2.0 authorization server (`testbed/oauth-server`, documented in
testbed/README.md, "OAuth mailboxes") as a test drives it: a client of the test's own
registered through the control channel, a user's consent given on the authorization page
(the form POSTed as a browser would), and the code traded for a refresh token at the token
endpoint. Plain `requests`: this is the application's side of the flow, not the SDK's.
"""

from __future__ import annotations

import secrets
from typing import Dict, Tuple
from urllib.parse import parse_qs, urlparse

import requests

# Where the authorization page sends the browser back; nothing listens there, the test
# reads the code from the redirect itself.
REDIRECT_URI = "http://127.0.0.1:9/callback"
CLIENT_SECRET = "sdk-python-client-secret"
HTTP_TIMEOUT = 30

# The scopes each consent asks for: the provider's IMAP, SMTP and identity scopes with
# offline access (the defaults of mailroom's connectors).
SCOPES = {
    "google": "https://mail.google.com/ openid email",
    "microsoft": (
        "https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send "
        "offline_access openid email"
    ),
    "yahoo": "mail-w openid email",
}


def oauth_url(testbed) -> str:
    url = testbed.env.get("TESTBED_OAUTH_URL")
    if not url:
        raise RuntimeError("the testbed's env file has no TESTBED_OAUTH_URL (testbed/start runs oauth-server)")
    return url


def provider_env(testbed) -> Dict[str, str]:
    """The settings that point mailroom's Google, Microsoft and Yahoo table at the testbed:
    its authorization server, and Dovecot and Postfix taking its tokens."""
    return {
        "MAILROOM_TEST_OAUTH_BASE_URL": oauth_url(testbed),
        "MAILROOM_TEST_OAUTH_IMAP": f"localhost:{testbed.imap_port}:starttls",
        "MAILROOM_TEST_OAUTH_SMTP": f"localhost:{testbed.submission_port}:starttls",
    }


def control(testbed, path: str, **params: str) -> dict:
    """POSTs to the control channel; returns its JSON answer."""
    reply = requests.post(f"{oauth_url(testbed)}/control/{path}", data=params, timeout=HTTP_TIMEOUT)
    if reply.status_code != 200:
        raise RuntimeError(f"control/{path}: {reply.status_code} {reply.text}")
    return reply.json()


def new_client(testbed, provider: str) -> str:
    """Registers a client of `provider` (any loopback redirect URI) with `CLIENT_SECRET`;
    returns its id."""
    client_id = f"sdk-python-{provider}-{secrets.token_hex(6)}"
    control(testbed, "client", client_id=client_id, client_secret=CLIENT_SECRET, provider=provider)
    return client_id


def _endpoints(testbed, provider: str) -> Tuple[str, str]:
    base = oauth_url(testbed)
    return {
        "google": (f"{base}/google/o/oauth2/v2/auth", f"{base}/google/token"),
        "microsoft": (
            f"{base}/microsoft/common/oauth2/v2.0/authorize",
            f"{base}/microsoft/common/oauth2/v2.0/token",
        ),
        "yahoo": (f"{base}/yahoo/oauth2/request_auth", f"{base}/yahoo/oauth2/get_token"),
    }[provider]


def refresh_token(testbed, provider: str, client_id: str, email: str) -> str:
    """A refresh token for `email`, as an application that ran its own OAuth flow with
    `client_id` holds one: the user allows it on the authorization page, the code is traded
    (with the PKCE verifier, RFC 7636) at the token endpoint."""
    authorize, token = _endpoints(testbed, provider)
    verifier = secrets.token_urlsafe(48)
    page = requests.post(
        authorize,
        data={
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": SCOPES[provider],
            "access_type": "offline",
            "state": "sdk",
            "code_challenge": verifier,
            "code_challenge_method": "plain",
            "email": email,
            "decision": "allow",
        },
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    location = page.headers.get("Location")
    if page.status_code not in (302, 303) or not location:
        raise RuntimeError(f"no redirect from the authorization page: {page.status_code} {page.text[:2000]}")
    codes = parse_qs(urlparse(location).query).get("code")
    if not codes:
        raise RuntimeError(f"no code in the redirect {location}")
    form = {
        "grant_type": "authorization_code",
        "code": codes[0],
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    auth = None
    if provider == "yahoo":
        auth = (client_id, CLIENT_SECRET)  # Yahoo documents only HTTP Basic for the client
    else:
        form.update(client_id=client_id, client_secret=CLIENT_SECRET)
    answer = requests.post(token, data=form, auth=auth, timeout=HTTP_TIMEOUT)
    body = answer.json()
    if answer.status_code != 200 or not body.get("refresh_token"):
        raise RuntimeError(f"no refresh token from {token}: {answer.status_code} {body}")
    return body["refresh_token"]
