"""Seed 004's Python snippet (granular scopes with hosted authentication) run as written
against mailroom, with the Nylas Python SDK 5.14.1 unchanged. The placeholders are filled in:
``CLIENT_ID`` and ``CLIENT_SECRET`` are a fresh application's, ``api_server`` points at
mailroom (the snippet's ``APIClient(CLIENT_ID, CLIENT_SECRET)`` talks to the SDK's default
server), and ``redirect_url`` is the callback the application registered. The snippet's
``from flask import ...`` is the application's web framework, not the SDK's, and is left out.

Then, as the seed says a token with ``email.read_only,email.send`` may: read messages and
threads and send, while a call needing ``email.modify`` (``PUT /messages/{id}``) answers the
seed's 403 body exactly.

Testbed user77.
"""

from __future__ import annotations

import uuid

import pytest
from nylas import APIClient
from nylas.client.errors import NylasApiError

from conftest import REDIRECT_URI, listed, redirect_query, sign_in


def test_seed_004_python_snippet(new_app, testbed, mailbox):
    app = new_app()
    CLIENT_ID, CLIENT_SECRET = app.client_id, app.client_secret

    # --- seed 004, as written (api_server and the redirect URL filled in)
    client = APIClient(CLIENT_ID, CLIENT_SECRET, api_server=app.api_server)

    redirect_url = REDIRECT_URI

    # Redirect your user to the auth_url
    auth_url = client.authentication_url(
        redirect_url,
        scopes='email.read_only,email.send'
        )
    # --- end of the snippet

    # The user signs in on the page (no login_hint: the email is typed in), and the
    # application's callback trades the code.
    back = redirect_query(sign_in(auth_url, testbed, hinted=False))
    token = client.token_for_code(back["code"])
    assert isinstance(token, str) and token and client.access_token == token

    # email.read_only: messages and threads read.
    (message,) = listed(client.messages, f"GET /messages to list {mailbox.subject!r}", 1, subject=mailbox.subject)
    (thread,) = client.threads.where(subject=mailbox.subject).all()
    assert message.id in thread.message_ids
    assert client.messages.get(message.id).subject == mailbox.subject

    # email.send: a message goes out (to user77 itself) and arrives.
    subject = f"seed 004 send {uuid.uuid4().hex[:10]}"
    sent = client.drafts.create(to=[{"email": testbed.email()}], subject=subject, body="<p>scoped</p>").send()
    assert sent["subject"] == subject
    listed(client.messages, "the sent message in INBOX", 1, subject=subject, in_="inbox")

    # email.modify is not among them: PUT /messages/{id} answers seed 004's 403, word for word.
    with pytest.raises(NylasApiError) as forbidden:
        message.mark_as_read()
    response = forbidden.value.response
    assert response.status_code == 403
    assert response.json() == {
        "message": "You do not have access to the required scopes. You provided a token which has "
        "the following scopes: ['email.read_only', 'email.send']. You would need a token with at "
        "least one of the following scopes: ['email.modify']",
        "type": "api_error",
    }
    assert client.messages.get(message.id).unread is True
