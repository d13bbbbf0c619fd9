"""v2 threads and folders through the Nylas Python SDK 5.14.1, unchanged, on a signed-in
account: ``client.threads.where(...)`` with the messages' filters (``unread`` and ``starred``
describe the thread), ``get``, ``view=expanded`` (the thread's messages as objects), and
``client.folders`` (list and get; folder changes are not tested here).

Testbed user77.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from email.utils import make_msgid

import pytest
from nylas.client.errors import NylasApiError
from nylas.client.restful_models import Folder, Message, Thread

from conftest import listed, rfc822, signed_in, v2_error, wait_until


def test_threads_filters_get_and_expanded(new_app, testbed, imap):
    tag = uuid.uuid4().hex[:10]
    dana, erin = f"dana-{tag}@example.test", f"erin-{tag}@example.test"
    now = datetime.now(timezone.utc).replace(microsecond=0)
    first_id = make_msgid(domain="example.test")
    # A conversation of two (the reply unread and starred) and a lone message.
    imap.append(rfc822(f"{tag} talk", sender=f"Dana <{dana}>", to=imap.testbed.email(),
                       date=now - timedelta(hours=3), message_id=first_id), flags="\\Seen",
                date=now - timedelta(hours=3))
    imap.append(rfc822(f"Re: {tag} talk", sender=f"Erin <{erin}>", to=f"Dana <{dana}>",
                       date=now - timedelta(hours=2), in_reply_to=first_id), flags="\\Flagged",
                date=now - timedelta(hours=2))
    imap.append(rfc822(f"{tag} alone", sender=f"Dana <{dana}>", to=imap.testbed.email(),
                       date=now - timedelta(hours=1)), flags="\\Seen", date=now - timedelta(hours=1))
    client, token = signed_in(new_app(), testbed)
    listed(client.messages, "the three seeded messages", 3, any_email=f"{dana},{erin}")

    threads = client.threads.where(any_email=dana).all()
    assert all(isinstance(t, Thread) for t in threads)
    assert [t.subject for t in threads] == [f"{tag} alone", f"{tag} talk"]
    alone, talk = threads
    assert talk.object == "thread" and talk.account_id == token["account_id"]
    assert len(talk.message_ids) == 2 and len(alone.message_ids) == 1
    assert (talk.unread, talk.starred, alone.unread, alone.starred) == (True, True, False, False)
    assert {p["email"] for p in talk.participants} >= {dana, erin}
    assert talk.last_message_at > talk.first_message_at
    assert [f.name for f in talk.folders] == ["inbox"]

    # Filters: a thread matches when one of its messages does.
    def ids(**filters):
        return [t.id for t in client.threads.where(**filters).all()]

    assert ids(from_=erin) == [talk.id]
    assert ids(any_email=dana, unread=True) == [talk.id]
    assert ids(any_email=dana, starred=False) == [alone.id]
    assert ids(subject=f"{tag} alone") == [alone.id]
    assert ids(any_email=dana, in_="inbox", limit=1) == [alone.id]
    assert ids(any_email=dana, offset=1) == [talk.id]
    assert client.threads.where(any_email=dana, view="count").count() == 2

    got = client.threads.get(talk.id)
    assert isinstance(got, Thread) and got.id == talk.id
    assert sorted(got.message_ids) == sorted(talk.message_ids)
    # Without view=expanded, a thread's messages are a collection by thread_id.
    assert {m.subject for m in got.messages} == {f"{tag} talk", f"Re: {tag} talk"}
    with pytest.raises(NylasApiError) as missing:
        client.threads.get("no-such-thread")
    v2_error(missing.value.response, 404)

    # view=expanded: the messages come with the thread, as Message objects without bodies.
    (expanded,) = [t for t in client.threads.where(any_email=dana, view="expanded").all() if t.id == talk.id]
    messages = expanded.messages
    assert isinstance(messages, list) and all(isinstance(m, Message) for m in messages)
    assert sorted(m.id for m in messages) == sorted(talk.message_ids)
    assert {m.subject for m in messages} == {f"{tag} talk", f"Re: {tag} talk"}
    assert all(m.body is None for m in messages)
    one = client.threads.where(view="expanded").get(alone.id)
    assert [m.subject for m in one.messages] == [f"{tag} alone"]


def test_folders_list_and_get(new_app, testbed):
    client, token = signed_in(new_app(), testbed)
    wanted = {"inbox", "sent", "drafts", "trash", "spam", "archive"}

    def synced():
        folders = client.folders.all()
        return wanted <= {f.name for f in folders}, folders

    # `name` is the role (RFC 6154 special use), `display_name` the folder's name.
    folders = wait_until("the testbed's six folders with their roles", synced)
    assert all(isinstance(f, Folder) for f in folders)
    roles = {f.name: f for f in folders if f.name}
    assert roles["inbox"].display_name == "INBOX"
    assert roles["archive"].display_name == "Archive"
    assert all(f.object == "folder" and f.account_id == token["account_id"] for f in folders)
    got = client.folders.get(roles["sent"].id)
    assert isinstance(got, Folder)
    assert (got.id, got.name, got.display_name) == (roles["sent"].id, "sent", "Sent")
    assert client.folders.where(view="count").count() == len(folders)
    assert [f.id for f in client.folders.where(limit=2, offset=1).all()] == [f.id for f in folders[1:3]]
    with pytest.raises(NylasApiError) as missing:
        client.folders.get("no-such-folder")
    v2_error(missing.value.response, 404)
