"""v2 sending and drafts through the Nylas Python SDK 5.14.1, unchanged, on a signed-in
account. Sending: ``client.drafts.create(...).send()`` without saving (``POST /send`` with
v2's JSON) and ``send_raw(mime)`` (``POST /send`` as ``message/rfc822``). Drafts: ``save()``
creates (``POST /drafts``, version 0) and updates (``PUT /drafts/{id}``, the version moves
on); a save or send naming a stale version answers 409 with v2's error; ``send()`` of a
saved draft is ``POST /send {"draft_id", "version"}``; ``delete()`` sends the version.

Everything is sent to user77 itself and awaited in its INBOX, with a deadline.

Testbed user77.
"""

from __future__ import annotations

import uuid

import pytest
from nylas.client.errors import NylasApiError
from nylas.client.restful_models import Draft

from conftest import listed, signed_in, v2_error


def test_send_composed_and_raw(new_app, testbed, imap):
    tag = uuid.uuid4().hex[:10]
    me = testbed.email()
    client, token = signed_in(new_app(), testbed)

    draft = client.drafts.create(to=[{"name": "Me", "email": me}], subject=f"{tag} composed",
                                 body="<p>Sent by the v2 SDK.</p>")
    sent = draft.send()
    assert sent["object"] == "message" and sent["account_id"] == token["account_id"]
    assert sent["subject"] == f"{tag} composed"
    assert sent["to"] == [{"name": "Me", "email": me}]
    # Filed in Sent (the copy delivered to INBOX has the same Message-ID: one message).
    listed(client.messages, "the composed message in Sent", 1, subject=f"{tag} composed", in_="sent")
    (arrived,) = listed(client.messages, "the composed message in INBOX", 1, subject=f"{tag} composed",
                        in_="inbox")
    assert arrived.from_[0]["email"] == me
    assert "Sent by the v2 SDK." in client.messages.get(arrived.id).body
    assert len(imap.find("INBOX", f"{tag} composed")) == 1

    mime = (
        f"From: Me <{me}>\r\nTo: {me}\r\nSubject: {tag} raw\r\n"
        f"Message-ID: <{tag}-raw@example.test>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nRaw MIME from the v2 SDK.\r\n"
    )
    raw_sent = client.drafts.create().send_raw(mime)
    assert raw_sent["subject"] == f"{tag} raw"
    (raw_arrived,) = listed(client.messages, "the raw message in INBOX", 1, subject=f"{tag} raw", in_="inbox")
    assert "Raw MIME from the v2 SDK." in client.messages.get(raw_arrived.id).body


def test_drafts_save_version_conflict_send_and_delete(new_app, testbed, imap):
    tag = uuid.uuid4().hex[:10]
    me = testbed.email()
    client, _ = signed_in(new_app(), testbed)

    draft = client.drafts.create(to=[{"email": me}], subject=f"{tag} draft", body="<p>first</p>")
    draft.save()
    assert isinstance(draft, Draft) and draft.id and draft.object == "draft"
    assert draft.version == 0
    assert client.drafts.get(draft.id).subject == f"{tag} draft"
    imap.wait_count("Drafts", f"{tag} draft", 1)

    stale = client.drafts.get(draft.id)
    assert stale.version == 0
    draft.subject = f"{tag} draft v1"
    draft.body = "<p>second</p>"
    draft.save()
    assert draft.version == 1
    current = client.drafts.get(draft.id)
    assert (current.subject, current.version) == (f"{tag} draft v1", 1)
    assert "second" in current.body

    # The copy read at version 0 can neither save nor send over version 1.
    stale.subject = f"{tag} overwritten"
    with pytest.raises(NylasApiError) as conflict:
        stale.save()
    body = v2_error(conflict.value.response, 409)
    assert "version" in body["message"]
    with pytest.raises(NylasApiError) as stale_send:
        stale.send()
    v2_error(stale_send.value.response, 409)
    assert client.drafts.get(draft.id).subject == f"{tag} draft v1"

    # send() of the saved draft at its version: it goes out and leaves Drafts.
    sent = draft.send()
    assert sent["subject"] == f"{tag} draft v1"
    listed(client.messages, "the sent draft in INBOX", 1, subject=f"{tag} draft v1", in_="inbox")
    with pytest.raises(NylasApiError) as gone:
        client.drafts.get(draft.id)
    v2_error(gone.value.response, 404)

    # delete() sends {"version"}; the draft is gone from the API and from Dovecot.
    doomed = client.drafts.create(to=[{"email": me}], subject=f"{tag} doomed")
    doomed.save()
    imap.wait_count("Drafts", f"{tag} doomed", 1)
    doomed.delete()
    with pytest.raises(NylasApiError) as deleted:
        client.drafts.get(doomed.id)
    v2_error(deleted.value.response, 404)
    imap.wait_count("Drafts", f"{tag} doomed", 0)
