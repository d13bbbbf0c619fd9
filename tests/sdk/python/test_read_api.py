"""The read API (messages, threads, folders, attachments) driven through the official Nylas
Python SDK (nylas==6.18.0), unchanged, against a mailbox mailroom has synced from the
testbed's Dovecot.

`mailbox_seed.py` writes a small, realistic mailbox into testbed user 6 by IMAP APPEND
(two conversations across Inbox and Sent, an invoice PDF, an inline image, a non-ASCII
folder, a child folder, flags and dates). A grant is created with custom auth, the test
waits until the initial sync (headers and bodies) is complete, and then every answer is
compared with what was written. The flag test uses user 7, so that it may change state.
Where the point is what goes over the wire (fields always present, error envelope,
`select`), the raw JSON is read with `requests`.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

import pytest
from conftest import wait_until
from nylas import Client
from nylas.models.attachments import Attachment
from nylas.models.errors import NylasApiError
from nylas.models.folders import Folder
from nylas.models.messages import Message
from nylas.models.response import ListResponse, Response
from nylas.models.threads import Thread

import mailbox_seed
from mailbox_seed import ALPHA, PDF_BYTES, PNG_BYTES, PROJECTS, REUNIONS, Seed, SeedMessage

SEED_USER = 6  # the read-only mailbox of this module
FLAG_USER = 7  # changed by another IMAP client during a test
SYNC_DEADLINE = 60.0
CATCH_UP_DEADLINE = 45.0  # a flag change made elsewhere; Inbox is watched with IDLE

# docs/API.md §5.1 / §9: a message always carries these keys (null, [] or false when empty).
MESSAGE_KEYS = {
    "id", "grant_id", "object", "thread_id", "subject", "from", "to", "cc", "bcc", "reply_to",
    "date", "unread", "starred", "snippet", "body", "attachments", "folders", "created_at",
    "schedule_id", "send_at", "metadata", "tracking_options",
}
# docs/API.md §5.4.
THREAD_KEYS = {
    "id", "grant_id", "object", "latest_draft_or_message", "has_attachments", "has_drafts",
    "starred", "unread", "earliest_message_date", "latest_message_received_date",
    "latest_message_sent_date", "participants", "message_ids", "draft_ids", "folders",
    "snippet", "subject",
}
FOLDER_KEYS = {
    "id", "grant_id", "object", "name", "parent_id", "system_folder", "attributes",
    "child_count", "unread_count", "total_count", "background_color", "text_color",
}
ATTACHMENT_KEYS = {
    "id", "grant_id", "filename", "content_type", "size", "content_id", "content_disposition",
    "is_inline",
}


# --------------------------------------------------------------------------- helpers




def wait_for_initial_sync(mailroom, api_key: str, grant_id: str, expected: int) -> dict:
    """GET /v3/grants/{id} until headers and bodies of all `expected` messages are in."""

    def probe():
        raw = mailroom.raw("GET", f"/v3/grants/{grant_id}", api_key)
        assert raw.status_code == 200, raw.text
        grant = raw.json()["data"]
        progress = grant.get("sync_progress") or {}
        done = (
            grant.get("sync_state") == "running"
            and progress.get("messages_total") == expected
            and progress.get("messages_synced") == expected
            and progress.get("bodies_synced") == expected
        )
        return done, {"sync_state": grant.get("sync_state"), "sync_progress": progress}

    return wait_until(f"the initial sync of {expected} messages", probe, SYNC_DEADLINE)


def connect(mailroom, testbed, user: int, seed: Seed, name: str):
    """An application with an IMAP connector and a synced grant for testbed user N."""
    app = mailroom.create_app(name)
    app.client.connectors.create(request_body={"provider": "imap"})
    grant = app.client.auth.custom_authentication(
        {"provider": "imap", "settings": testbed.imap_settings(user)}
    ).data
    assert grant.email == seed.email
    wait_for_initial_sync(mailroom, app.api_key, grant.id, len(seed.messages))
    return app, grant.id


def header(message: Message, name: str) -> Optional[str]:
    for h in message.headers or []:
        if h.name.lower() == name.lower():
            return h.value
    return None


def emails(people) -> List[str]:
    """Lower-cased addresses of a list of EmailName (a TypedDict in the SDK)."""
    return [p["email"].lower() for p in people or []]


def named(people) -> List[tuple]:
    """(name, email) pairs of a list of EmailName."""
    return [(p.get("name"), p["email"]) for p in people or []]


@dataclass
class Mailbox:
    """The synced seed mailbox and the maps between seed keys and API ids."""

    nylas: Client
    mailroom: object
    api_key: str
    grant_id: str
    seed: Seed
    ids: Dict[str, str]  # seed key -> message id
    keys: Dict[str, str]  # message id -> seed key
    folders: Dict[str, Folder]  # IMAP name ("Projects/Alpha") -> folder

    def raw(self, path: str, **params):
        return self.mailroom.raw("GET", f"/v3/grants/{self.grant_id}{path}", self.api_key, params=params)

    def folder_id(self, imap_name: str) -> str:
        return self.folders[imap_name].id

    def message(self, key: str, **query) -> Message:
        response = self.nylas.messages.find(self.grant_id, self.ids[key], query_params=query or None)
        assert isinstance(response, Response) and isinstance(response.data, Message)
        return response.data

    def list_messages(self, **query) -> ListResponse:
        response = self.nylas.messages.list(self.grant_id, query_params=query)
        assert isinstance(response, ListResponse)
        assert all(isinstance(m, Message) for m in response.data)
        return response

    def listed_keys(self, **query) -> List[str]:
        """Seed keys of the messages a list returns, in order (one page, limit 200)."""
        response = self.list_messages(limit=200, **query)
        assert response.next_cursor is None
        return [self.keys[m.id] for m in response.data]

    def list_threads(self, **query) -> List[Thread]:
        response = self.nylas.threads.list(self.grant_id, query_params={"limit": 200, **query})
        assert isinstance(response, ListResponse)
        assert response.next_cursor is None
        assert all(isinstance(t, Thread) for t in response.data)
        return response.data

    def thread_keys(self, thread: Thread) -> frozenset:
        return frozenset(self.keys[i] for i in thread.message_ids)

    def thread_of(self, label: str) -> Thread:
        wanted = frozenset(self.seed.threads()[label])
        for thread in self.list_threads():
            if self.thread_keys(thread) == wanted:
                return thread
        pytest.fail(f"no thread holds exactly {sorted(wanted)}")


def folders_by_path(folders: Iterable[Folder]) -> Dict[str, Folder]:
    """Folders keyed by their IMAP path, rebuilt from name and parent_id."""
    by_id = {f.id: f for f in folders}

    def path(folder: Folder) -> str:
        parent = by_id.get(folder.parent_id) if folder.parent_id else None
        return f"{path(parent)}/{folder.name}" if parent else folder.name

    return {path(f): f for f in by_id.values()}


@pytest.fixture(scope="module")
def mailbox(mailroom, testbed) -> Mailbox:
    """User 6 wiped and seeded, a grant on it synced, and the seed keys mapped to API ids."""
    seed = mailbox_seed.seed_mailbox(testbed, SEED_USER)
    app, grant_id = connect(mailroom, testbed, SEED_USER, seed, "sdk-python-read-api")
    nylas = app.client
    # Map API ids to the seed through the Message-ID header (which also exercises
    # fields=include_headers on the list).
    listed = nylas.messages.list(grant_id, query_params={"limit": 200, "fields": "include_headers"}).data
    by_message_id = {m.message_id.strip("<>"): m.key for m in seed.messages}
    ids = {}
    for message in listed:
        mid = (header(message, "Message-ID") or "").strip("<>")  # its exact form is checked below
        assert mid in by_message_id, f"unexpected message {message.subject!r} with Message-ID {mid!r}"
        ids[by_message_id[mid]] = message.id
    assert set(ids) == seed.keys(), f"messages missing from the list: {seed.keys() - set(ids)}"
    folders = folders_by_path(nylas.folders.list(grant_id).data)
    return Mailbox(nylas, mailroom, app.api_key, grant_id, seed, ids, {v: k for k, v in ids.items()}, folders)


def newest_first(messages: Iterable[SeedMessage]) -> List[str]:
    return [m.key for m in sorted(messages, key=lambda m: m.timestamp, reverse=True)]


# --------------------------------------------------------------------------- messages: list


def test_messages_list_is_newest_first_with_the_seeded_dates(mailbox):
    """Every seeded message is listed once, newest first, `date` being the INTERNALDATE."""
    response = mailbox.list_messages()
    assert response.request_id
    assert [mailbox.keys[m.id] for m in response.data] == newest_first(mailbox.seed.messages)
    for message in response.data:
        seeded = mailbox.seed[mailbox.keys[message.id]]
        assert message.grant_id == mailbox.grant_id
        assert message.object == "message"
        assert message.date == seeded.timestamp, seeded.key
        assert (message.unread, message.starred) == (seeded.unread, seeded.starred), seeded.key
        assert message.subject == seeded.subject
        assert emails(message.from_) == seeded.emails("from")
        assert message.folders == [mailbox.folder_id(seeded.folder)], seeded.key


def test_messages_paging_visits_every_message_exactly_once(mailbox):
    """limit + page_token (the previous next_cursor) walk the list without gaps or repeats."""
    seen: List[str] = []
    pages = []
    cursor = None
    while True:
        query = {"limit": 4}
        if cursor:
            query["page_token"] = cursor
        page = mailbox.list_messages(**query)
        assert 0 < len(page.data) <= 4
        pages.append(len(page.data))
        seen.extend(mailbox.keys[m.id] for m in page.data)
        cursor = page.next_cursor
        if not cursor:
            break
        assert len(pages) < 10, "paging does not end"
    assert pages == [4, 4, 3]
    assert seen == newest_first(mailbox.seed.messages)


def test_messages_limit_bounds(mailbox):
    """limit=0 is refused; a limit above the maximum (200) gives a capped page, not an error,
    so an SDK asking for more keeps paging with next_cursor."""
    zero = mailbox.raw("/messages", limit=0)
    assert zero.status_code == 400, zero.text
    assert zero.json()["error"]["type"] == "api.invalid_request_error"
    big = mailbox.raw("/messages", limit=500)
    assert big.status_code == 200, big.text
    assert len(big.json()["data"]) == len(mailbox.seed.messages)
    assert big.json().get("next_cursor") in (None, "")


def _in(folder: str):
    return lambda mb: {"in": mb.folder_id(folder)}


def _thread_of(key: str):
    return lambda mb: {"thread_id": mb.message(key).thread_id}


def _between(after_key: Optional[str], before_key: Optional[str]):
    """received_after / received_before half an hour inside the given messages' dates."""

    def build(mb):
        query = {}
        if after_key:
            query["received_after"] = mb.seed[after_key].timestamp + 1800
        if before_key:
            query["received_before"] = mb.seed[before_key].timestamp - 1800
        return query

    return build


def _static(**query):
    return lambda mb: query


def _involves(*addresses: str):
    """The message has one of these addresses in From, To, Cc or Bcc."""
    return lambda m: bool(set(addresses) & set(m.emails("from", "to", "cc", "bcc")))


# (test id, query builder, which seeded messages must be listed)
MESSAGE_FILTERS = [
    ("subject", _static(subject="BUDGET"), lambda m: "budget" in m.subject.lower()),
    ("subject-non-ascii", _static(subject="réunion"), lambda m: m.key == "e"),
    ("any_email", _static(any_email=["Bob@Partner.example"]), _involves("bob@partner.example")),
    ("any_email-two", _static(any_email=["bob@partner.example", "heidi@corp.example"]),
     _involves("bob@partner.example", "heidi@corp.example")),
    ("from", _static(**{"from": ["alice@corp.example"]}), lambda m: m.emails("from") == ["alice@corp.example"]),
    ("to", _static(to=["alice@corp.example"]), lambda m: "alice@corp.example" in m.emails("to")),
    ("to-second-recipient", _static(to=["dave@corp.example"]), lambda m: "dave@corp.example" in m.emails("to")),
    ("cc", _static(cc=["dave@corp.example"]), lambda m: "dave@corp.example" in m.emails("cc")),
    ("bcc", _static(bcc=["eve@audit.example"]), lambda m: "eve@audit.example" in m.emails("bcc")),
    ("in-inbox", _in("INBOX"), lambda m: m.folder == "INBOX"),
    ("in-sent", _in("Sent"), lambda m: m.folder == "Sent"),
    ("in-non-ascii", _in(REUNIONS), lambda m: m.folder == REUNIONS),
    ("in-child", _in(ALPHA), lambda m: m.folder == ALPHA),
    ("in-empty-parent", _in(PROJECTS), lambda m: False),
    ("unread", _static(unread=True), lambda m: m.unread),
    ("read", _static(unread=False), lambda m: not m.unread),
    ("starred", _static(starred=True), lambda m: m.starred),
    ("not-starred", _static(starred=False), lambda m: not m.starred),
    ("thread_id", _thread_of("a2"), lambda m: m.thread == "A"),
    ("received_before", _between(None, "c"), lambda m: m.hours < 20),
    ("received_after", _between("a3", None), lambda m: m.hours > 48),
    ("received-window", _between("a2", "a3"), lambda m: 5 < m.hours < 48),
    ("has_attachment", _static(has_attachment=True), lambda m: m.has_attachment),
    ("no-attachment", _static(has_attachment=False), lambda m: not m.has_attachment),
    ("inbox-and-unread", lambda mb: {"in": mb.folder_id("INBOX"), "unread": True},
     lambda m: m.folder == "INBOX" and m.unread),
    ("subject-no-match", _static(subject="no such subject"), lambda m: False),
]


@pytest.mark.parametrize("build, expected", [pytest.param(b, e, id=i) for i, b, e in MESSAGE_FILTERS])
def test_messages_list_filters(mailbox, build, expected):
    """Each filter of docs/API.md §5.1 lists the seeded messages it describes, newest first."""
    want = newest_first(m for m in mailbox.seed.messages if expected(m))
    assert mailbox.listed_keys(**build(mailbox)) == want


def test_messages_filter_in_takes_folder_ids_not_names(mailbox):
    """docs/API.md §5.5: `in` is a folder id; a name or keyword such as INBOX is refused."""
    for keyword in ("INBOX", "inbox"):
        with pytest.raises(NylasApiError) as refused:
            mailbox.list_messages(**{"in": keyword})
        assert refused.value.status_code == 400
        assert "folder ids" in str(refused.value)
    inbox = mailbox.folder_id("INBOX")
    assert inbox != "INBOX"
    in_inbox = mailbox.seed.keys(lambda m: m.folder == "INBOX")
    assert len(mailbox.list_messages(**{"in": inbox}).data) == len(in_inbox)


def test_messages_select_returns_only_the_named_fields(mailbox):
    """`select` trims the objects (id, grant_id and object stay, for the SDKs)."""
    raw = mailbox.raw("/messages", select="subject,unread", limit=3)
    assert raw.status_code == 200, raw.text
    for item in raw.json()["data"]:
        assert set(item) == {"id", "grant_id", "object", "subject", "unread"}
    one = mailbox.raw(f"/messages/{mailbox.ids['a1']}", select="subject")
    assert set(one.json()["data"]) == {"id", "grant_id", "object", "subject"}

    via_sdk = mailbox.list_messages(select="subject,unread").data
    assert {m.subject for m in via_sdk} == {m.subject for m in mailbox.seed.messages}
    assert all(m.body is None and m.from_ is None and m.folders is None for m in via_sdk)
    assert mailbox.message("a1", select="subject").subject == "Quarterly budget review"


def test_messages_include_headers(mailbox):
    """fields=include_headers adds the message's own headers; without it there are none."""
    a3 = mailbox.seed["a3"]
    found = mailbox.message("a3", fields="include_headers")
    assert header(found, "Message-ID") == a3.message_id
    assert header(found, "In-Reply-To") == mailbox.seed["a2"].message_id
    assert header(found, "References").split() == [mailbox.seed["a1"].message_id, mailbox.seed["a2"].message_id]
    assert header(found, "X-Mailer") == "mailroom-read-api-seed"
    assert header(found, "Subject") == a3.subject
    assert mailbox.message("a3").headers is None
    assert all(m.headers is None for m in mailbox.list_messages().data)
    assert all(m.headers for m in mailbox.list_messages(fields="include_headers").data)


def test_message_raw_mime_is_base64url_of_the_stored_bytes(mailbox):
    """fields=raw_mime returns the exact RFC 822 bytes as base64url, with only the ids."""
    for key in ("c", "e"):  # an attachment, and 8-bit UTF-8 text
        found = mailbox.message(key, fields="raw_mime")
        assert found.id == mailbox.ids[key]
        assert found.grant_id == mailbox.grant_id
        assert "+" not in found.raw_mime and "/" not in found.raw_mime
        padded = found.raw_mime + "=" * (-len(found.raw_mime) % 4)
        assert base64.urlsafe_b64decode(padded) == mailbox.seed[key].raw
        assert found.body is None and found.subject is None


def test_messages_list_with_raw_mime(mailbox):
    """docs/API.md §5.1: with `fields=raw_mime` every listed message carries raw_mime."""
    listed = mailbox.list_messages(fields="raw_mime", limit=3).data
    assert [mailbox.keys[m.id] for m in listed] == newest_first(mailbox.seed.messages)[:3]
    for message in listed:
        assert message.raw_mime, mailbox.keys[message.id]
        padded = message.raw_mime + "=" * (-len(message.raw_mime) % 4)
        assert base64.urlsafe_b64decode(padded) == mailbox.seed[mailbox.keys[message.id]].raw


@pytest.mark.parametrize(
    "native, expected",
    [
        pytest.param('TEXT "zanzibarquokka"', {"h"}, id="text"),
        pytest.param('SUBJECT "Launch checklist"', {"b1", "b2"}, id="subject"),
        pytest.param("FLAGGED", {"b1", "f"}, id="flagged"),
        pytest.param('FROM "alice@corp.example" UNSEEN', {"a3"}, id="from-unseen"),
        pytest.param('TEXT "no-such-word-anywhere"', set(), id="nothing"),
    ],
)
def test_messages_search_query_native_runs_an_imap_search(mailbox, native, expected):
    """search_query_native is an IMAP SEARCH over every folder (docs/API.md §5.1)."""
    assert mailbox.listed_keys(search_query_native=native) == newest_first(mailbox.seed[k] for k in expected)


def test_messages_search_query_native_combines_with_filters(mailbox):
    """The IMAP search narrows the list; the other filters still apply."""
    native = 'SUBJECT "budget"'
    assert set(mailbox.listed_keys(search_query_native=native)) == {"a1", "a2", "a3"}
    assert mailbox.listed_keys(search_query_native=native, **{"in": mailbox.folder_id("Sent")}) == ["a2"]


# --------------------------------------------------------------------------- messages: find


def test_find_plain_text_message(mailbox):
    """A text/plain message: body up-converted to HTML, snippet, participants, folder, thread."""
    found = mailbox.message("a1")
    a1 = mailbox.seed["a1"]
    assert found.grant_id == mailbox.grant_id
    assert found.object == "message"
    assert found.subject == a1.subject
    assert named(found.from_) == [a1.sender]
    assert named(found.to) == a1.to
    assert named(found.cc) == a1.cc
    assert found.bcc == [] and found.reply_to == []
    assert found.snippet == "Hi Sam, Please review the Q3 budget before Thursday. Alice"
    assert "Please review the Q3 budget before Thursday." in found.body
    assert found.attachments == []
    assert found.folders == [mailbox.folder_id("INBOX")]
    assert (found.unread, found.starred, found.date) == (False, False, a1.timestamp)
    assert found.thread_id == mailbox.message("a3").thread_id


def test_find_html_alternative_message(mailbox):
    """multipart/alternative: the HTML part is the body, the snippet is plain text."""
    found = mailbox.message("a3")
    assert "<b>5k</b>" in found.body
    assert found.snippet.startswith("Sam, Travel is capped at 5k. Approved.")
    assert "<" not in found.snippet
    assert emails(found.cc) == ["dave@corp.example"]
    assert found.unread is True

    html_only = mailbox.message("b1")
    assert "<h1>Launch</h1>" in html_only.body
    assert html_only.snippet.startswith("Launch")
    assert "<" not in html_only.snippet
    assert html_only.starred is True


def test_find_sent_reply_is_in_the_inbox_thread(mailbox):
    """The reply kept in Sent joins the conversation of the Inbox message it answers."""
    sent = mailbox.message("a2")
    assert sent.folders == [mailbox.folder_id("Sent")]
    assert sent.thread_id == mailbox.message("a1").thread_id == mailbox.message("a3").thread_id
    b2 = mailbox.message("b2")
    assert emails(b2.bcc) == ["eve@audit.example"]
    assert b2.thread_id == mailbox.message("b1").thread_id
    assert b2.thread_id != sent.thread_id


def test_find_message_with_attachment(mailbox):
    """The invoice lists its PDF with the metadata of docs/API.md §5.0."""
    found = mailbox.message("c")
    assert len(found.attachments) == 1
    pdf = found.attachments[0]
    assert isinstance(pdf, Attachment)
    assert pdf.id and pdf.grant_id == mailbox.grant_id
    assert pdf.filename == "invoice-2024-0042.pdf"
    assert pdf.content_type.split(";")[0] == "application/pdf"
    assert pdf.size == len(PDF_BYTES)
    assert pdf.is_inline is False
    assert pdf.content_id is None
    assert found.snippet == "Your invoice is attached."


def test_find_message_with_inline_image(mailbox):
    """An inline image in multipart/related is listed as inline, with its Content-ID."""
    found = mailbox.message("d")
    assert len(found.attachments) == 1
    image = found.attachments[0]
    assert image.content_type.split(";")[0] == "image/png"
    assert image.is_inline is True
    assert image.content_id == "photo123@corp.example"
    assert image.filename == "team.png"
    assert image.size == len(PNG_BYTES)
    assert "cid:photo123@corp.example" in found.body
    assert emails(found.to) == ["user6@example.test", "dave@corp.example"]


def test_find_messages_in_non_ascii_and_child_folders(mailbox):
    """Decoded RFC 2047 subject and sender name; Reply-To; the folders they live in."""
    e = mailbox.message("e")
    assert e.subject == "Ordre du jour — réunion de lundi"
    assert named(e.from_) == [("François Dupré", "francois@corp.example")]
    assert "Voici l'ordre du jour de la réunion." in e.snippet
    assert e.folders == [mailbox.folder_id(REUNIONS)]

    f = mailbox.message("f")
    assert named(f.reply_to) == [("Alpha Team", "alpha-team@corp.example")]
    assert f.folders == [mailbox.folder_id(ALPHA)]
    assert (f.unread, f.starred) == (False, True)


@pytest.mark.parametrize("message_id", ["does-not-exist", "0" * 32, "with/slash"])
def test_find_unknown_message_is_a_404(mailbox, message_id):
    """An unknown id raises NylasApiError 404 built from the envelope of docs/API.md §1.6."""
    with pytest.raises(NylasApiError) as excinfo:
        mailbox.nylas.messages.find(mailbox.grant_id, message_id)
    err = excinfo.value
    assert err.status_code == 404
    assert err.type == "api.not_found_error"
    assert err.request_id
    assert err.headers.get("x-request-id") == err.request_id


def test_unknown_message_raw_error_envelope(mailbox):
    raw = mailbox.raw("/messages/does-not-exist")
    assert raw.status_code == 404
    body = raw.json()
    assert set(body) == {"request_id", "error"}
    assert body["error"]["type"] == "api.not_found_error"
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert raw.headers["x-request-id"] == body["request_id"]


def test_message_always_carries_every_field(mailbox):
    """docs/API.md §9: a message with no cc/bcc/reply_to/attachments still has every key, as
    [] / null / false, in the single-object and the list response."""
    raw = mailbox.raw(f"/messages/{mailbox.ids['g']}")
    assert raw.status_code == 200, raw.text
    body = raw.json()
    assert body["request_id"]
    data = body["data"]
    assert MESSAGE_KEYS <= set(data), MESSAGE_KEYS - set(data)
    assert (data["cc"], data["bcc"], data["reply_to"], data["attachments"]) == ([], [], [], [])
    assert data["unread"] is True and data["starred"] is False
    assert isinstance(data["date"], int) and isinstance(data["created_at"], int)
    assert data["object"] == "message"
    assert isinstance(data["folders"], list)

    listed = mailbox.raw("/messages", limit=200).json()["data"]
    for item in listed:
        assert MESSAGE_KEYS <= set(item), (item["id"], MESSAGE_KEYS - set(item))
        for key in ("from", "to", "cc", "bcc", "reply_to", "attachments", "folders"):
            assert isinstance(item[key], list), (key, item[key])
        for key in ("unread", "starred"):
            assert isinstance(item[key], bool)
        for attachment in item["attachments"]:
            assert ATTACHMENT_KEYS <= set(attachment)


# --------------------------------------------------------------------------- threads


def test_threads_group_the_conversations(mailbox):
    """One thread per conversation, newest latest-message first, with the Thread fields."""
    threads = mailbox.list_threads()
    groups = mailbox.seed.threads()
    assert {mailbox.thread_keys(t) for t in threads} == {frozenset(g) for g in groups.values()}
    assert len(threads) == len(groups)

    def latest(label):
        return max(mailbox.seed[k].timestamp for k in groups[label])

    expected_order = sorted(groups, key=latest, reverse=True)
    assert [mailbox.thread_keys(t) for t in threads] == [frozenset(groups[g]) for g in expected_order]
    for thread in threads:
        keys = mailbox.thread_keys(thread)
        members = [mailbox.seed[k] for k in keys]
        newest = max(members, key=lambda m: m.timestamp)
        assert thread.object == "thread"
        assert thread.grant_id == mailbox.grant_id
        assert thread.latest_message_received_date == newest.timestamp
        assert thread.earliest_message_date == min(m.timestamp for m in members)
        assert thread.latest_draft_or_message.id == mailbox.ids[newest.key]
        assert thread.unread == any(m.unread for m in members)
        assert thread.starred == any(m.starred for m in members)
        assert thread.has_drafts is False
        assert set(thread.folders) == {mailbox.folder_id(m.folder) for m in members}
        assert all(mailbox.message(k).thread_id == thread.id for k in keys)


def test_thread_find_has_every_field_the_sdk_requires(mailbox):
    """threads.find parses (Python requires id, grant_id, has_drafts, starred, unread,
    message_ids, folders, latest_draft_or_message) and describes the whole conversation."""
    listed = mailbox.thread_of("A")
    response = mailbox.nylas.threads.find(mailbox.grant_id, listed.id)
    assert isinstance(response, Response) and isinstance(response.data, Thread)
    thread = response.data
    assert thread.id == listed.id
    assert sorted(thread.message_ids) == sorted(mailbox.ids[k] for k in ("a1", "a2", "a3"))
    assert thread.subject == "Quarterly budget review"
    assert set(thread.folders) == {mailbox.folder_id("INBOX"), mailbox.folder_id("Sent")}
    assert set(emails(thread.participants)) == {
        "alice@corp.example", "user6@example.test", "carol@corp.example", "dave@corp.example",
    }
    latest = thread.latest_draft_or_message
    assert isinstance(latest, Message)
    assert latest.id == mailbox.ids["a3"]
    assert latest.grant_id == mailbox.grant_id
    assert thread.snippet == latest.snippet
    assert (thread.unread, thread.starred, thread.has_drafts) == (True, False, False)
    assert thread.has_attachments is False
    assert thread.draft_ids == []
    assert thread.earliest_message_date == mailbox.seed["a1"].timestamp
    assert thread.latest_message_received_date == mailbox.seed["a3"].timestamp

    invoice = mailbox.nylas.threads.find(mailbox.grant_id, mailbox.message("c").thread_id).data
    assert invoice.has_attachments is True
    assert invoice.message_ids == [mailbox.ids["c"]]


def test_thread_raw_carries_every_field(mailbox):
    """docs/API.md §5.4 / §9: every thread key is present, also in lists."""
    thread_id = mailbox.message("g").thread_id
    raw = mailbox.raw(f"/threads/{thread_id}")
    assert raw.status_code == 200, raw.text
    data = raw.json()["data"]
    assert THREAD_KEYS <= set(data), THREAD_KEYS - set(data)
    assert data["latest_draft_or_message"]["object"] == "message"
    assert MESSAGE_KEYS <= set(data["latest_draft_or_message"])
    for item in mailbox.raw("/threads", limit=200).json()["data"]:
        assert THREAD_KEYS <= set(item), (item["id"], THREAD_KEYS - set(item))
        assert item["latest_draft_or_message"]["object"] in ("message", "draft")


def test_threads_paging_visits_every_thread_exactly_once(mailbox):
    seen = []
    cursor = None
    for _ in range(10):
        query = {"limit": 3}
        if cursor:
            query["page_token"] = cursor
        page = mailbox.nylas.threads.list(mailbox.grant_id, query_params=query)
        assert 0 < len(page.data) <= 3
        seen.extend(t.id for t in page.data)
        cursor = page.next_cursor
        if not cursor:
            break
    assert cursor is None, "paging does not end"
    assert len(seen) == len(set(seen)) == len(mailbox.seed.threads())
    assert seen == [t.id for t in mailbox.list_threads()]


def _thread_between(before_key: Optional[str], after_key: Optional[str]):
    def build(mb):
        query = {}
        if before_key:
            query["latest_message_before"] = mb.seed[before_key].timestamp - 1800
        if after_key:
            query["latest_message_after"] = mb.seed[after_key].timestamp + 1800
        return query

    return build


def _thread_has(pred):
    """The thread holds a seeded message matching pred."""
    return lambda members: any(pred(m) for m in members)


# (test id, query builder, which threads (as lists of seed messages) must be listed)
THREAD_FILTERS = [
    ("subject", _static(subject="launch"), _thread_has(lambda m: m.thread == "B")),
    ("any_email", _static(any_email=["carol@corp.example"]), _thread_has(_involves("carol@corp.example"))),
    ("from", _static(**{"from": ["alice@corp.example"]}),
     _thread_has(lambda m: m.emails("from") == ["alice@corp.example"])),
    ("in-sent", _in("Sent"), _thread_has(lambda m: m.folder == "Sent")),
    ("in-non-ascii", _in(REUNIONS), _thread_has(lambda m: m.folder == REUNIONS)),
    ("unread", _static(unread=True), _thread_has(lambda m: m.unread)),
    ("read", _static(unread=False), lambda members: not any(m.unread for m in members)),
    ("starred", _static(starred=True), _thread_has(lambda m: m.starred)),
    ("not-starred", _static(starred=False), lambda members: not any(m.starred for m in members)),
    ("has_attachment", _static(has_attachment=True), _thread_has(lambda m: m.has_attachment)),
    # Thread A has messages on both sides of this instant: its latest one decides.
    ("latest_message_before", _thread_between("a3", None), lambda members: max(m.hours for m in members) < 48),
    ("latest_message_after", _thread_between(None, "d"), lambda members: max(m.hours for m in members) > 30),
    ("thread_id", lambda mb: {"thread_id": mb.message("b1").thread_id}, _thread_has(lambda m: m.thread == "B")),
    ("search_query_native", _static(search_query_native='TEXT "zanzibarquokka"'),
     _thread_has(lambda m: m.key == "h")),
]


@pytest.mark.parametrize("build, expected", [pytest.param(b, e, id=i) for i, b, e in THREAD_FILTERS])
def test_threads_list_filters(mailbox, build, expected):
    """Each thread filter of docs/API.md §5.4 lists exactly the conversations it describes."""
    groups = mailbox.seed.threads()
    want = {frozenset(keys) for keys in groups.values() if expected([mailbox.seed[k] for k in keys])}
    got = [mailbox.thread_keys(t) for t in mailbox.list_threads(**build(mailbox))]
    assert len(got) == len(set(got)), "a thread is listed twice"
    assert set(got) == want


def test_find_unknown_thread_is_a_404(mailbox):
    with pytest.raises(NylasApiError) as excinfo:
        mailbox.nylas.threads.find(mailbox.grant_id, "no-such-thread")
    assert excinfo.value.status_code == 404
    assert excinfo.value.type == "api.not_found_error"


# --------------------------------------------------------------------------- folders


def test_folders_list_has_counts_attributes_and_decoded_names(mailbox):
    """Every IMAP folder, with total/unread counts of the seed, SPECIAL-USE attributes and
    the non-ASCII name decoded from modified UTF-7."""
    response = mailbox.nylas.folders.list(mailbox.grant_id)
    assert response.request_id
    folders = folders_by_path(response.data)
    assert set(folders) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive", REUNIONS, PROJECTS, ALPHA}
    for path, folder in folders.items():
        members = [m for m in mailbox.seed.messages if m.folder == path]
        assert folder.grant_id == mailbox.grant_id
        assert folder.object == "folder"
        assert folder.total_count == len(members), path
        assert folder.unread_count == sum(m.unread for m in members), path
    assert folders[REUNIONS].name == "Réunions"
    for path, attribute in [("Sent", "\\Sent"), ("Drafts", "\\Drafts"), ("Trash", "\\Trash"),
                            ("Junk", "\\Junk"), ("Archive", "\\Archive")]:
        assert attribute in folders[path].attributes, (path, folders[path].attributes)
        assert folders[path].system_folder is True
    assert folders[REUNIONS].system_folder is False
    assert not any(a in ("\\Sent", "\\Drafts", "\\Trash") for a in folders[REUNIONS].attributes)


def test_folder_hierarchy(mailbox):
    """The child folder points at its parent; child_count counts immediate children."""
    projects, alpha = mailbox.folders[PROJECTS], mailbox.folders[ALPHA]
    assert alpha.name == "Alpha"
    assert alpha.parent_id == projects.id
    assert projects.parent_id is None
    assert projects.child_count == 1
    assert alpha.child_count == 0
    assert mailbox.folders["INBOX"].child_count == 0
    children = mailbox.nylas.folders.list(mailbox.grant_id, query_params={"parent_id": projects.id}).data
    assert [f.id for f in children] == [alpha.id]


def test_folder_find_matches_the_list(mailbox):
    for path in ("INBOX", "Sent", REUNIONS, ALPHA):
        listed = mailbox.folders[path]
        response = mailbox.nylas.folders.find(mailbox.grant_id, listed.id)
        assert isinstance(response, Response) and isinstance(response.data, Folder)
        assert response.data == listed, path
    raw = mailbox.raw(f"/folders/{mailbox.folder_id('Sent')}").json()["data"]
    assert FOLDER_KEYS <= set(raw), FOLDER_KEYS - set(raw)
    assert isinstance(raw["attributes"], list)


def test_find_unknown_folder_is_a_404(mailbox):
    with pytest.raises(NylasApiError) as excinfo:
        mailbox.nylas.folders.find(mailbox.grant_id, "no-such-folder")
    assert excinfo.value.status_code == 404
    assert excinfo.value.type == "api.not_found_error"


# --------------------------------------------------------------------------- attachments


def _attachment(mailbox, key: str) -> Attachment:
    attachments = mailbox.message(key).attachments
    assert len(attachments) == 1, key
    return attachments[0]


def _attachment_call(mailbox, method: str, attachment_id: str, key: str):
    """nylas.attachments.<method>(grant, attachment id, message_id=<seed key's message>)."""
    call = getattr(mailbox.nylas.attachments, method)
    return call(mailbox.grant_id, attachment_id, {"message_id": mailbox.ids[key]})


def test_attachment_find_returns_the_metadata(mailbox):
    listed = _attachment(mailbox, "c")
    response = _attachment_call(mailbox, "find", listed.id, "c")
    assert isinstance(response, Response) and isinstance(response.data, Attachment)
    assert response.data == listed
    assert response.data.filename == "invoice-2024-0042.pdf"
    assert response.data.size == len(PDF_BYTES)


@pytest.mark.parametrize("key, data", [("c", PDF_BYTES), ("d", PNG_BYTES)], ids=["pdf", "inline-png"])
def test_attachment_download_bytes_are_the_seeded_bytes(mailbox, key, data):
    attachment = _attachment(mailbox, key)
    assert _attachment_call(mailbox, "download_bytes", attachment.id, key) == data


def test_attachment_download_streams_with_its_content_type(mailbox):
    attachment = _attachment(mailbox, "c")
    response = _attachment_call(mailbox, "download", attachment.id, "c")
    try:
        assert response.status_code == 200
        assert response.headers["Content-Type"].split(";")[0].strip() == "application/pdf"
        assert "invoice-2024-0042.pdf" in response.headers.get("Content-Disposition", "")
        assert b"".join(response.iter_content(chunk_size=64)) == PDF_BYTES
    finally:
        response.close()


def test_attachment_unknown_id_or_wrong_message_is_a_404(mailbox):
    attachment = _attachment(mailbox, "c")
    for method in ("find", "download_bytes"):
        # An id that does not exist, and a real attachment asked of another message.
        for attachment_id, key in (("nope", "c"), (attachment.id, "a1")):
            with pytest.raises(NylasApiError) as excinfo:
                _attachment_call(mailbox, method, attachment_id, key)
            assert excinfo.value.status_code == 404, (method, attachment_id, key)
            assert excinfo.value.type == "api.not_found_error", (method, attachment_id, key)


# --------------------------------------------------------------------------- changes made elsewhere


def test_flags_set_by_another_imap_client_reach_the_filters(mailroom, testbed):
    """Another client marks a message \\Seen and \\Flagged; once mailroom catches up, the
    unread/starred filters, the message, its thread and the folder counts agree."""
    seed = mailbox_seed.small_inbox(testbed, FLAG_USER)
    app, grant_id = connect(mailroom, testbed, FLAG_USER, seed, "sdk-python-read-api-flags")
    nylas = app.client

    def ids(**query) -> set:
        return {m.id for m in nylas.messages.list(grant_id, query_params=query).data}

    by_subject = {m.subject: m.id for m in nylas.messages.list(grant_id).data}
    target, other = by_subject["Ping 1"], by_subject["Ping 2"]
    assert ids(unread=True) == {target, other}
    assert ids(starred=True) == set()

    mailbox_seed.set_flags(testbed, FLAG_USER, "INBOX", seed["p1"].message_id, "(\\Seen \\Flagged)")

    def probe():
        unread = ids(unread=True)
        return unread == {other}, {"unread": unread}

    wait_until("the \\Seen flag to reach mailroom", probe, CATCH_UP_DEADLINE)
    assert ids(unread=False) == {target}
    assert ids(starred=True) == {target}
    found = nylas.messages.find(grant_id, target).data
    assert (found.unread, found.starred) == (False, True)
    thread = nylas.threads.find(grant_id, found.thread_id).data
    assert (thread.unread, thread.starred) == (False, True)
    inbox = next(f for f in nylas.folders.list(grant_id).data if f.name == "INBOX")
    assert (inbox.total_count, inbox.unread_count) == (2, 1)
