"""Granular scopes (seed 004) through the Python SDK 5.14.1: what a v2 token may read.

These are resource checks: besides v2 authentication they need the server's v2 resource
routes (``GET /messages``, ``GET /threads``) and its scope enforcement.

Testbed user77.
"""

from __future__ import annotations

import pytest
from nylas.client.errors import NylasApiError

from conftest import hosted_auth, native_auth, scope_refusal, wait_until


def test_read_only_token_lists_messages(new_app, testbed, mailbox):
    """A token from hosted authentication with email.read_only,email.send lists the
    mailbox's messages once synced, as bare v2 objects of its account."""
    app = new_app()
    token = hosted_auth(app, testbed, "email.read_only,email.send")
    reader = app.client(token["access_token"])

    def seeded():
        found = [m for m in reader.messages.where(subject=mailbox.subject).all() if m.subject == mailbox.subject]
        return bool(found), found

    (message,) = wait_until(f"GET /messages to list {mailbox.subject!r}", seeded)
    assert message.object == "message"
    assert message.account_id == token["account_id"]
    (thread,) = [t for t in reader.threads.where(subject=mailbox.subject).all() if t.subject == mailbox.subject]
    assert thread.object == "thread"
    assert message.id in thread.message_ids


def test_send_only_token_cannot_read_messages(new_app, testbed):
    """Seed 004: email.send sends only; reading messages answers the 403, naming a scope
    that reads mail."""
    app = new_app()
    client = app.client(native_auth(app, testbed, "email.send")["access_token"])
    assert client.account.email_address == testbed.email()
    with pytest.raises(NylasApiError) as forbidden:
        client.messages.all()
    needed = scope_refusal(forbidden.value.response, ["email.send"])
    assert {"email.read_only", "email.modify"} & set(needed), needed


def test_calendar_only_token_cannot_read_messages(new_app, testbed):
    """Seed 004: a calendar token reads its account, but /messages and /threads answer the
    403 naming email scopes."""
    app = new_app()
    client = app.client(native_auth(app, testbed, "calendar")["access_token"])
    assert client.account.email_address == testbed.email()
    for collection in (client.messages, client.threads):
        with pytest.raises(NylasApiError) as forbidden:
            collection.all()
        needed = scope_refusal(forbidden.value.response, ["calendar"])
        assert all(scope.startswith("email") for scope in needed), needed
