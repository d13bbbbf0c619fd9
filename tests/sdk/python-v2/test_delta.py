"""v2's delta feed through the Nylas Python SDK 5.14.1, unchanged, on a signed-in account:
``client.deltas.latest_cursor()`` (``POST /delta/latest_cursor``), a change made through the
API (a star) and one arriving in the mailbox (an IMAP APPEND), ``client.deltas.since(cursor)``
(``GET /delta``) showing them with their attributes as the SDK's model classes, and
``client.deltas.longpoll(cursor, timeout)`` (``GET /delta/longpoll``) returning once a
change arrives after it started.

Testbed user77.
"""

from __future__ import annotations

import threading
import time
import uuid

from nylas.client.delta_models import Delta, Deltas
from nylas.client.restful_models import Message, Thread

from conftest import listed, rfc822, signed_in, wait_until

LONGPOLL_SECS = 60


def _find(deltas, object_type, object_id=None, event=None):
    return [
        d for d in (deltas.deltas or [])
        if d.object == object_type and (object_id is None or d.id == object_id) and (event is None or d.event == event)
    ]


def test_latest_cursor_since_and_longpoll(new_app, testbed, imap):
    tag = uuid.uuid4().hex[:10]
    imap.append(rfc822(f"{tag} before"))
    client, token = signed_in(new_app(), testbed)
    (message,) = listed(client.messages, "the message made before the cursor", 1, subject=f"{tag} before")
    # The SDK 5.14.1 names the collection `deltas`.
    cursor = client.deltas.latest_cursor()
    assert isinstance(cursor, str) and cursor

    # A change through the API: the star shows as the message's modify delta.
    message.star()

    def starred():
        page = client.deltas.since(cursor)
        found = [d for d in _find(page, "message", message.id, "modify") if d.attributes.starred]
        return bool(found), page

    page = wait_until("the star in /delta", starred)
    assert isinstance(page, Deltas)
    assert page.cursor_start == cursor and page.cursor_end != cursor
    (delta, *_) = [d for d in _find(page, "message", message.id, "modify") if d.attributes.starred]
    assert isinstance(delta, Delta) and isinstance(delta.cursor, str)
    attributes = delta.attributes
    assert isinstance(attributes, Message)
    assert (attributes.id, attributes.subject, attributes.account_id) == (message.id, f"{tag} before", token["account_id"])
    # Nothing from before the cursor: the message's creation is not in this page.
    assert not _find(page, "message", message.id, "create")
    # include_types narrows the feed to messages; the cursor ends at the same change.
    messages_only = client.deltas.since(cursor, include_types=["message"])
    assert messages_only.deltas and all(d.object == "message" for d in messages_only.deltas)
    threads_only = client.deltas.since(cursor, include_types="thread")
    assert all(isinstance(d.attributes, Thread) for d in (threads_only.deltas or []) if d.event != "delete")

    # longpoll from the end of the feed: it answers once a new message arrives.
    answers = []
    failures = []
    start = page.cursor_end
    subject = f"{tag} during longpoll"

    def poll():
        try:
            from_cursor = start
            deadline = time.monotonic() + 2 * LONGPOLL_SECS
            # Other changes (the star's thread) may come first; poll on from where they end.
            while time.monotonic() < deadline:
                answer = client.deltas.longpoll(from_cursor, LONGPOLL_SECS)
                answers.append(answer)
                if any(d.attributes and d.attributes.subject == subject for d in _find(answer, "message")):
                    return
                from_cursor = answer.cursor_end
        except Exception as e:  # reported by the test below
            failures.append(e)

    poller = threading.Thread(target=poll, name="longpoll", daemon=True)
    poller.start()
    imap.append(rfc822(subject))
    poller.join(timeout=2 * LONGPOLL_SECS + 30)
    assert not poller.is_alive(), "longpoll did not answer"
    assert not failures, failures
    last = answers[-1]
    assert isinstance(last, Deltas) and last.cursor_end
    (created,) = [d for d in _find(last, "message") if d.attributes and d.attributes.subject == subject]
    assert created.event == "create"
    assert isinstance(created.attributes, Message) and created.attributes.unread is True
    listed(client.messages, "the message that arrived during the long poll", 1, subject=subject)
