"""Changing and sending mail through the official Nylas Python SDK (nylas==6.18.0), unchanged,
against a real mailroom and the testbed's Dovecot + Postfix (docs/API.md §5.1–5.5).

Every effect is checked twice: in what the SDK returns, and with a second IMAP client
(`imaplib`, STARTTLS with the testbed CA) that looks at the mailbox itself — flags, which
folder holds a message, the folder tree, and the exact attachment bytes of a delivered
message in the recipient's INBOX and of the copy filed in the sender's Sent.

Only testbed user 28 is used: it is wiped and seeded with a few Inbox messages and two
conversations, and every message sent goes to user 28 itself (or, for the Bcc case, also to
an address outside the testbed domain, which the testbed rewrites to its sink). Waits poll
with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import base64
import email
import hashlib
import imaplib
import io
import re
import time
import uuid
from pathlib import Path
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP, default as default_policy
from email.utils import format_datetime, make_msgid
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

import pytest
from conftest import wait_until
from nylas import Client
from nylas.models.drafts import Draft
from nylas.models.errors import NylasApiError
from nylas.models.folders import Folder
from nylas.models.messages import Message, ScheduledMessage, StopScheduledMessageResponse
from nylas.models.response import DeleteResponse, ListResponse, Response
from nylas.models.threads import Thread
import nylas.resources.messages as sdk_messages

import mailbox_seed
from mailbox_seed import SeedMessage, check, imap_login, mutf7_encode

USER = 28
SYNC_DEADLINE = 60.0
IMAP_DEADLINE = 20.0  # a change mailroom made on the server, seen by another IMAP client
DELIVERY_DEADLINE = 45.0  # submission -> Postfix -> LMTP -> Dovecot INBOX
API_DEADLINE = 45.0  # a change reaching mailroom's index (it watches the mailbox)

# The 256 byte values, then a deterministic pseudo-random tail: any re-encoding shows.
SMALL_ATTACHMENT = bytes(range(256)) * 8 + hashlib.sha256(b"mailroom-small").digest() * 40


def large_bytes(size: int, label: bytes) -> bytes:
    """`size` deterministic, incompressible bytes."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(label + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:size])


# --------------------------------------------------------------------------- waiting




# --------------------------------------------------------------------------- the second IMAP client


def mutf7_decode(name: str) -> str:
    """RFC 3501 §5.1.3 modified UTF-7 to str."""

    def repl(match):
        chunk = match.group(1)
        if chunk == "":
            return "&"
        b64 = chunk.replace(",", "/")
        b64 += "=" * (-len(b64) % 4)
        return base64.b64decode(b64).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", repl, name)


def quoted(mailbox: str) -> str:
    """An IMAP quoted string (imaplib sends mailbox names as given, spaces and all)."""
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


LIST_RE = re.compile(rb'^\((?P<flags>[^)]*)\) (?:"(?P<sep>[^"]*)"|NIL) (?P<name>.+)$')


@dataclass
class ImapMessage:
    folder: str
    uid: str
    flags: List[str]
    raw: bytes

    @property
    def parsed(self) -> EmailMessage:
        return email.message_from_bytes(self.raw, policy=default_policy)


class Mailbox:
    """A second IMAP client on testbed user 28; each call opens its own short session."""

    def __init__(self, testbed, n: int):
        self.testbed = testbed
        self.n = n

    def _session(self) -> imaplib.IMAP4:
        return imap_login(self.testbed, self.n)

    def folders(self) -> Dict[str, List[str]]:
        """Decoded mailbox name -> its LIST flags."""
        imap = self._session()
        try:
            out: Dict[str, List[str]] = {}
            for line in check(imap.list('""', "*"), "LIST"):
                if not isinstance(line, bytes):
                    continue
                match = LIST_RE.match(line)
                assert match, line
                name = match.group("name").decode()
                if name.startswith('"') and name.endswith('"'):
                    name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                out[mutf7_decode(name)] = match.group("flags").decode().split()
            return out
        finally:
            imap.logout()

    def special(self, flag: str) -> str:
        """The name of the mailbox with this SPECIAL-USE flag (e.g. \\Trash)."""
        names = [name for name, flags in self.folders().items() if flag in flags]
        assert len(names) == 1, (flag, names)
        return names[0]

    def find(self, folder: str, *criteria: str) -> List[ImapMessage]:
        """Messages in FOLDER matching the UID SEARCH criteria, with flags and raw bytes."""
        imap = self._session()
        try:
            typ, data = imap.select(quoted(mutf7_encode(folder)), readonly=True)
            if typ != "OK":
                return []  # the folder does not exist (any more)
            uids = check(imap.uid("SEARCH", *criteria), "SEARCH")[0].split()
            found = []
            for uid in uids:
                uid = uid.decode()
                parts = check(imap.uid("FETCH", uid, "(FLAGS BODY.PEEK[])"), "FETCH")
                raw, flags = b"", []
                for part in parts:
                    if isinstance(part, tuple):
                        raw = part[1]
                        match = re.search(rb"FLAGS \(([^)]*)\)", part[0])
                        if match:
                            flags = match.group(1).decode().split()
                    elif isinstance(part, bytes):
                        match = re.search(rb"FLAGS \(([^)]*)\)", part)
                        if match:
                            flags = match.group(1).decode().split()
                found.append(ImapMessage(folder, uid, flags, raw))
            return found
        finally:
            imap.logout()

    def by_message_id(self, folder: str, message_id: str) -> List[ImapMessage]:
        return self.find(folder, "HEADER", "Message-ID", f'"{message_id}"')

    def by_subject(self, folder: str, token: str) -> List[ImapMessage]:
        return self.find(folder, "SUBJECT", f'"{token}"')

    def where(self, message_id: str, folders: List[str]) -> Dict[str, int]:
        """How many copies of the message each of these folders holds."""
        return {f: len(self.by_message_id(f, message_id)) for f in folders}

    def wait_for(self, what: str, folder: str, token: str, count: int = 1,
                 timeout: float = DELIVERY_DEADLINE) -> List[ImapMessage]:
        """Polls FOLDER until exactly `count` messages have `token` in their subject."""

        def probe():
            found = self.by_subject(folder, token)
            return len(found) == count, [(m.uid, m.flags) for m in found]

        wait_until(what, probe, timeout)
        return self.by_subject(folder, token)


# --------------------------------------------------------------------------- the seed


def seed_messages(address: str) -> List[SeedMessage]:
    me = ("Ruth Twentyeight", address)
    pat = ("Pat Sender", "pat@corp.example")
    kim = ("Kim Other", "kim@corp.example")

    def one(key, subject, hours, flags=(), thread=None, replies_to=None, folder="INBOX", sender=pat, to=None):
        return SeedMessage(
            key=key, folder=folder, thread=thread or key, subject=subject, sender=sender,
            to=to or [me], hours=hours, flags=flags, replies_to=replies_to,
            text=f"Body of {subject}.\n",
        )

    t1a = one("t1a", "Thread to update", 10, thread="T1")
    t1b = one("t1b", "Re: Thread to update", 11, thread="T1", replies_to=t1a, sender=kim)
    t2a = one("t2a", "Thread to delete", 12, thread="T2", flags=("\\Seen",))
    t2b = one("t2b", "Re: Thread to delete", 13, thread="T2", replies_to=t2a, folder="Sent",
              sender=me, to=[pat], flags=("\\Seen",))
    return [
        one("flags", "Flag me", 1),
        one("move", "Move me", 2, flags=("\\Seen",)),
        one("meta", "Label me with metadata", 3, flags=("\\Seen",)),
        one("delete", "Delete me", 4),
        one("reply", "Please answer me", 5, flags=("\\Seen",)),
        t1a, t1b, t2a, t2b,
    ]


@dataclass
class Grant:
    nylas: Client
    mailroom: object
    api_key: str
    grant_id: str
    email: str
    imap: Mailbox
    seed: Dict[str, SeedMessage]
    ids: Dict[str, str]  # seed key -> message id
    folder_ids: Dict[str, str]  # IMAP name -> folder id

    def raw(self, method: str, path: str, **kwargs):
        return self.mailroom.raw(method, f"/v3/grants/{self.grant_id}{path}", self.api_key, **kwargs)

    def folders_by_name(self) -> Dict[str, Folder]:
        """Folders keyed by their full path, rebuilt from name and parent_id."""
        listed = self.nylas.folders.list(self.grant_id, query_params={"limit": 200}).data
        by_id = {f.id: f for f in listed}

        def path(f: Folder) -> str:
            parent = by_id.get(f.parent_id) if f.parent_id else None
            return f"{path(parent)}/{f.name}" if parent else f.name

        return {path(f): f for f in listed}

    def message(self, message_id: str) -> Message:
        return self.nylas.messages.find(self.grant_id, message_id).data

    def wait_api(self, what: str, probe, timeout: float = API_DEADLINE):
        return wait_until(what, probe, timeout)

    def find_by_header(self, message_id_header: str, folder_id: Optional[str] = None) -> List[Message]:
        """Messages whose Message-ID header is this one (optionally in one folder)."""
        query = {"limit": 200, "fields": "include_headers"}
        if folder_id:
            query["in"] = folder_id
        found = []
        for m in self.nylas.messages.list(self.grant_id, query_params=query).data:
            for h in m.headers or []:
                if h.name.lower() == "message-id" and h.value.strip() == message_id_header.strip():
                    found.append(m)
        return found


def _wait_for_sync(mailroom, api_key: str, grant_id: str, expected: int) -> None:
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

    wait_until(f"the initial sync of {expected} messages", probe, SYNC_DEADLINE)


@pytest.fixture(scope="module")
def grant(mailroom, testbed) -> Grant:
    """User 28 wiped and seeded, a grant on it synced, seed keys mapped to message ids."""
    mailbox_seed.wipe_user(USER)
    address = testbed.email(USER)
    messages = seed_messages(address)
    mailbox_seed.append_all(testbed, USER, messages)
    app = mailroom.create_app("sdk-python-mail-changes")
    app.client.connectors.create(request_body={"provider": "imap"})
    created = app.client.auth.custom_authentication(
        {"provider": "imap", "settings": testbed.imap_settings(USER)}
    ).data
    assert created.email == address
    _wait_for_sync(mailroom, app.api_key, created.id, len(messages))

    nylas = app.client
    by_header = {m.message_id: m.key for m in messages}
    ids: Dict[str, str] = {}
    listed = nylas.messages.list(created.id, query_params={"limit": 200, "fields": "include_headers"}).data
    for m in listed:
        mid = next((h.value.strip() for h in m.headers or [] if h.name.lower() == "message-id"), None)
        assert mid in by_header, (m.subject, mid)
        ids[by_header[mid]] = m.id
    assert set(ids) == {m.key for m in messages}
    g = Grant(nylas, mailroom, app.api_key, created.id, address, Mailbox(testbed, USER),
              {m.key: m for m in messages}, ids, {})
    g.folder_ids = {name: f.id for name, f in g.folders_by_name().items()}
    for name in ("INBOX", "Sent", "Drafts", "Trash", "Archive"):
        assert name in g.folder_ids, g.folder_ids
    return g


def token() -> str:
    return uuid.uuid4().hex[:12]


def attachment_parts(msg: EmailMessage) -> List[Tuple[str, str, bytes]]:
    """(filename, content type, decoded bytes) of each attachment part."""
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        if part.get_filename() is None:
            continue
        out.append((part.get_filename(), part.get_content_type(), part.get_payload(decode=True)))
    return out


# --------------------------------------------------------------------------- messages.update / destroy


def test_message_update_unread_and_starred_sets_imap_flags(grant):
    """PUT unread/starred: the SDK gets the Message back with the new state, and the
    message on the server carries (then loses) \\Seen and \\Flagged."""
    seeded = grant.seed["flags"]
    message_id = grant.ids["flags"]
    before = grant.message(message_id)
    assert (before.unread, before.starred) == (True, False)

    response = grant.nylas.messages.update(grant.grant_id, message_id, {"unread": False, "starred": True})
    assert isinstance(response, Response) and isinstance(response.data, Message)
    assert response.request_id
    updated = response.data
    assert updated.id == message_id and updated.grant_id == grant.grant_id
    assert (updated.unread, updated.starred) == (False, True)
    assert updated.folders == [grant.folder_ids["INBOX"]]

    def flags():
        found = grant.imap.by_message_id("INBOX", seeded.message_id)
        return found[0].flags if len(found) == 1 else None

    wait_until("\\Seen and \\Flagged on the server",
               lambda: ((f := flags()) is not None and {"\\Seen", "\\Flagged"} <= set(f), f), IMAP_DEADLINE)
    found = grant.message(message_id)
    assert (found.unread, found.starred) == (False, True)
    assert message_id in {m.id for m in grant.nylas.messages.list(
        grant.grant_id, query_params={"starred": True}).data}

    # Only one of the two changes; the other flag stays as it is.
    back = grant.nylas.messages.update(grant.grant_id, message_id, {"unread": True}).data
    assert (back.unread, back.starred) == (True, True)
    wait_until("\\Seen removed, \\Flagged kept",
               lambda: ((f := flags()) is not None and "\\Seen" not in f and "\\Flagged" in f, f), IMAP_DEADLINE)
    back = grant.nylas.messages.update(grant.grant_id, message_id, {"starred": False}).data
    assert (back.unread, back.starred) == (True, False)
    wait_until("both flags gone",
               lambda: ((f := flags()) is not None and not {"\\Seen", "\\Flagged"} & set(f), f), IMAP_DEADLINE)


def test_message_update_folders_moves_the_message(grant):
    """PUT folders=[Archive] moves the message on the server (gone from INBOX, one copy in
    Archive); the id stays the message's id; moving back works the same way."""
    seeded = grant.seed["move"]
    message_id = grant.ids["move"]
    inbox, archive = grant.folder_ids["INBOX"], grant.folder_ids["Archive"]

    moved = grant.nylas.messages.update(grant.grant_id, message_id, {"folders": [archive]}).data
    assert moved.id == message_id
    assert moved.folders == [archive]
    assert moved.subject == seeded.subject
    wait_until("the message to be only in Archive",
               lambda: ((w := grant.imap.where(seeded.message_id, ["INBOX", "Archive"])) == {"INBOX": 0, "Archive": 1}, w),
               IMAP_DEADLINE)
    # The flag it had (\Seen) travelled with it.
    assert "\\Seen" in grant.imap.by_message_id("Archive", seeded.message_id)[0].flags
    assert grant.message(message_id).folders == [archive]
    assert message_id in {m.id for m in grant.nylas.messages.list(
        grant.grant_id, query_params={"in": archive}).data}
    assert message_id not in {m.id for m in grant.nylas.messages.list(
        grant.grant_id, query_params={"in": inbox}).data}

    back = grant.nylas.messages.update(grant.grant_id, message_id, {"folders": [inbox]}).data
    assert back.id == message_id and back.folders == [inbox]
    wait_until("the message to be back in INBOX only",
               lambda: ((w := grant.imap.where(seeded.message_id, ["INBOX", "Archive"])) == {"INBOX": 1, "Archive": 0}, w),
               IMAP_DEADLINE)
    assert grant.message(message_id).folders == [inbox]


def test_message_update_to_an_unknown_folder_is_refused(grant):
    seeded = grant.seed["move"]
    with pytest.raises(NylasApiError) as refused:
        grant.nylas.messages.update(grant.grant_id, grant.ids["move"], {"folders": ["no-such-folder"]})
    assert refused.value.status_code in (400, 404), refused.value
    assert grant.imap.where(seeded.message_id, ["INBOX"]) == {"INBOX": 1}


def test_message_update_metadata_is_kept_and_filterable(grant):
    """PUT metadata: returned, kept on the message, and found by metadata_pair."""
    message_id = grant.ids["meta"]
    metadata = {"project": "apollo", "stage": "review"}
    updated = grant.nylas.messages.update(grant.grant_id, message_id, {"metadata": metadata}).data
    assert updated.metadata == metadata
    assert grant.message(message_id).metadata == metadata
    # Near misses on another message: a longer key, a longer value, the pair as text.
    decoy = {"subproject": "apollo", "project": "apollo-2", "note": '"project":"apollo"'}
    assert grant.nylas.messages.update(grant.grant_id, grant.ids["move"], {"metadata": decoy}).data.metadata == decoy
    listed = grant.nylas.messages.list(grant.grant_id, query_params={"metadata_pair": {"project": "apollo"}}).data
    assert [m.id for m in listed] == [message_id]
    assert [m.id for m in grant.nylas.messages.list(
        grant.grant_id, query_params={"metadata_pair": {"project": "apollo-2"}}).data] == [grant.ids["move"]]
    none = grant.nylas.messages.list(grant.grant_id, query_params={"metadata_pair": {"project": "gemini"}}).data
    assert none == []
    # The flags were not touched by a metadata-only update.
    assert (updated.unread, updated.starred) == (False, False)

    replaced = grant.nylas.messages.update(grant.grant_id, message_id, {"metadata": {"stage": "done"}}).data
    assert replaced.metadata == {"stage": "done"}
    assert grant.message(message_id).metadata == {"stage": "done"}


def test_message_destroy_moves_to_trash_then_expunges(grant):
    """DELETE: first to Trash (the server's \\Trash mailbox), then, from Trash, for good."""
    seeded = grant.seed["delete"]
    message_id = grant.ids["delete"]
    trash_name = grant.imap.special("\\Trash")
    trash = grant.folder_ids[trash_name]

    response = grant.nylas.messages.destroy(grant.grant_id, message_id)
    assert isinstance(response, DeleteResponse) and response.request_id
    wait_until("the message to move to Trash",
               lambda: ((w := grant.imap.where(seeded.message_id, ["INBOX", trash_name])) == {"INBOX": 0, trash_name: 1}, w),
               IMAP_DEADLINE)

    def in_trash():
        listed = grant.nylas.messages.list(grant.grant_id, query_params={"in": trash}).data
        ids = [m.id for m in listed if m.subject == seeded.subject]
        return len(ids) == 1, ids

    (trashed_id,) = wait_until("mailroom to list the message in Trash", in_trash, API_DEADLINE)
    assert grant.message(trashed_id).folders == [trash]

    grant.nylas.messages.destroy(grant.grant_id, trashed_id)
    wait_until("the message to be expunged from Trash",
               lambda: ((w := grant.imap.where(seeded.message_id, ["INBOX", trash_name])) == {"INBOX": 0, trash_name: 0}, w),
               IMAP_DEADLINE)

    def gone():
        try:
            grant.message(trashed_id)
        except NylasApiError as e:
            return e.status_code == 404, e.status_code
        return False, "still found"

    wait_until("the expunged message to answer 404", gone, API_DEADLINE)


def test_message_destroy_unknown_id_is_a_404(grant):
    with pytest.raises(NylasApiError) as missing:
        grant.nylas.messages.destroy(grant.grant_id, "no-such-message")
    assert missing.value.status_code == 404
    assert missing.value.type == "api.not_found_error"


# --------------------------------------------------------------------------- threads.update / destroy


def test_thread_update_changes_every_message(grant):
    """PUT on a thread: flags and the move apply to both of its messages."""
    first, second = grant.seed["t1a"], grant.seed["t1b"]
    thread_id = grant.message(grant.ids["t1a"]).thread_id
    assert thread_id and grant.message(grant.ids["t1b"]).thread_id == thread_id

    response = grant.nylas.threads.update(grant.grant_id, thread_id, {"unread": False, "starred": True})
    assert isinstance(response, Response) and isinstance(response.data, Thread)
    thread = response.data
    assert thread.id == thread_id and thread.grant_id == grant.grant_id
    assert (thread.unread, thread.starred) == (False, True)
    assert sorted(thread.message_ids) == sorted([grant.ids["t1a"], grant.ids["t1b"]])

    def both_flags():
        found = [grant.imap.by_message_id("INBOX", m.message_id) for m in (first, second)]
        flags = [f[0].flags if len(f) == 1 else None for f in found]
        return all(f is not None and {"\\Seen", "\\Flagged"} <= set(f) for f in flags), flags

    wait_until("\\Seen \\Flagged on both messages of the thread", both_flags, IMAP_DEADLINE)
    for key in ("t1a", "t1b"):
        m = grant.message(grant.ids[key])
        assert (m.unread, m.starred) == (False, True), key

    archive = grant.folder_ids["Archive"]
    moved = grant.nylas.threads.update(grant.grant_id, thread_id, {"folders": [archive]}).data
    assert moved.folders == [archive]
    for m in (first, second):
        wait_until(f"{m.key} to be in Archive only",
                   lambda m=m: ((w := grant.imap.where(m.message_id, ["INBOX", "Archive"])) == {"INBOX": 0, "Archive": 1}, w),
                   IMAP_DEADLINE)
    found = grant.nylas.threads.find(grant.grant_id, thread_id).data
    assert found.folders == [archive]
    assert (found.unread, found.starred) == (False, True)


def test_thread_destroy_moves_every_message_to_trash(grant):
    """DELETE on a thread that spans INBOX and Sent: both messages end up in Trash."""
    first, second = grant.seed["t2a"], grant.seed["t2b"]
    thread_id = grant.message(grant.ids["t2a"]).thread_id
    assert grant.message(grant.ids["t2b"]).thread_id == thread_id
    trash_name = grant.imap.special("\\Trash")

    response = grant.nylas.threads.destroy(grant.grant_id, thread_id)
    assert isinstance(response, DeleteResponse) and response.request_id
    for m in (first, second):
        wait_until(f"{m.key} to be in Trash only",
                   lambda m=m: ((w := grant.imap.where(m.message_id, [m.folder, trash_name])) == {m.folder: 0, trash_name: 1}, w),
                   IMAP_DEADLINE)

    def thread_in_trash():
        try:
            t = grant.nylas.threads.find(grant.grant_id, thread_id).data
        except NylasApiError as e:
            return False, f"{e.status_code} {e}"
        return t.folders == [grant.folder_ids[trash_name]], t.folders

    wait_until("the thread to be in Trash", thread_in_trash, API_DEADLINE)


# --------------------------------------------------------------------------- folders


def test_folder_create_with_parent_rename_move_and_destroy(grant):
    """POST (top level, non-ASCII name, child with parent_id), PUT (rename, move under
    another parent, back to the top), DELETE — each checked in the server's LIST."""
    tag = token()[:6]
    top_name = f"Clients {tag}"
    created = grant.nylas.folders.create(grant.grant_id, {"name": top_name})
    assert isinstance(created, Response) and isinstance(created.data, Folder)
    top = created.data
    assert top.id and top.grant_id == grant.grant_id and top.name == top_name
    assert top.parent_id is None
    assert top_name in grant.imap.folders()

    child = grant.nylas.folders.create(grant.grant_id, {"name": "Acme Café", "parent_id": top.id}).data
    assert child.name == "Acme Café"
    assert child.parent_id == top.id
    assert child.id != top.id
    assert f"{top_name}/Acme Café" in grant.imap.folders()
    parent_now = grant.nylas.folders.find(grant.grant_id, top.id).data
    assert parent_now.child_count == 1
    children = grant.nylas.folders.list(grant.grant_id, query_params={"parent_id": top.id}).data
    assert [f.id for f in children] == [child.id]

    # Rename: same id, new name on the server.
    renamed = grant.nylas.folders.update(grant.grant_id, child.id, {"name": "Acme Corp"}).data
    assert renamed.id == child.id and renamed.name == "Acme Corp" and renamed.parent_id == top.id
    names = grant.imap.folders()
    assert f"{top_name}/Acme Corp" in names and f"{top_name}/Acme Café" not in names

    # Move under another parent.
    other = grant.nylas.folders.create(grant.grant_id, {"name": f"Vendors {tag}"}).data
    moved = grant.nylas.folders.update(grant.grant_id, child.id, {"parent_id": other.id}).data
    assert moved.id == child.id and moved.parent_id == other.id and moved.name == "Acme Corp"
    names = grant.imap.folders()
    assert f"Vendors {tag}/Acme Corp" in names and f"{top_name}/Acme Corp" not in names

    # Back to the top level (parent_id null).
    topped = grant.nylas.folders.update(grant.grant_id, child.id, {"parent_id": None}).data
    assert topped.parent_id is None and topped.name == "Acme Corp"
    assert "Acme Corp" in grant.imap.folders()
    assert grant.nylas.folders.find(grant.grant_id, child.id).data.name == "Acme Corp"

    # Delete all three.
    for folder, path in ((child, "Acme Corp"), (other, f"Vendors {tag}"), (top, top_name)):
        response = grant.nylas.folders.destroy(grant.grant_id, folder.id)
        assert isinstance(response, DeleteResponse) and response.request_id
        assert path not in grant.imap.folders()
        with pytest.raises(NylasApiError) as gone:
            grant.nylas.folders.find(grant.grant_id, folder.id)
        assert gone.value.status_code == 404
    listed = grant.folders_by_name()
    assert not {"Acme Corp", f"Vendors {tag}", top_name} & set(listed)


def test_folder_destroy_takes_its_messages(grant):
    """docs/API.md §5.5: deleting a folder deletes it with its messages."""
    folder = grant.nylas.folders.create(grant.grant_id, {"name": f"Doomed {token()[:6]}"}).data
    # A fresh message, sent to ourselves, then moved into the folder through the API.
    subject = f"Doomed message {token()}"
    grant.nylas.messages.send(grant.grant_id, {"to": [{"email": grant.email}], "subject": subject,
                                               "body": "to be deleted with its folder"})
    delivered = grant.imap.wait_for("delivery of the message", "INBOX", subject)
    message_id_header = delivered[0].parsed["Message-ID"]

    def inbox_copy():
        found = grant.find_by_header(message_id_header, grant.folder_ids["INBOX"])
        return len(found) == 1, [m.id for m in found]

    (inbox_id,) = wait_until("mailroom to index the delivered message", inbox_copy, API_DEADLINE)
    grant.nylas.messages.update(grant.grant_id, inbox_id, {"folders": [folder.id]})
    wait_until("the message to be in the new folder",
               lambda: ((n := len(grant.imap.by_message_id(folder.name, message_id_header))) == 1, n), IMAP_DEADLINE)

    grant.nylas.folders.destroy(grant.grant_id, folder.id)
    assert folder.name not in grant.imap.folders()
    assert grant.imap.by_message_id("INBOX", message_id_header) == []


@pytest.mark.parametrize("name", ["INBOX", "Sent", "Drafts", "Trash", "Archive"])
def test_special_folders_cannot_be_deleted_or_renamed(grant, name):
    folder_id = grant.folder_ids[name]
    with pytest.raises(NylasApiError) as refused:
        grant.nylas.folders.destroy(grant.grant_id, folder_id)
    assert refused.value.status_code == 400, refused.value
    assert refused.value.type in ("api.invalid_request_error", "api.invalid_request_payload")
    with pytest.raises(NylasApiError) as refused:
        grant.nylas.folders.update(grant.grant_id, folder_id, {"name": f"{name} renamed"})
    assert refused.value.status_code == 400, refused.value
    names = grant.imap.folders()
    assert name in names and f"{name} renamed" not in names
    assert grant.nylas.folders.find(grant.grant_id, folder_id).data.name == name


def test_folder_create_needs_a_name_and_a_known_parent(grant):
    with pytest.raises(NylasApiError) as refused:
        grant.nylas.folders.create(grant.grant_id, {"name": ""})
    assert refused.value.status_code == 400
    with pytest.raises(NylasApiError) as refused:
        grant.nylas.folders.create(grant.grant_id, {"name": "Orphan", "parent_id": "no-such-folder"})
    assert refused.value.status_code in (400, 404)
    assert "Orphan" not in grant.imap.folders()


# --------------------------------------------------------------------------- drafts


def test_draft_create_list_find_update_destroy(grant):
    """A draft is a message in the Drafts mailbox, flagged \\Draft; an update replaces it
    there (one copy, same id); a delete removes it."""
    tag = token()
    drafts_name = grant.imap.special("\\Drafts")
    created = grant.nylas.drafts.create(grant.grant_id, {
        "subject": f"Draft v1 {tag}",
        "body": "<p>First version</p>",
        "to": [{"email": grant.email, "name": "Ruth"}],
        "cc": [{"email": "someone@elsewhere.example"}],
        "attachments": [{"filename": "notes.bin", "content_type": "application/octet-stream",
                         "content": io.BytesIO(SMALL_ATTACHMENT), "size": len(SMALL_ATTACHMENT)}],
    })
    assert isinstance(created, Response) and isinstance(created.data, Draft)
    draft = created.data
    assert draft.object == "draft" and draft.grant_id == grant.grant_id and draft.id
    assert draft.subject == f"Draft v1 {tag}"
    assert [p["email"] for p in draft.to] == [grant.email]

    (stored,) = grant.imap.wait_for("the draft in the Drafts mailbox", drafts_name, tag, timeout=IMAP_DEADLINE)
    assert "\\Draft" in stored.flags
    assert stored.parsed["Subject"] == f"Draft v1 {tag}"
    assert attachment_parts(stored.parsed) == [("notes.bin", "application/octet-stream", SMALL_ATTACHMENT)]
    # A draft never reaches anyone.
    assert grant.imap.by_subject("INBOX", tag) == []

    listed = grant.nylas.drafts.list(grant.grant_id)
    assert isinstance(listed, ListResponse)
    mine = [d for d in listed.data if d.id == draft.id]
    assert len(mine) == 1 and mine[0].object == "draft" and mine[0].subject == f"Draft v1 {tag}"
    found = grant.nylas.drafts.find(grant.grant_id, draft.id).data
    assert isinstance(found, Draft) and found.id == draft.id and found.grant_id == grant.grant_id
    assert found.subject == f"Draft v1 {tag}" and "First version" in found.body
    assert [(a.filename, a.size) for a in found.attachments] == [("notes.bin", len(SMALL_ATTACHMENT))]

    updated = grant.nylas.drafts.update(grant.grant_id, draft.id, {
        "subject": f"Draft v2 {tag}",
        "body": "<p>Second version</p>",
        "to": [{"email": grant.email}],
    }).data
    assert isinstance(updated, Draft)
    assert updated.id == draft.id  # drafts.rs: a draft keeps its Message-ID, and so its id
    assert updated.subject == f"Draft v2 {tag}"
    (stored,) = grant.imap.wait_for("one, updated draft in Drafts", drafts_name, tag, timeout=IMAP_DEADLINE)
    assert stored.parsed["Subject"] == f"Draft v2 {tag}"
    assert "Second version" in stored.parsed.get_body(("html", "plain")).get_content()
    found = grant.nylas.drafts.find(grant.grant_id, draft.id).data
    assert found.subject == f"Draft v2 {tag}" and "Second version" in found.body
    listed = [d for d in grant.nylas.drafts.list(grant.grant_id).data if tag in (d.subject or "")]
    assert [d.id for d in listed] == [draft.id]

    deleted = grant.nylas.drafts.destroy(grant.grant_id, draft.id)
    assert isinstance(deleted, DeleteResponse) and deleted.request_id
    grant.imap.wait_for("the draft to leave Drafts", drafts_name, tag, count=0, timeout=IMAP_DEADLINE)
    with pytest.raises(NylasApiError) as gone:
        grant.nylas.drafts.find(grant.grant_id, draft.id)
    assert gone.value.status_code == 404
    assert all(d.id != draft.id for d in grant.nylas.drafts.list(grant.grant_id).data)


def test_draft_send_delivers_it_and_files_it_in_sent(grant):
    """POST /drafts/{id} (Python sends no body): the recipient gets the draft with its
    Message-ID; the sent copy is in Sent; the draft has left Drafts."""
    tag = token()
    drafts_name, sent_name = grant.imap.special("\\Drafts"), grant.imap.special("\\Sent")
    draft = grant.nylas.drafts.create(grant.grant_id, {
        "subject": f"Draft to send {tag}",
        "body": "Sent from a draft.",
        "to": [{"email": grant.email}],
    }).data
    (stored,) = grant.imap.wait_for("the draft in Drafts", drafts_name, tag, timeout=IMAP_DEADLINE)
    draft_message_id = stored.parsed["Message-ID"]

    response = grant.nylas.drafts.send(grant.grant_id, draft.id)
    assert isinstance(response, Response) and isinstance(response.data, Message)
    sent = response.data
    assert sent.object == "message" and sent.grant_id == grant.grant_id
    assert sent.subject == f"Draft to send {tag}"

    (delivered,) = grant.imap.wait_for("the draft's delivery", "INBOX", tag)
    assert delivered.parsed["Message-ID"] == draft_message_id
    assert "Sent from a draft." in delivered.parsed.get_body(("plain", "html")).get_content()
    assert "\\Draft" not in delivered.flags
    (filed,) = grant.imap.wait_for("the sent copy in Sent", sent_name, tag, timeout=IMAP_DEADLINE)
    assert filed.parsed["Message-ID"] == draft_message_id
    assert "\\Draft" not in filed.flags
    grant.imap.wait_for("the draft to leave Drafts", drafts_name, tag, count=0, timeout=IMAP_DEADLINE)

    def draft_gone():
        ids = [d.id for d in grant.nylas.drafts.list(grant.grant_id).data]
        return draft.id not in ids, ids

    wait_until("drafts.list to drop the sent draft", draft_gone, API_DEADLINE)


# --------------------------------------------------------------------------- messages.send


def _check_sent_and_delivered(grant, tag: str, filename: str, content_type: str, data: bytes):
    """The delivered copy in INBOX and the copy in Sent hold exactly these attachment bytes,
    under one Message-ID. Returns the delivered message."""
    sent_name = grant.imap.special("\\Sent")
    (delivered,) = grant.imap.wait_for(f"delivery of {tag}", "INBOX", tag)
    (filed,) = grant.imap.wait_for(f"the Sent copy of {tag}", sent_name, tag, timeout=IMAP_DEADLINE)
    for copy in (delivered, filed):
        parts = attachment_parts(copy.parsed)
        assert [(f, t) for f, t, _ in parts] == [(filename, content_type)], copy.folder
        got = parts[0][2]
        assert len(got) == len(data), (copy.folder, len(got), len(data))
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), copy.folder
    assert delivered.parsed["Message-ID"] and delivered.parsed["Message-ID"] == filed.parsed["Message-ID"]
    assert "\\Seen" in filed.flags  # one's own sent mail is not unread
    return delivered


def test_send_json_with_a_small_attachment(grant, monkeypatch):
    """Under 3 MiB the SDK sends JSON with base64 content; the bytes arrive unchanged."""
    used_form = []
    real = sdk_messages._build_form_request
    monkeypatch.setattr(sdk_messages, "_build_form_request", lambda body: used_form.append(1) or real(body))
    tag = token()
    response = grant.nylas.messages.send(grant.grant_id, {
        "to": [{"email": grant.email, "name": "Ruth Twentyeight"}],
        "subject": f"JSON send {tag}",
        "body": "<p>Hello with a <b>small</b> attachment.</p>",
        "attachments": [{"filename": "table.bin", "content_type": "application/octet-stream",
                         "content": io.BytesIO(SMALL_ATTACHMENT), "size": len(SMALL_ATTACHMENT)}],
    })
    assert used_form == [], "the SDK should have sent JSON"
    assert isinstance(response, Response) and isinstance(response.data, Message)
    sent = response.data
    assert response.request_id
    assert sent.object == "message" and sent.grant_id == grant.grant_id
    assert sent.subject == f"JSON send {tag}"
    assert [p["email"] for p in sent.to] == [grant.email]
    assert [p["email"] for p in sent.from_] == [grant.email]

    delivered = _check_sent_and_delivered(grant, tag, "table.bin", "application/octet-stream", SMALL_ATTACHMENT)
    assert delivered.parsed["From"].addresses[0].addr_spec == grant.email
    assert "<b>small</b>" in delivered.parsed.get_body(("html",)).get_content()

    # The message the SDK got back is the one filed in Sent (docs/API.md §5.2: data is the
    # Message). Sent to oneself, the INBOX copy has the same Message-ID, and mailroom
    # indexes the two copies as one message in two folders.
    sent_folder = grant.folder_ids[grant.imap.special("\\Sent")]

    def indexed():
        try:
            m = grant.message(sent.id)
        except NylasApiError as e:
            return False, f"{e.status_code} {e}"
        return sent_folder in m.folders, m.folders

    wait_until("the returned message id to be the Sent copy", indexed, API_DEADLINE)

    # mailroom indexes the delivered copy; its attachment downloads as the same bytes.
    def inbox_copy():
        found = grant.find_by_header(delivered.parsed["Message-ID"], grant.folder_ids["INBOX"])
        return len(found) == 1, [m.id for m in found]

    (inbox_id,) = wait_until("mailroom to index the delivered message", inbox_copy, API_DEADLINE)
    (att,) = grant.message(inbox_id).attachments
    assert att.filename == "table.bin" and att.size == len(SMALL_ATTACHMENT)
    assert grant.nylas.attachments.download_bytes(grant.grant_id, att.id, {"message_id": inbox_id}) == SMALL_ATTACHMENT


def test_send_large_attachment_goes_multipart(grant, monkeypatch):
    """At 3 MiB and above the SDK switches to multipart/form-data (a `message` JSON part and
    a `file0` part); the 3.5 MB attachment arrives byte for byte."""
    used_form = []
    real = sdk_messages._build_form_request
    monkeypatch.setattr(sdk_messages, "_build_form_request", lambda body: used_form.append(1) or real(body))
    data = large_bytes(3_500_000, b"python-large")
    tag = token()
    response = grant.nylas.messages.send(grant.grant_id, {
        "to": [{"email": grant.email}],
        "subject": f"Multipart send {tag}",
        "body": "A large attachment.",
        "attachments": [{"filename": "archive.dat", "content_type": "application/octet-stream",
                         "content": io.BytesIO(data), "size": len(data)}],
    })
    assert used_form == [1], "the SDK should have sent multipart/form-data"
    sent = response.data
    assert isinstance(sent, Message) and sent.grant_id == grant.grant_id
    assert sent.subject == f"Multipart send {tag}"
    _check_sent_and_delivered(grant, tag, "archive.dat", "application/octet-stream", data)


def test_send_bcc_is_delivered_but_not_disclosed(grant):
    """A Bcc recipient gets the message, the delivered copy names no Bcc, the Sent copy
    keeps it; `from_` with a display name becomes the From header."""
    tag = token()
    grant.nylas.messages.send(grant.grant_id, {
        "from_": [{"email": grant.email, "name": "Ruth Sender"}],  # the SDK sends it as "from"
        "to": [{"email": "partner@elsewhere.example"}],  # rewritten to the testbed's sink
        "bcc": [{"email": grant.email}],
        "subject": f"Bcc send {tag}",
        "body": "You are in Bcc.",
    })
    (delivered,) = grant.imap.wait_for("delivery to the Bcc recipient", "INBOX", tag)
    assert delivered.parsed["Bcc"] is None, delivered.parsed["Bcc"]
    headers = delivered.raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    assert not re.search(r"(?im)^bcc:", headers), headers
    assert delivered.parsed["To"].addresses[0].addr_spec == "partner@elsewhere.example"
    sender = delivered.parsed["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Ruth Sender", grant.email)
    # The sender's own copy in Sent keeps the Bcc (README: left out only of what is submitted).
    (filed,) = grant.imap.wait_for("the Sent copy", grant.imap.special("\\Sent"), tag, timeout=IMAP_DEADLINE)
    assert [a.addr_spec for a in filed.parsed["Bcc"].addresses] == [grant.email]
    assert filed.parsed["Message-ID"] == delivered.parsed["Message-ID"]


def test_send_reply_threads_and_carries_custom_headers(grant):
    """reply_to_message_id (the API id): In-Reply-To and References name the original, the
    original is marked \\Answered, and mailroom files the reply in the original's thread.
    custom_headers reach the delivered message."""
    original = grant.seed["reply"]
    original_id = grant.ids["reply"]
    tag = token()
    response = grant.nylas.messages.send(grant.grant_id, {
        "to": [{"email": grant.email}],
        "subject": f"Re: Please answer me {tag}",
        "body": "Here is my answer.",
        "reply_to_message_id": original_id,
        "custom_headers": [{"name": "X-Campaign", "value": f"spring-{tag}"}],
    })
    assert response.data.grant_id == grant.grant_id
    (delivered,) = grant.imap.wait_for("delivery of the reply", "INBOX", tag)
    parsed = delivered.parsed
    assert parsed["In-Reply-To"] == original.message_id
    assert original.message_id in (parsed["References"] or "").split()
    assert parsed["X-Campaign"] == f"spring-{tag}"
    wait_until("\\Answered on the original",
               lambda: ((f := grant.imap.by_message_id("INBOX", original.message_id)[0].flags) and "\\Answered" in f, f),
               IMAP_DEADLINE)

    thread_id = grant.message(original_id).thread_id

    def threaded():
        found = grant.find_by_header(parsed["Message-ID"])
        return len(found) == 1 and found[0].thread_id == thread_id, [(m.id, m.thread_id) for m in found]

    wait_until("the reply to join the original's thread", threaded, API_DEADLINE)
    thread = grant.nylas.threads.find(grant.grant_id, thread_id).data
    assert original_id in thread.message_ids and len(thread.message_ids) == 2


def test_send_raw_mime_sends_the_bytes_unchanged(grant):
    """send_raw_mime (`?type=mime`, a `mime` part): the message arrives byte for byte
    (Postfix and Dovecot only prepend trace headers), with headers the JSON form lacks."""
    tag = token()
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"Ruth Twentyeight <{grant.email}>"
    msg["To"] = grant.email
    msg["Subject"] = f"Raw MIME send {tag}"
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain="example.test")
    msg["X-Priority"] = "1"
    msg["Importance"] = "high"
    msg.set_content("Raw MIME body.\n")
    msg.add_attachment(SMALL_ATTACHMENT, maintype="application", subtype="octet-stream", filename="raw.bin")
    raw = msg.as_bytes()

    response = grant.nylas.messages.send_raw_mime(grant.grant_id, {"mime": raw})
    assert isinstance(response, Response) and isinstance(response.data, Message)
    assert response.data.grant_id == grant.grant_id

    (delivered,) = grant.imap.wait_for("delivery of the raw message", "INBOX", tag)
    assert delivered.raw.endswith(raw), "the delivered message is not the sent bytes plus trace headers"
    assert delivered.parsed["X-Priority"] == "1" and delivered.parsed["Importance"] == "high"
    (filed,) = grant.imap.wait_for("the Sent copy of the raw message", grant.imap.special("\\Sent"), tag,
                                   timeout=IMAP_DEADLINE)
    assert filed.parsed["Message-ID"] == msg["Message-ID"]
    assert attachment_parts(filed.parsed) == [("raw.bin", "application/octet-stream", SMALL_ATTACHMENT)]


def test_send_without_recipients_is_refused(grant):
    with pytest.raises(NylasApiError) as refused:
        grant.nylas.messages.send(grant.grant_id, {"subject": "nobody", "body": "no recipients", "to": []})
    assert refused.value.status_code == 400
    assert refused.value.type in ("api.invalid_request_error", "api.invalid_request_payload")


# --------------------------------------------------------------------------- scheduled sends


def test_scheduled_send_waits_for_send_at_and_can_be_stopped(grant):
    """send_at a few seconds ahead: answered at once with a schedule_id, listed as pending,
    delivered only once send_at has passed, then `sent`. A second one, due earlier, is
    stopped: it is `cancelled` and never delivered."""
    keep, stop = token(), token()
    send_at_stop = int(time.time()) + 15
    send_at_keep = send_at_stop + 5

    def schedule(tag, send_at):
        response = grant.nylas.messages.send(grant.grant_id, {
            "to": [{"email": grant.email}], "subject": f"Scheduled {tag}",
            "body": "Sent later.", "send_at": send_at,
        })
        assert time.time() < send_at, "a scheduled send is answered before it is due"
        message = response.data
        assert isinstance(message, Message) and message.grant_id == grant.grant_id
        assert message.schedule_id, message
        assert message.send_at == send_at
        return message.schedule_id

    stop_id = schedule(stop, send_at_stop)
    keep_id = schedule(keep, send_at_keep)
    assert stop_id != keep_id

    listed = grant.nylas.messages.list_scheduled_messages(grant.grant_id)
    assert listed.request_id
    assert all(isinstance(s, ScheduledMessage) for s in listed.data)
    by_id = {s.schedule_id: s for s in listed.data}
    assert {stop_id, keep_id} <= set(by_id), list(by_id)
    for schedule_id in (stop_id, keep_id):
        assert by_id[schedule_id].status.code == "pending"
        assert by_id[schedule_id].status.description

    found = grant.nylas.messages.find_scheduled_message(grant.grant_id, keep_id)
    assert isinstance(found.data, ScheduledMessage)
    assert found.data.schedule_id == keep_id and found.data.status.code == "pending"

    stopped = grant.nylas.messages.stop_scheduled_message(grant.grant_id, stop_id)
    assert isinstance(stopped.data, StopScheduledMessageResponse) and stopped.data.message
    assert grant.nylas.messages.find_scheduled_message(grant.grant_id, stop_id).data.status.code == "cancelled"
    with pytest.raises(NylasApiError) as again:
        grant.nylas.messages.stop_scheduled_message(grant.grant_id, stop_id)
    assert again.value.status_code == 400

    # Not sent early.
    assert time.time() < send_at_keep - 1, "the test took too long to check 'not yet sent'"
    assert grant.imap.by_subject("INBOX", keep) == []

    (delivered,) = grant.imap.wait_for("the scheduled delivery", "INBOX", keep, timeout=send_at_keep - time.time() + DELIVERY_DEADLINE)
    assert time.time() >= send_at_keep - 1, "delivered before its send_at"
    assert delivered.parsed["Subject"] == f"Scheduled {keep}"
    # The stopped one was due earlier: had it been sent it would be here by now.
    assert grant.imap.by_subject("INBOX", stop) == []

    def sent_status():
        s = grant.nylas.messages.find_scheduled_message(grant.grant_id, keep_id).data
        return s.status.code == "sent", (s.status.code, s.status.description)

    wait_until("the schedule to read 'sent'", sent_status, API_DEADLINE)
    final = grant.nylas.messages.find_scheduled_message(grant.grant_id, keep_id).data
    assert final.close_time and final.close_time >= send_at_keep - 1

    with pytest.raises(NylasApiError) as missing:
        grant.nylas.messages.find_scheduled_message(grant.grant_id, "no-such-schedule")
    assert missing.value.status_code == 404


# --------------------------------------------------------------------------- reliable sends


def greylisted(grant, tag: str) -> str:
    """An address of user 28 that the testbed's submission port refuses with a 451 the
    first time a sender uses it (testbed/README.md, "Greylisting")."""
    local, domain = grant.email.split("@")
    return f"{local}+greylist-{tag}@{domain}"


def postfix_log(testbed) -> str:
    return (Path(testbed.env["TESTBED_DIR"]) / "log" / "postfix.log").read_text(errors="replace")


def test_a_scheduled_send_refused_for_now_is_tried_again_and_delivered_once(grant, testbed):
    """A 451 on the first try (greylisting) leaves the scheduled send pending; it is tried
    again (the suite's server waits 1 s before the second try) and delivered exactly once."""
    tag = token()
    recipient = greylisted(grant, tag)
    send_at = int(time.time()) + 7
    scheduled = grant.nylas.messages.send(grant.grant_id, {
        "to": [{"email": recipient}], "subject": f"Greylisted {tag}",
        "body": "Refused once, then sent.", "send_at": send_at,
    }).data
    assert scheduled.schedule_id

    grant.imap.wait_for("the greylisted send, tried again", "INBOX", tag,
                        timeout=send_at - time.time() + DELIVERY_DEADLINE)

    def sent_status():
        s = grant.nylas.messages.find_scheduled_message(grant.grant_id, scheduled.schedule_id).data
        return s.status.code == "sent", (s.status.code, s.status.description)

    wait_until("the schedule to read 'sent'", sent_status, API_DEADLINE)
    # The first try really was refused for now, by the server.
    refusals = [line for line in postfix_log(testbed).splitlines()
                if recipient in line and " 451 " in line and "Greylisted" in line]
    assert len(refusals) == 1, refusals
    # Once, however long one waits for more: a marker sent after it arrives alone.
    marker = token()
    grant.nylas.messages.send(grant.grant_id, {
        "to": [{"email": grant.email}], "subject": f"Marker {marker}", "body": "after",
    })
    grant.imap.wait_for("the marker", "INBOX", marker)
    assert len(grant.imap.by_subject("INBOX", tag)) == 1


def test_the_same_idempotency_key_sends_once_and_answers_the_first_answer(grant):
    tag, key = token(), f"send-{uuid.uuid4()}"
    body = {"to": [{"email": grant.email}], "subject": f"Idempotent {tag}", "body": "Once."}
    headers = {"overrides": {"headers": {"Idempotency-Key": key}}}
    first = grant.nylas.messages.send(grant.grant_id, body, **headers)
    again = grant.nylas.messages.send(grant.grant_id, body, **headers)
    assert again.data.id == first.data.id and again.data.subject == f"Idempotent {tag}"
    # Marked as a repeat on the wire; the SDK does not show headers.
    raw = grant.raw("POST", "/messages/send", json=body, headers={"Idempotency-Key": key})
    assert raw.status_code == 200, raw.text
    assert raw.headers.get("Idempotent-Replayed") == "true"
    assert raw.json()["data"]["id"] == first.data.id
    # The same key for another request is refused, and sends nothing.
    with pytest.raises(NylasApiError) as other:
        grant.nylas.messages.send(grant.grant_id, {**body, "body": "Twice?"}, **headers)
    assert other.value.status_code == 422

    grant.imap.wait_for("the idempotent send", "INBOX", tag)
    marker = token()
    grant.nylas.messages.send(grant.grant_id, {
        "to": [{"email": grant.email}], "subject": f"Marker {marker}", "body": "after",
    })
    grant.imap.wait_for("the marker", "INBOX", marker)
    assert len(grant.imap.by_subject("INBOX", tag)) == 1
    assert len(grant.imap.by_subject("Sent", tag)) == 1


def test_a_send_refused_for_now_frees_its_idempotency_key_for_the_retry(grant):
    """Sent at once to a greylisting server: the 451 comes back to the caller, nothing was
    sent, so the retry under the same key sends it (and the server now takes it)."""
    tag, key = token(), f"retry-{uuid.uuid4()}"
    body = {"to": [{"email": greylisted(grant, tag)}], "subject": f"Retried {tag}", "body": "Now."}
    headers = {"overrides": {"headers": {"Idempotency-Key": key}}}
    with pytest.raises(NylasApiError) as refused:
        grant.nylas.messages.send(grant.grant_id, body, **headers)
    assert refused.value.status_code == 400 and "451" in str(refused.value), refused.value
    retried = grant.nylas.messages.send(grant.grant_id, body, **headers).data
    assert retried.subject == f"Retried {tag}"
    grant.imap.wait_for("the retried send", "INBOX", tag)


# --------------------------------------------------------------------------- clean conversation

GMAIL_REPLY = """<div dir="ltr">Thursday at noon works for me. I'll book the room.<br><br>Best regards,<br>Ruth</div>
<br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Tue, 3 Dec 2024 at 10:00, Ola &lt;ola@example.test&gt; wrote:<br></div>
<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">
<div dir="ltr">Shall we meet on Thursday? <a href="https://example.test/agenda">The agenda</a> is ready.</div></blockquote></div>"""


def test_clean_messages_answers_the_new_text_without_the_quote_or_sign_off(grant):
    """A reply written as Gmail writes one, delivered to the Inbox: `messages.clean_messages`
    answers it with `conversation` holding only what is new."""
    tag = token()
    grant.nylas.messages.send(grant.grant_id, {
        "to": [{"email": grant.email}], "subject": f"Re: Thursday {tag}", "body": GMAIL_REPLY,
    })
    grant.imap.wait_for("the reply", "INBOX", tag)
    inbox = grant.folder_ids["INBOX"]

    def indexed():
        found = grant.nylas.messages.list(grant.grant_id, query_params={"in": inbox, "subject": f"Re: Thursday {tag}"}).data
        return len(found) == 1, [m.id for m in found]

    (message_id,) = wait_until("the reply in the index", indexed, API_DEADLINE)
    cleaned = grant.nylas.messages.clean_messages(grant.grant_id, {"message_id": [message_id]})
    assert [m.id for m in cleaned.data] == [message_id]
    conversation = cleaned.data[0].conversation
    assert "Thursday at noon works for me." in conversation, conversation
    for gone in ("wrote:", "Shall we meet", "agenda", "Best regards", "Ruth"):
        assert gone not in conversation, (gone, conversation)
    # Links kept as Markdown when asked: the quote still goes.
    kept = grant.nylas.messages.clean_messages(grant.grant_id, {
        "message_id": [message_id], "remove_conclusion_phrases": False,
    }).data[0].conversation
    assert "Best regards" in kept and "Shall we meet" not in kept, kept

    with pytest.raises(NylasApiError) as unknown:
        grant.nylas.messages.clean_messages(grant.grant_id, {"message_id": ["no-such-message"]})
    assert unknown.value.status_code == 404
    with pytest.raises(NylasApiError) as too_many:
        grant.nylas.messages.clean_messages(grant.grant_id, {"message_id": [message_id] * 21})
    assert too_many.value.status_code == 400
