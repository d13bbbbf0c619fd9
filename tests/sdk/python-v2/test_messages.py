"""v2 messages through the Nylas Python SDK 5.14.1, unchanged, on a signed-in account:
``client.messages.where(...)`` with v2's filters, paging and ``view=count``, ``get``, the raw
MIME (``message.raw``, ``Accept: message/rfc822``), and the changes ``mark_as_read()``,
``star()``, ``update_folder()`` and ``save()`` (``PUT /messages/{id}``), checked in Dovecot
with a second IMAP client.

Each test APPENDs messages of its own (addresses and subjects carry a random tag) to testbed
user77's mailbox and waits, with a deadline, for the account to list them.

Testbed user77.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.utils import make_msgid

import pytest
from nylas.client.errors import NylasApiError
from nylas.client.restful_models import Message

from conftest import listed, rfc822, signed_in, v2_error, wait_until


def _seed(imap, tag: str):
    """Four messages: alpha (read, to user77), beta (read, starred), gamma (unread, a reply
    to beta), delta (in Archive). Returns their subjects, senders and dates."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    alice, bob = f"alice-{tag}@example.test", f"bob-{tag}@example.test"
    carol = f"carol-{tag}@example.test"
    beta_id = make_msgid(domain="example.test")
    plan = {
        "alpha": dict(sender=f"Alice <{alice}>", to=imap.testbed.email(), days=4, flags="\\Seen", folder="INBOX"),
        "beta": dict(sender=f"Bob <{bob}>", to=f"Carol <{carol}>", days=3, flags="\\Seen \\Flagged",
                     folder="INBOX", message_id=beta_id),
        "gamma": dict(sender=f"Bob <{bob}>", to=f"Carol <{carol}>", days=2, flags="", folder="INBOX",
                      in_reply_to=beta_id),
        "delta": dict(sender=f"Alice <{alice}>", to=imap.testbed.email(), days=1, flags="\\Seen", folder="Archive"),
    }
    subjects, dates = {}, {}
    for name, p in plan.items():
        subject = f"{tag} {name}" if name != "gamma" else f"Re: {tag} beta"
        date = now - timedelta(days=p["days"])
        raw = rfc822(subject, sender=p["sender"], to=p["to"], date=date, message_id=p.get("message_id"),
                     in_reply_to=p.get("in_reply_to"))
        imap.append(raw, folder=p["folder"], flags=p["flags"], date=date)
        subjects[name], dates[name] = subject, date
    return subjects, dates, alice, bob, carol


def test_list_filters_paging_count_get_and_raw(new_app, testbed, imap):
    tag = uuid.uuid4().hex[:10]
    subjects, dates, alice, bob, carol = _seed(imap, tag)
    client, token = signed_in(new_app(), testbed)
    both = f"{alice},{bob}"
    everything = listed(client.messages, "the four seeded messages", 4, any_email=both)
    assert all(isinstance(m, Message) for m in everything)
    by_subject = {m.subject: m for m in everything}
    assert set(by_subject) == set(subjects.values())
    alpha, beta = by_subject[subjects["alpha"]], by_subject[subjects["beta"]]
    gamma, delta = by_subject[subjects["gamma"]], by_subject[subjects["delta"]]
    # Newest first, as v2 listed them.
    assert [m.subject for m in everything] == [subjects[n] for n in ("delta", "gamma", "beta", "alpha")]
    assert alpha.object == "message" and alpha.account_id == token["account_id"]
    assert alpha.from_ == [{"name": "Alice", "email": alice}]
    assert alpha.received_at == dates["alpha"].replace(tzinfo=None)
    assert (alpha.unread, beta.starred, gamma.unread, gamma.starred) == (False, True, True, False)
    assert alpha.folder.name == "inbox" and alpha.folder.display_name == "INBOX"
    assert delta.folder.name == "archive"

    def subjects_of(**filters):
        return {m.subject for m in client.messages.where(**filters).all()}

    assert subjects_of(subject=subjects["alpha"]) == {subjects["alpha"]}
    assert subjects_of(from_=bob) == {subjects["beta"], subjects["gamma"]}
    assert subjects_of(to=carol) == {subjects["beta"], subjects["gamma"]}
    # `in` by role, by name and by id.
    assert subjects_of(any_email=both, in_="inbox") == {subjects[n] for n in ("alpha", "beta", "gamma")}
    assert subjects_of(any_email=both, in_="Archive") == {subjects["delta"]}
    assert subjects_of(any_email=both, in_=delta.folder.id) == {subjects["delta"]}
    assert subjects_of(any_email=both, unread=True) == {subjects["gamma"]}
    assert subjects_of(any_email=both, starred=True) == {subjects["beta"]}
    # received_after / received_before: datetimes the SDK sends as Unix times.
    middle = dates["beta"] + timedelta(hours=12)
    assert subjects_of(any_email=both, received_after=middle) == {subjects["gamma"], subjects["delta"]}
    assert subjects_of(any_email=both, received_before=middle) == {subjects["alpha"], subjects["beta"]}
    assert gamma.thread_id == beta.thread_id != alpha.thread_id
    assert subjects_of(thread_id=beta.thread_id) == {subjects["beta"], subjects["gamma"]}

    # limit and offset page the same newest-first order.
    assert [m.subject for m in client.messages.where(any_email=both, limit=2).all()] == [
        subjects["delta"], subjects["gamma"]]
    assert [m.subject for m in client.messages.where(any_email=both, offset=1, limit=2).all()] == [
        subjects["gamma"], subjects["beta"]]
    assert [m.subject for m in client.messages.where(any_email=both)[3:4]] == [subjects["alpha"]]
    # view=count. The 5.14.1 SDK's count() sends the collection's filters (not its own copy
    # with view=count added), so the filter must carry the view itself.
    assert client.messages.where(any_email=both, view="count").count() == 4
    assert client.messages.where(from_=bob, view="count").count() == 2

    # get by id, and view=expanded's threading headers.
    got = client.messages.get(gamma.id)
    assert isinstance(got, Message) and got.id == gamma.id and got.subject == subjects["gamma"]
    assert "A message for the v2 SDK suite." in got.body
    expanded = client.messages.where(view="expanded").get(gamma.id)
    assert expanded.headers["In-Reply-To"]
    with pytest.raises(NylasApiError) as missing:
        client.messages.get("no-such-message")
    v2_error(missing.value.response, 404)

    # message.raw: Accept: message/rfc822, the message as stored.
    raw = got.raw
    assert isinstance(raw, bytes)
    parsed = message_from_bytes(raw)
    assert parsed["Subject"] == subjects["gamma"]
    assert bob in parsed["From"]
    assert parsed["In-Reply-To"]


def test_mark_as_read_star_update_folder_and_save(new_app, testbed, imap):
    tag = uuid.uuid4().hex[:10]
    subject = f"{tag} flags"
    imap.append(rfc822(subject))
    client, _ = signed_in(new_app(), testbed)
    (message,) = listed(client.messages, subject, 1, subject=subject)
    assert message.unread is True and message.starred is False

    # mark_as_read() and star(): PUT /messages/{id}, then \Seen and \Flagged in Dovecot.
    message.mark_as_read()
    message.star()
    assert (message.unread, message.starred) == (False, True)

    def read_and_flagged():
        found = imap.find("INBOX", subject)
        return len(found) == 1 and {"\\Seen", "\\Flagged"} <= set(found[0]), found

    wait_until("\\Seen and \\Flagged in INBOX", read_and_flagged)
    fresh = client.messages.get(message.id)
    assert (fresh.unread, fresh.starred) == (False, True)

    # update_folder() sends v2's older {"folder": id}: the message moves to Archive.
    archive = next(f for f in client.folders.all() if f.name == "archive")
    folder = message.update_folder(archive.id)
    assert folder.id == archive.id and message.folder.name == "archive"

    def moved():
        archived, inbox = imap.find("Archive", subject), imap.find("INBOX", subject)
        return len(archived) == 1 and not inbox, (archived, inbox)

    wait_until("the message in Archive, not INBOX", moved)

    # save() sends the whole message back (read-only fields and its folder as shown);
    # only what changed is applied.
    fresh = client.messages.get(message.id)
    assert fresh.folder.id == archive.id
    fresh.unread = True
    fresh.starred = False
    fresh.save()
    assert (fresh.unread, fresh.starred) == (True, False)
    assert fresh.folder.id == archive.id

    def unread_and_unflagged():
        found = imap.find("Archive", subject)
        return len(found) == 1 and not {"\\Seen", "\\Flagged"} & set(found[0]), found

    wait_until("neither \\Seen nor \\Flagged in Archive", unread_and_unflagged)
    again = client.messages.get(message.id)
    assert (again.unread, again.starred, again.folder.id) == (True, False, archive.id)

    # A field a message does not have is refused with v2's error.
    with pytest.raises(NylasApiError) as refused:
        client._update_resource(Message, message.id, {"send_at": 1})
    v2_error(refused.value.response, 400)
