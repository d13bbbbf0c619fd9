"""Webhook notifications, received the way an application receives them: the official Nylas
Python SDK (nylas==6.18.0, unchanged) creates the webhook, and an HTTP receiver in the test
(``http.server`` on 127.0.0.1) answers the ``?challenge=`` handshake with the SDK's own
``extract_challenge_parameter`` and records every notification POSTed to it: the raw body
bytes, the ``X-Nylas-Signature`` header and the parsed JSON.

What is covered, each against real Dovecot + Postfix (the testbed):

* the grant's lifecycle -- ``grant.created`` (custom authentication), ``grant.updated``
  (signing in again, ``grants.update`` with settings, and with scopes only),
  ``grant.deleted`` (``grants.destroy``); a webhook on ``grant.*`` only gets nothing else;
* a message's life -- ``message.created`` for mail delivered by SMTP after the grant's first
  pass (never for the mail that was already there), ``message.updated`` for a star set
  through the SDK, for ``\\Seen`` set by another IMAP client and for a move,
  ``message.updated`` when ``messages.destroy`` moves it to Trash and ``message.deleted``
  when the second ``messages.destroy`` removes it from there;
* ``folder.created`` / ``folder.updated`` / ``folder.deleted`` through ``nylas.folders``;
* arrivals that mean more than a new message -- ``thread.replied`` (another person answers
  a conversation the grant wrote to), ``contact.updated`` (mail from an address never seen
  before), ``event.created`` (an invitation with a ``text/calendar; method=REQUEST`` part)
  and ``event.updated`` (its next SEQUENCE);
* scheduled sends -- ``message.send_success`` with the sent message under ``object``,
  and ``message.send_failed`` (``reason``, ``error`` and the message) for one Postfix
  refuses at RCPT, shaped as Nylas documents them;
* bounces -- ``message.bounce_detected`` for a message Postfix accepts and then returns
  with a real delivery status notification (the testbed's ``@bounces.example.test``),
  matched to the sent message, once per failed recipient;
* tracking -- a message sent with ``tracking_options`` is read from the recipient's
  mailbox over IMAP; loading its image and following its link as a mail client and a
  browser would fire ``message.opened`` and ``message.link_clicked`` (the server's
  ``public_url`` is its own address).

Every notification must be signed: the header is the lowercase hex HMAC-SHA256 of the raw
body keyed with the webhook's secret, checked with ``hmac`` as Nylas documents it (the SDK
has no helper for it), and must not verify under any other secret. Notification ids are
unique, every delivery is the first attempt (the receiver always answers 200), and each
``data.object`` is read with the SDK's own model class (``Message``, ``Folder``,
``Contact``, ``Event``) where one exists, to show the SDK can read what mailroom sends.

The module runs its own ``mailroom serve`` (conftest's ``MailroomServer``) with
``MAILROOM_SYNC_POLL_SECS=1`` and ``MAILROOM_WEBHOOK_RETRY_SECS=1``; the session server
polls every 60 s. Testbed users: user45 (the mailbox whose changes are announced) and
user46 (the grant-lifecycle mailbox, and the correspondent who mails user45); both are
wiped first. Waits poll every 50 ms with a 30 s deadline; nothing sleeps a fixed time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import smtplib
import socket
import ssl
import threading
import time
import uuid
from dataclasses import dataclass, field
import email
import email.policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional

import pytest
import requests
from nylas import Client
from nylas.models.contacts import Contact
from nylas.models.events import Event
from nylas.models.folders import Folder
from nylas.models.messages import Message
from nylas.models.webhooks import WebhookWithSecret
from nylas.resources.webhooks import extract_challenge_parameter

import mailbox_seed
from conftest import MailroomServer, _mailroom_binary, wait_until
from mailbox_seed import SeedMessage

USER = 45  # the mailbox whose changes are announced
OTHER = 46  # the grant-lifecycle mailbox; also the person who writes to user 45

SOURCES = {
    "grant": "/nylas/system",
    "message.send_success": "/nylas/send",
    "message.send_failed": "/nylas/send",
    "thread.replied": "/com/nylas/tracking",
    "message.opened": "/com/nylas/tracking",
    "message.link_clicked": "/com/nylas/tracking",
}
DEFAULT_SOURCE = "/imap/emails/realtime"

MAIL_TRIGGERS = [
    "message.created", "message.updated", "message.deleted",
    "message.send_success", "message.send_failed",
    "folder.created", "folder.updated", "folder.deleted",
    "contact.updated", "event.created", "event.updated", "thread.replied",
    "message.bounce_detected", "message.opened", "message.link_clicked",
]
GRANT_TRIGGERS = ["grant.created", "grant.updated", "grant.deleted"]

# 2030-01-05T15:00:00Z, the DTSTART of the invitation below.
INVITATION_START = 1_893_855_600


def token() -> str:
    return uuid.uuid4().hex[:10]




# --------------------------------------------------------------------------- the receiver


@dataclass
class Notification:
    raw: bytes
    signature: Optional[str]
    content_type: str
    body: Dict[str, Any]

    @property
    def type(self) -> str:
        return self.body.get("type", "")

    @property
    def object(self) -> Dict[str, Any]:
        return (self.body.get("data") or {}).get("object") or {}


def signature_of(secret: str, raw: bytes) -> str:
    """What Nylas documents for X-Nylas-Signature: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


class Receiver:
    """An HTTP endpoint on 127.0.0.1: GET answers the challenge (with the SDK's helper),
    POST records the notification as it came over the wire and answers 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posts: List[Notification] = []
        self.challenges = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                try:
                    answer = extract_challenge_parameter("http://receiver" + self.path)
                    with receiver._lock:
                        receiver.challenges += 1
                except ValueError:
                    answer = ""
                self._answer(answer.encode())

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsable": raw.decode(errors="replace")}
                with receiver._lock:
                    receiver._posts.append(Notification(
                        raw=raw,
                        signature=self.headers.get("X-Nylas-Signature"),
                        content_type=self.headers.get("Content-Type", ""),
                        body=body,
                    ))
                self._answer(b"")

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/nylas/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self, trigger: Optional[str] = None) -> List[Notification]:
        with self._lock:
            return [p for p in self._posts if trigger is None or p.type == trigger]

    def summary(self) -> List[tuple]:
        return [(p.type, p.object.get("id") or p.object.get("grant_id"), p.object.get("subject") or
                 p.object.get("name") or p.object.get("title")) for p in self.posts()]

    def wait_for(self, trigger: str, match: Callable[[Dict[str, Any]], bool] = lambda o: True,
                 what: str = "") -> Notification:
        """The first `trigger` notification whose object matches."""

        def probe():
            found = [p for p in self.posts(trigger) if match(p.object)]
            return bool(found), (found[0] if found else self.summary())

        return wait_until(f"{trigger} {what}".strip(), probe)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Hooked:
    """An application with a webhook on RECEIVER, and what the webhook's creation returned."""

    nylas: Client = field(repr=False)
    api_key: str = field(repr=False)
    application_id: str
    secret: str = field(repr=False)
    receiver: Receiver = field(repr=False)
    triggers: List[str]

    def check(self, post: Notification, trigger: str) -> None:
        """One notification: signed with this webhook's secret (and no other), whole."""
        assert post.signature, f"no X-Nylas-Signature on {post.body}"
        assert post.signature == post.signature.lower() and len(post.signature) == 64, post.signature
        assert hmac.compare_digest(post.signature, signature_of(self.secret, post.raw)), post.body
        assert not hmac.compare_digest(post.signature, signature_of(self.secret + "x", post.raw))
        assert not hmac.compare_digest(post.signature, signature_of("another secret", post.raw))
        assert post.content_type.startswith("application/json"), post.content_type
        body = post.body
        assert body["specversion"] == "1.0"
        assert body["type"] == trigger
        assert body["source"] == SOURCES.get(trigger, SOURCES.get(trigger.split(".")[0], DEFAULT_SOURCE))
        assert isinstance(body["id"], str) and body["id"]
        assert isinstance(body["time"], int) and abs(body["time"] - time.time()) < 600, body["time"]
        assert body["webhook_delivery_attempt"] == 1, "the receiver always answered 200"
        assert body["data"]["application_id"] == self.application_id
        assert isinstance(body["data"]["object"], dict)

    def check_everything(self) -> None:
        """Every notification received so far is of a subscribed trigger, signed and whole,
        and no id repeats."""
        posts = self.receiver.posts()
        for post in posts:
            assert post.type in self.triggers, f"not subscribed: {post.body}"
            self.check(post, post.type)
        ids = [p.body["id"] for p in posts]
        assert len(ids) == len(set(ids)), f"notification ids repeat: {sorted(ids)}"


def subscribe(server: MailroomServer, receiver: Receiver, name: str, triggers: List[str]) -> Hooked:
    """A new application with an IMAP connector and a webhook on `triggers`."""
    app = server.create_app(name)
    app.client.connectors.create(request_body={"provider": "imap"})
    before = receiver.challenges
    created = app.client.webhooks.create(
        request_body={"trigger_types": triggers, "webhook_url": receiver.url}
    ).data
    assert isinstance(created, WebhookWithSecret) and created.webhook_secret
    assert receiver.challenges == before + 1, "the webhook URL was verified with a challenge"
    return Hooked(app.client, app.api_key, app.application_id, created.webhook_secret, receiver, triggers)


# --------------------------------------------------------------------------- mail from outside


def _smtp(testbed, port: int, login: Optional[int], msg: EmailMessage) -> None:
    context = ssl.create_default_context(cafile=testbed.ca)
    with smtplib.SMTP("localhost", port, timeout=30) as smtp:
        smtp.starttls(context=context)
        if login is not None:
            smtp.login(testbed.email(login), testbed.password(login))
        smtp.send_message(msg)


def submit_as(testbed, n: int, msg: EmailMessage) -> None:
    """Testbed user N sends MSG through submission (STARTTLS + AUTH), as a mail client does."""
    _smtp(testbed, testbed.submission_port, n, msg)


def deliver_from_outside(testbed, msg: EmailMessage) -> None:
    """MSG arrives from another mail server (the testbed's SMTP port, no AUTH)."""
    _smtp(testbed, int(testbed.env.get("TESTBED_SMTP_PORT", 31025)), None, msg)


def mail(sender: tuple, to: tuple, subject: str, text: str, in_reply_to: Optional[str] = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr(sender)
    msg["To"] = formataddr(to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender[1].split("@")[1])
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    msg.set_content(text)
    return msg


def invitation(organizer: tuple, attendee: tuple, uid: str, title: str, sequence: int = 0,
               hours_later: int = 0) -> EmailMessage:
    """An invitation as a calendar program sends it: text/plain plus text/calendar REQUEST.
    A higher `sequence` is an update of the same event (same UID), here moved by
    `hours_later`."""
    msg = mail(organizer, attendee, f"Invitation: {title}", "You are invited.\n")
    start = 15 + hours_later
    ics = "\r\n".join([
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//mailroom sdk tests//EN", "METHOD:REQUEST",
        "BEGIN:VEVENT", f"UID:{uid}", f"SEQUENCE:{sequence}", "DTSTAMP:20231121T100000Z",
        f"DTSTART:20300105T{start:02d}0000Z", f"DTEND:20300105T{start + 1:02d}0000Z", f"SUMMARY:{title}",
        f"ORGANIZER;CN={organizer[0]}:mailto:{organizer[1]}",
        f"ATTENDEE;CN={attendee[0]};PARTSTAT=NEEDS-ACTION:mailto:{attendee[1]}",
        "END:VEVENT", "END:VCALENDAR", "",
    ])
    msg.add_alternative(ics, subtype="calendar", params={"method": "REQUEST"})
    return msg


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def server(testbed, tmp_path_factory):
    """A mailroom of this module's own: it looks at mailboxes every second and retries a
    failed delivery after one (the session server waits 60 s and 10 s)."""
    data_dir = tmp_path_factory.mktemp("mailroom-webhook-triggers")
    # Tracking URLs point at the server's public_url: its own address, chosen first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ)
    for key in ("MAILROOM_CONFIG", "MAILROOM_DATABASE_URL", "MAILROOM_DATA_DIR", "MAILROOM_LISTEN", "MAILROOM_SECRET_KEY"):
        env.pop(key, None)
    env.update({
        "MAILROOM_ALLOW_PRIVATE_HOSTS": "true",  # the receiver is on 127.0.0.1 ...
        "MAILROOM_ALLOW_INSECURE_TRANSPORT": "true",  # ... and speaks plain http
        "MAILROOM_EXTRA_CA_FILE": testbed.ca,
        "MAILROOM_PROVIDER_TIMEOUT_SECS": "3",
        "MAILROOM_SYNC_POLL_SECS": "1",
        "MAILROOM_WEBHOOK_RETRY_SECS": "1",
        "MAILROOM_PUBLIC_URL": f"http://127.0.0.1:{port}",
        # As behind a reverse proxy on the same machine: its X-Forwarded-For names the client.
        "MAILROOM_TRUSTED_PROXIES": "127.0.0.1",
    })
    srv = MailroomServer(_mailroom_binary(), data_dir, env, data_dir.parent / "mailroom-webhook-triggers.log",
                         listen=f"127.0.0.1:{port}")
    try:
        srv.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def users(testbed):
    """Both users wiped before anything connects to them."""
    for n in (USER, OTHER):
        mailbox_seed.wipe_user(n)
    return testbed


@dataclass
class Mailbox:
    """User 45's grant, in an application subscribed to every mail trigger."""

    hooks: Hooked
    grant_id: str
    email: str
    folder_ids: Dict[str, str]  # top-level IMAP name -> folder id
    plans: SeedMessage  # historic: user 45 wrote to user 46 before connecting
    historic: SeedMessage  # historic: mail in INBOX before connecting
    historic_subjects: List[str] = field(default_factory=list)

    @property
    def nylas(self) -> Client:
        return self.hooks.nylas

    @property
    def receiver(self) -> Receiver:
        return self.hooks.receiver

    def check_everything(self) -> None:
        """`Hooked.check_everything`, and nothing that was in the mailbox before the first
        pass was announced: no message, no folder, no contact."""
        self.hooks.check_everything()
        created = [p.object.get("subject") for p in self.receiver.posts("message.created")]
        assert not set(self.historic_subjects) & set(created), created
        folders = {p.object.get("id") for p in self.receiver.posts("folder.created")}
        assert not folders & set(self.folder_ids.values()), self.receiver.summary()
        contacts = [e.get("email") for p in self.receiver.posts("contact.updated")
                    for e in p.object.get("emails") or []]
        assert self.historic.sender[1] not in contacts, contacts


@pytest.fixture(scope="module")
def mailbox(server, users):
    testbed = users
    tag = token()
    me = ("Ruth Fortyfive", testbed.email(USER))
    plans = SeedMessage(
        key=f"plans-{tag}", folder="Sent", thread="P", subject=f"Plans {tag}", sender=me,
        to=[("Ola Fortysix", testbed.email(OTHER))], hours=1, flags=("\\Seen",), text="Shall we?\n",
    )
    historic = SeedMessage(
        key=f"old-{tag}", folder="INBOX", thread="H", subject=f"Historic {tag}",
        sender=("Old Sender", f"old-{tag}@corp.example"), to=[me], hours=2, text="From before.\n",
    )
    mailbox_seed.append_all(testbed, USER, [plans, historic])

    receiver = Receiver()
    try:
        hooks = subscribe(server, receiver, "sdk-python-webhook-triggers", MAIL_TRIGGERS)
        grant = hooks.nylas.auth.custom_authentication(
            {"provider": "imap", "settings": testbed.imap_settings(USER)}
        ).data
        assert grant.email == testbed.email(USER)

        def first_pass():
            # The SDK's Grant model drops sync_state: read the raw JSON for this one poll.
            reply = server.raw("GET", f"/v3/grants/{grant.id}", hooks.api_key)
            assert reply.status_code == 200, reply.text
            data = reply.json()["data"]
            return data.get("sync_state") == "running", data.get("sync_state")

        wait_until("the grant's first pass", first_pass)
        listed = hooks.nylas.messages.list(grant.id, query_params={"limit": 50}).data
        assert sorted(m.subject for m in listed) == sorted([plans.subject, historic.subject])
        folders = hooks.nylas.folders.list(grant.id, query_params={"limit": 200}).data
        folder_ids = {f.name: f.id for f in folders if not f.parent_id}
        for name in ("INBOX", "Sent", "Trash", "Archive"):
            assert name in folder_ids, folder_ids
        yield Mailbox(hooks, grant.id, grant.email, folder_ids, plans, historic,
                      [plans.subject, historic.subject])
    finally:
        receiver.close()


def parse_message(post: Notification, mailbox: Mailbox) -> Message:
    message = Message.from_dict(post.object)
    assert isinstance(message, Message)
    assert message.object == "message"
    assert message.grant_id == mailbox.grant_id
    assert message.id
    return message


def emails_of(people) -> List[str]:
    return [p["email"] for p in people or []]


# --------------------------------------------------------------------------- tests


def test_grant_lifecycle(server, users):
    """Custom authentication announces grant.created; signing in again, and grants.update
    with settings or with scopes, grant.updated (re-authentication flagged only when
    credentials were given); grants.destroy grant.deleted. A webhook on grant.* only hears
    about nothing else, even though the grant syncs a mailbox."""
    testbed = users
    receiver = Receiver()
    try:
        hooks = subscribe(server, receiver, "sdk-python-webhook-grants", GRANT_TRIGGERS)
        address = testbed.email(OTHER)
        grant = hooks.nylas.auth.custom_authentication(
            {"provider": "imap", "settings": testbed.imap_settings(OTHER)}
        ).data
        mine = lambda o: o.get("grant_id") == grant.id  # noqa: E731

        created = receiver.wait_for("grant.created", mine)
        hooks.check(created, "grant.created")
        obj = created.object
        assert obj["code"] == 25012
        assert obj["provider"] == "imap"
        assert obj["email"] == address and obj["login_id"] == address
        assert isinstance(obj["integration_id"], str) and obj["integration_id"]
        found = hooks.nylas.grants.find(grant.id).data
        assert (found.id, found.email, found.provider) == (obj["grant_id"], obj["email"], obj["provider"])

        # Signing in again with the same address: the same grant, updated.
        again = hooks.nylas.auth.custom_authentication(
            {"provider": "imap", "settings": testbed.imap_settings(OTHER)}
        ).data
        assert again.id == grant.id
        reauth = receiver.wait_for("grant.updated", mine)
        hooks.check(reauth, "grant.updated")
        assert reauth.object["code"] == 25014
        assert reauth.object["reauthentication_flag"] is True
        assert reauth.object["email"] == address

        # grants.update with (proven) settings: credentials again.
        hooks.nylas.grants.update(grant.id, {"settings": testbed.imap_settings(OTHER)})
        wait_until("a second grant.updated", lambda: (len(receiver.posts("grant.updated")) >= 2,
                                                      receiver.summary()))
        settings_update = receiver.posts("grant.updated")[1]
        hooks.check(settings_update, "grant.updated")
        assert settings_update.object["grant_id"] == grant.id
        assert settings_update.object["reauthentication_flag"] is True

        # grants.update with scopes only: an update, but no re-authentication.
        scoped = hooks.nylas.grants.update(grant.id, {"scope": ["email.read_only"]}).data
        assert scoped.id == grant.id
        wait_until("a third grant.updated", lambda: (len(receiver.posts("grant.updated")) >= 3,
                                                     receiver.summary()))
        scope_update = receiver.posts("grant.updated")[2]
        hooks.check(scope_update, "grant.updated")
        assert scope_update.object["code"] == 25014
        assert scope_update.object["reauthentication_flag"] is False

        hooks.nylas.grants.destroy(grant.id)
        deleted = receiver.wait_for("grant.deleted", mine)
        hooks.check(deleted, "grant.deleted")
        assert deleted.object["code"] == 25013
        assert deleted.object["email"] == address and deleted.object["provider"] == "imap"

        assert [p.type for p in receiver.posts()] == [
            "grant.created", "grant.updated", "grant.updated", "grant.updated", "grant.deleted",
        ], receiver.summary()
        hooks.check_everything()
    finally:
        receiver.close()


def test_message_created_updated_and_deleted(mailbox, users):
    """New mail delivered by SMTP is announced once, as a Message the SDK reads; a star set
    through the SDK, \\Seen set by another IMAP client and a move are message.updated; the
    first messages.destroy (to Trash) is message.updated, the second message.deleted."""
    testbed = users
    nylas, grant_id, receiver = mailbox.nylas, mailbox.grant_id, mailbox.receiver
    inbox, archive, trash = (mailbox.folder_ids[n] for n in ("INBOX", "Archive", "Trash"))
    subject = f"Fresh news {token()}"
    sent = mail(("Ola Fortysix", testbed.email(OTHER)), ("Ruth", mailbox.email), subject, "Just arrived.\n")
    submit_as(testbed, OTHER, sent)

    post = receiver.wait_for("message.created", lambda o: o.get("subject") == subject)
    mailbox.hooks.check(post, "message.created")
    message = parse_message(post, mailbox)
    assert message.subject == subject
    assert emails_of(message.from_) == [testbed.email(OTHER)]
    assert emails_of(message.to) == [mailbox.email]
    assert message.folders == [inbox]
    assert (message.unread, message.starred) == (True, False)
    assert "Just arrived." in (message.body or "")
    assert message.thread_id and isinstance(message.date, int)
    # The id is the one the API knows.
    assert nylas.messages.find(grant_id, message.id).data.subject == subject
    this = lambda o: o.get("id") == message.id  # noqa: E731

    # Starred through the SDK.
    nylas.messages.update(grant_id, message.id, request_body={"starred": True})
    starred = receiver.wait_for("message.updated", lambda o: this(o) and o.get("starred") is True)
    mailbox.hooks.check(starred, "message.updated")
    assert parse_message(starred, mailbox).starred is True

    # Read in another mail client.
    mailbox_seed.set_flags(testbed, USER, "INBOX", sent["Message-ID"], "(\\Seen)")
    seen = receiver.wait_for("message.updated", lambda o: this(o) and o.get("unread") is False)
    mailbox.hooks.check(seen, "message.updated")
    seen_message = parse_message(seen, mailbox)
    assert (seen_message.unread, seen_message.starred) == (False, True)

    # Moved to Archive: still the same message, updated (not deleted and created).
    nylas.messages.update(grant_id, message.id, request_body={"folders": [archive]})
    moved = receiver.wait_for("message.updated", lambda o: this(o) and o.get("folders") == [archive])
    mailbox.hooks.check(moved, "message.updated")
    assert parse_message(moved, mailbox).subject == subject

    # Deleted once: to Trash, an update.
    nylas.messages.destroy(grant_id, message.id)
    trashed = receiver.wait_for("message.updated", lambda o: this(o) and o.get("folders") == [trash])
    mailbox.hooks.check(trashed, "message.updated")
    assert not [p for p in receiver.posts("message.deleted") if this(p.object)], "deleted while in Trash"

    # Deleted again, from Trash: gone, announced with its id only.
    nylas.messages.destroy(grant_id, message.id)
    deleted = receiver.wait_for("message.deleted", this)
    mailbox.hooks.check(deleted, "message.deleted")
    assert deleted.object == {"id": message.id, "grant_id": grant_id, "object": "message"}
    gone = Message.from_dict(deleted.object)
    assert (gone.id, gone.grant_id, gone.subject) == (message.id, grant_id, None)

    assert len([p for p in receiver.posts("message.deleted") if this(p.object)]) == 1
    # A move and a trip to Trash are never told as a new message (under this id or another).
    assert [p.object.get("subject") for p in receiver.posts("message.created")].count(subject) == 1
    mailbox.check_everything()


def test_folder_created_updated_and_deleted(mailbox):
    """nylas.folders.create / update / destroy: folder.created and folder.updated carry the
    Folder (the SDK reads it, the id stays through the rename), folder.deleted its id."""
    nylas, grant_id, receiver = mailbox.nylas, mailbox.grant_id, mailbox.receiver
    tag = token()
    made = nylas.folders.create(grant_id, request_body={"name": f"Receipts {tag}"}).data
    this = lambda o: o.get("id") == made.id  # noqa: E731

    created = receiver.wait_for("folder.created", this)
    mailbox.hooks.check(created, "folder.created")
    folder = Folder.from_dict(created.object)
    assert isinstance(folder, Folder)
    assert (folder.id, folder.grant_id, folder.name, folder.object) == (made.id, grant_id, f"Receipts {tag}", "folder")
    assert folder.total_count == 0

    nylas.folders.update(grant_id, made.id, request_body={"name": f"Invoices {tag}"})
    updated = receiver.wait_for("folder.updated", lambda o: this(o) and o.get("name") == f"Invoices {tag}")
    mailbox.hooks.check(updated, "folder.updated")
    renamed = Folder.from_dict(updated.object)
    assert (renamed.id, renamed.grant_id, renamed.name) == (made.id, grant_id, f"Invoices {tag}")

    nylas.folders.destroy(grant_id, made.id)
    deleted = receiver.wait_for("folder.deleted", this)
    mailbox.hooks.check(deleted, "folder.deleted")
    assert deleted.object["grant_id"] == grant_id
    assert deleted.object["object"] == "folder"

    for trigger in ("folder.created", "folder.updated", "folder.deleted"):
        assert len([p for p in receiver.posts(trigger) if this(p.object)]) == 1, receiver.summary()
    mailbox.check_everything()  # including: the mailbox's own folders were never announced


def test_arrivals_announce_replies_contacts_and_invitations(mailbox, users):
    """user46 answers the conversation user45 started before connecting: message.created and
    thread.replied. Mail from an address never seen: contact.updated with a Contact. An
    invitation: event.created with an Event. None of the mail that was there before the
    first pass, nor its senders, is announced. The invitation's update: event.updated."""
    testbed = users
    nylas, grant_id, receiver, hooks = mailbox.nylas, mailbox.grant_id, mailbox.receiver, mailbox.hooks

    # A reply in the grant's own conversation.
    reply_subject = f"Re: {mailbox.plans.subject}"
    submit_as(testbed, OTHER, mail(("Ola Fortysix", testbed.email(OTHER)), ("Ruth", mailbox.email),
                                   reply_subject, "Yes, let's.\n", in_reply_to=mailbox.plans.message_id))
    created = receiver.wait_for("message.created", lambda o: o.get("subject") == reply_subject)
    reply = parse_message(created, mailbox)
    replied = receiver.wait_for("thread.replied", lambda o: o.get("message_id") == reply.id)
    hooks.check(replied, "thread.replied")
    sent_ids = [m.id for m in nylas.messages.list(grant_id, query_params={"in": mailbox.folder_ids["Sent"]}).data
                if m.subject == mailbox.plans.subject]
    assert len(sent_ids) == 1, sent_ids
    obj = replied.object
    assert obj["object"] == "thread" and obj["grant_id"] == grant_id
    assert obj["thread_id"] == reply.thread_id
    assert obj["root_message_id"] == sent_ids[0]
    assert obj["from_self"] is False
    # The SDK sees the same conversation: the grant's message and the answer, one thread.
    thread = nylas.threads.find(grant_id, reply.thread_id).data
    assert set(thread.message_ids) == {sent_ids[0], reply.id}

    # Someone new writes: a new contact.
    stranger = ("Nova Newcomer", f"nova-{token()}@newcomers.example")
    deliver_from_outside(testbed, mail(stranger, ("Ruth", mailbox.email), f"Hello {token()}", "Hi there.\n"))
    post = receiver.wait_for("contact.updated",
                             lambda o: stranger[1] in [e.get("email") for e in o.get("emails") or []])
    hooks.check(post, "contact.updated")
    contact = Contact.from_dict(post.object)
    assert isinstance(contact, Contact)
    assert contact.grant_id == grant_id and contact.id
    assert [e.email for e in contact.emails] == [stranger[1]]
    assert "Nova" in " ".join(filter(None, [contact.given_name, contact.surname, contact.nickname]))
    assert nylas.contacts.find(grant_id, contact.id).data.emails[0].email == stranger[1]

    # An invitation arrives.
    title = f"Launch {token()}"
    uid = f"{uuid.uuid4()}@newcomers.example"
    deliver_from_outside(testbed, invitation(("Olga Organizer", "olga@newcomers.example"),
                                             ("Ruth", mailbox.email), uid, title))
    post = receiver.wait_for("event.created", lambda o: o.get("title") == title)
    hooks.check(post, "event.created")
    event = Event.from_dict(post.object)
    assert isinstance(event, Event)
    assert event.grant_id == grant_id and event.id and event.calendar_id
    assert event.title == title
    assert event.ical_uid == uid
    assert event.when.start_time == INVITATION_START
    assert event.when.end_time == INVITATION_START + 3600
    assert mailbox.email in [p.email for p in event.participants]
    assert event.organizer and event.organizer.get("email") == "olga@newcomers.example"
    found = nylas.events.find(grant_id, event.id, query_params={"calendar_id": event.calendar_id}).data
    assert (found.id, found.title) == (event.id, title)

    # Its update (same UID, next SEQUENCE, two hours later): the same event, updated.
    deliver_from_outside(testbed, invitation(("Olga Organizer", "olga@newcomers.example"),
                                             ("Ruth", mailbox.email), uid, f"{title} (moved)",
                                             sequence=1, hours_later=2))
    post = receiver.wait_for("event.updated", lambda o: o.get("title") == f"{title} (moved)")
    hooks.check(post, "event.updated")
    moved = Event.from_dict(post.object)
    assert (moved.id, moved.calendar_id, moved.ical_uid) == (event.id, event.calendar_id, uid)
    assert moved.when.start_time == INVITATION_START + 7200
    assert [p.object.get("id") for p in receiver.posts("event.created")] == [event.id], \
        "an update is not another event"

    assert [p.object["message_id"] for p in receiver.posts("thread.replied")] == [reply.id], \
        "one reply, one thread.replied"
    mailbox.check_everything()  # including: nothing from before the first pass


def test_scheduled_sends_report_success_and_failure(mailbox, users):
    """Two sends scheduled 8 s ahead (answered 202 with a schedule id): the one to user46
    ends in message.send_success carrying the sent Message, the one to an address Postfix
    refuses at RCPT in message.send_failed carrying the message and the reason."""
    testbed = users
    nylas, grant_id, receiver, hooks = mailbox.nylas, mailbox.grant_id, mailbox.receiver, mailbox.hooks
    tag = token()
    send_at = int(time.time()) + 8

    def schedule(to: str, subject: str) -> Message:
        scheduled = nylas.messages.send(grant_id, request_body={
            "to": [{"email": to}], "subject": subject, "body": f"Sent later ({tag}).", "send_at": send_at,
        }).data
        assert isinstance(scheduled, Message) and scheduled.schedule_id, scheduled
        assert scheduled.send_at == send_at
        return scheduled

    good = schedule(testbed.email(OTHER), f"Later {tag}")
    bad = schedule(f"nobody@{testbed.domain}", f"Nowhere {tag}")
    assert good.schedule_id != bad.schedule_id
    assert not receiver.posts("message.send_success") and not receiver.posts("message.send_failed")

    def subject(o: Dict[str, Any]) -> Any:
        return (o.get("object") or {}).get("subject")

    success = receiver.wait_for("message.send_success", lambda o: subject(o) == f"Later {tag}")
    hooks.check(success, "message.send_success")
    assert success.body["time"] >= send_at - 1, "announced before its send_at"
    assert success.object["grant_id"] == grant_id
    sent = Message.from_dict(success.object["object"])
    assert sent.object == "message" and sent.grant_id == grant_id
    assert sent.schedule_id == good.schedule_id
    assert emails_of(sent.to) == [testbed.email(OTHER)]
    assert emails_of(sent.from_) == [mailbox.email]
    assert f"Sent later ({tag})." in (sent.body or "")
    assert sent.folders == [mailbox.folder_ids["Sent"]], "the copy filed in Sent"
    assert nylas.messages.find(grant_id, sent.id).data.subject == f"Later {tag}"

    failure = receiver.wait_for("message.send_failed", lambda o: subject(o) == f"Nowhere {tag}")
    hooks.check(failure, "message.send_failed")
    assert failure.object["grant_id"] == grant_id
    failed = Message.from_dict(failure.object["object"])
    assert failed.schedule_id == bad.schedule_id
    assert emails_of(failed.to) == [f"nobody@{testbed.domain}"]
    reason = failure.object.get("reason") or ""
    assert f"nobody@{testbed.domain}" in reason, failure.object
    assert failure.object["error"] == {"type": "api.provider_error", "message": reason}
    assert nylas.messages.find_scheduled_message(grant_id, bad.schedule_id).data.status.code == "failed"

    # Each send ends once, in the one way it ended.
    assert [subject(p.object) for p in receiver.posts("message.send_success")] == [f"Later {tag}"]
    assert [subject(p.object) for p in receiver.posts("message.send_failed")] == [f"Nowhere {tag}"]
    mailbox.check_everything()


def test_a_real_bounce_is_announced_once_and_matched_to_the_sent_message(mailbox, users):
    """Sent to an address the testbed's Postfix accepts, then cannot deliver (550 5.1.1 at
    the next hop): Postfix's RFC 3464 report lands in the Inbox, and mailroom announces
    message.bounce_detected for the message it sent, as Nylas shapes it."""
    testbed = users
    nylas, grant_id, receiver, hooks = mailbox.nylas, mailbox.grant_id, mailbox.receiver, mailbox.hooks
    tag = token()
    nowhere = f"nobody-{tag}@bounces.{testbed.domain}"
    sent = nylas.messages.send(grant_id, request_body={
        "to": [{"email": nowhere}, {"email": testbed.email(OTHER)}],
        "subject": f"Returned {tag}", "body": "This one comes back.",
    }).data

    bounce = receiver.wait_for(
        "message.bounce_detected",
        lambda o: (o.get("object") or {}).get("bounced_addresses") == nowhere,
    )
    hooks.check(bounce, "message.bounce_detected")
    assert bounce.object["grant_id"] == grant_id
    details = bounce.object["object"]
    assert details["grant_id"] == grant_id
    assert details["type"] == "mailbox_unavailable", details
    assert details["code"] == "550", details
    assert "User unknown" in details["bounce_reason"], details
    assert details["bounce_date"].endswith("Z"), details
    assert details["message_id"] == sent.id, "matched to the message sent"
    origin = details["origin"]
    assert origin["id"] == sent.id and origin["subject"] == f"Returned {tag}", origin
    assert origin["from"] == mailbox.email
    assert sorted(origin["to"]) == sorted([nowhere, testbed.email(OTHER)])
    # The report is a message of the Inbox like any other.
    reports = [m for m in nylas.messages.list(grant_id, query_params={"limit": 50}).data
               if m.subject == "Undelivered Mail Returned to Sender"]
    assert any(m.id == details["report_message_id"] for m in reports), details
    # Once: the recipient who got it is not a bounce, and nothing repeats.
    bounces = [p for p in receiver.posts("message.bounce_detected")
               if (p.object.get("object") or {}).get("message_id") == sent.id]
    assert len(bounces) == 1, [p.object for p in bounces]
    mailbox.check_everything()


def delivered_html(testbed, n: int, subject: str) -> str:
    """The HTML part of the message with `subject` in user `n`'s INBOX, as delivered."""
    def probe():
        imap = mailbox_seed.imap_login(testbed, n)
        try:
            imap.select("INBOX", readonly=True)
            found = mailbox_seed.check(imap.search(None, "SUBJECT", f'"{subject}"'), "search")
            ids = found[0].split()
            if not ids:
                return False, "not delivered yet"
            data = mailbox_seed.check(imap.fetch(ids[-1], "(BODY.PEEK[])"), "fetch")
            return True, data[0][1]
        finally:
            imap.logout()

    raw = wait_until(f"the delivery of {subject!r}", probe)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    part = parsed.get_body(preferencelist=("html",))
    assert part is not None, raw[:2000]
    return part.get_content()


def test_an_open_and_a_click_in_the_delivered_message_are_announced(mailbox, users, server):
    """The message goes out with its image and its link rewritten under the server's
    public_url; what the recipient's mail client and browser do with them is announced,
    signed, once per client within the minute, with the anonymised address."""
    testbed = users
    nylas, grant_id, receiver, hooks = mailbox.nylas, mailbox.grant_id, mailbox.receiver, mailbox.hooks
    tag = token()
    offer = f"https://shop.example.com/offer?tag={tag}&ref=mail"
    subject_line = f"Tracked {tag}"
    sent = nylas.messages.send(grant_id, request_body={
        "to": [{"email": testbed.email(OTHER)}],
        "subject": subject_line,
        "body": f'<html><body><p>Hello! <a href="{offer.replace("&", "&amp;")}">See the offer</a>'
                f' or <a href="mailto:{mailbox.email}">write back</a>.</p></body></html>',
        "tracking_options": {"opens": True, "links": True, "thread_replies": True,
                             "label": f"campaign {tag}"},
    }).data

    html = delivered_html(testbed, OTHER, subject_line)
    assert offer not in html and f"mailto:{mailbox.email}" in html, html
    base = re.escape(server.base_url)
    image = re.search(rf'<img src="({base}/v3/tracking/[A-Za-z0-9_-]+/open\.gif)"', html)
    link = re.search(rf'href="({base}/v3/tracking/[A-Za-z0-9_-]+/links/0)"', html)
    assert image and link, html

    mail_client = {"User-Agent": f"Thunderbird/128 {tag}"}
    loaded = requests.get(image.group(1), headers=mail_client, timeout=30)
    assert loaded.status_code == 200 and loaded.headers["Content-Type"] == "image/gif"
    assert loaded.content.startswith(b"GIF89a")
    assert requests.get(image.group(1), headers=mail_client, timeout=30).status_code == 200
    followed = requests.get(link.group(1), headers={"User-Agent": f"Firefox/140 {tag}"},
                            allow_redirects=False, timeout=30)
    assert followed.status_code == 302, followed.text
    assert followed.headers["Location"] == offer
    assert followed.headers.get("Referrer-Policy") == "no-referrer"
    # Another client (the recipient's phone, through the proxy) is another open.
    phone = {"User-Agent": f"iPhone Mail {tag}", "X-Forwarded-For": "203.0.113.77"}
    assert requests.get(image.group(1), headers=phone, timeout=30).status_code == 200

    def ours(o):
        return o.get("message_id") == sent.id

    second = receiver.wait_for(
        "message.opened", lambda o: ours(o) and o["message_data"]["count"] == 2)
    hooks.check(second, "message.opened")
    opened = second.object
    assert opened["object"] == "message" and opened["grant_id"] == grant_id
    assert opened["label"] == f"campaign {tag}"
    assert opened["sender_app_id"] == hooks.application_id
    assert [r["user_agent"] for r in opened["recents"]] == [mail_client["User-Agent"], phone["User-Agent"]]
    assert [r["opened_id"] for r in opened["recents"]] == [1, 2]
    assert [r["ip"] for r in opened["recents"]] == ["127.0.0.0", "203.0.113.0"], \
        "the address is the client's, anonymised"
    opens = [p for p in receiver.posts("message.opened") if ours(p.object)]
    assert len(opens) == 2, "the mail client's second load within the minute is the same open"

    click = receiver.wait_for("message.link_clicked", ours)
    hooks.check(click, "message.link_clicked")
    clicked = click.object
    assert clicked["link_data"] == [{"url": offer, "count": 1}]
    assert clicked["recents"][0]["link_index"] == "0"
    assert clicked["recents"][0]["click_id"] == 1
    assert clicked["recents"][0]["user_agent"] == f"Firefox/140 {tag}"

    # The message remembers how it was tracked.
    reply = server.raw("GET", f"/v3/grants/{grant_id}/messages/{sent.id}", hooks.api_key,
                       params={"fields": "include_tracking_options"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["data"]["tracking_options"] == {
        "opens": True, "links": True, "thread_replies": True, "label": f"campaign {tag}"}
    # So does a list, when asked.
    for fields, label in (("include_tracking_options", f"campaign {tag}"), ("standard", None)):
        listed = server.raw("GET", f"/v3/grants/{grant_id}/messages", hooks.api_key,
                            params={"fields": fields, "limit": 200})
        assert listed.status_code == 200, listed.text
        by_id = {m["id"]: m for m in listed.json()["data"]}
        options = by_id[sent.id].get("tracking_options")
        assert (options or {}).get("label") == label, by_id[sent.id]
    mailbox.check_everything()


def test_a_draft_sent_with_tracking_is_tracked_as_sent(mailbox, users, server):
    """A draft keeps its tracking_options (shown when read) and its body as written; the
    message that goes out when it is sent carries the image and the redirected link."""
    testbed = users
    nylas, grant_id, receiver, hooks = mailbox.nylas, mailbox.grant_id, mailbox.receiver, mailbox.hooks
    tag = token()
    page = f"https://docs.example.org/guide/{tag}"
    subject_line = f"Drafted {tag}"
    draft = nylas.drafts.create(grant_id, request_body={
        "to": [{"email": testbed.email(OTHER)}],
        "subject": subject_line,
        "body": f'<div>Read <a href="{page}">the guide</a>.</div>',
        "tracking_options": {"opens": True, "links": True, "label": f"draft {tag}"},
    }).data
    found = nylas.drafts.find(grant_id, draft.id).data
    assert found.tracking_options is not None and found.tracking_options.label == f"draft {tag}"
    assert page in found.body and "/v3/tracking/" not in found.body, "the draft is kept as written"

    sent = nylas.drafts.send(grant_id, draft.id).data
    html = delivered_html(testbed, OTHER, subject_line)
    base = re.escape(server.base_url)
    image = re.search(rf'<img src="({base}/v3/tracking/[A-Za-z0-9_-]+/open\.gif)"', html)
    link = re.search(rf'href="({base}/v3/tracking/[A-Za-z0-9_-]+/links/0)"', html)
    assert image and link and page not in html, html
    assert requests.get(image.group(1), headers={"User-Agent": f"Outlook {tag}"}, timeout=30).status_code == 200
    followed = requests.get(link.group(1), allow_redirects=False, timeout=30)
    assert followed.status_code == 302 and followed.headers["Location"] == page

    opened = receiver.wait_for("message.opened", lambda o: o.get("label") == f"draft {tag}")
    hooks.check(opened, "message.opened")
    assert opened.object["message_id"] == sent.id
    assert opened.object["recents"][0]["user_agent"] == f"Outlook {tag}"
    clicked = receiver.wait_for("message.link_clicked", lambda o: o.get("label") == f"draft {tag}")
    assert clicked.object["link_data"] == [{"url": page, "count": 1}]
    mailbox.check_everything()
