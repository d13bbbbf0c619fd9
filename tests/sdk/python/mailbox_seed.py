"""A small, realistic mailbox for the read-API tests, written into a testbed user by IMAP
APPEND (STARTTLS, the testbed's CA), so that mailroom has to learn everything the way it
does in production: by syncing the mailbox.

`seed_mailbox()` returns a `Seed`: the messages as they were written (raw bytes, flags,
INTERNALDATE, addresses, attachments), which is what the tests compare the API against.
"""

from __future__ import annotations

import base64
import imaplib
import ssl
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[3]

Address = Tuple[str, str]  # (display name, email)

# Every INTERNALDATE is BASE + hours; the dates are distinct and in a known order.
BASE = datetime(2024, 5, 6, 8, 0, 0, tzinfo=timezone.utc)

# Known attachment bytes: a PDF header, every byte value once, a PDF trailer.
PDF_BYTES = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) + b"\n%%EOF\n"
# A real 1x1 PNG.
PNG_BYTES = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

# Folders created besides the special-use ones; "/" is the testbed's separator.
REUNIONS = "Réunions"
PROJECTS = "Projects"
ALPHA = "Projects/Alpha"
CREATED_FOLDERS = (REUNIONS, PROJECTS, ALPHA)


# --------------------------------------------------------------------------- IMAP


def mutf7_encode(name: str) -> str:
    """A mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3); imaplib leaves it to us."""
    out: List[str] = []
    pending: List[str] = []

    def flush() -> None:
        if pending:
            utf16 = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(utf16).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def imap_login(testbed, n: int) -> imaplib.IMAP4:
    """A second IMAP client for testbed user N, over STARTTLS verified with the testbed CA."""
    context = ssl.create_default_context(cafile=testbed.ca)
    imap = imaplib.IMAP4("localhost", testbed.imap_port, timeout=30)
    imap.starttls(ssl_context=context)
    imap.login(testbed.email(n), testbed.password(n))
    return imap


def check(result: Tuple[str, list], what: str) -> list:
    status, data = result
    if status != "OK":
        raise RuntimeError(f"IMAP {what} failed: {status} {data!r}")
    return data


def wipe_user(n: int) -> None:
    """`testbed/reset-user --wipe userN`: a fresh maildir with new UIDVALIDITYs."""
    result = subprocess.run(
        [str(REPO_ROOT / "testbed" / "reset-user"), "--wipe", f"user{n}"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"testbed/reset-user --wipe user{n} failed:\n{result.stdout}\n{result.stderr}")


def set_flags(testbed, n: int, folder: str, message_id: str, flags: str) -> None:
    """Another IMAP client adds FLAGS to the message with this Message-ID in FOLDER."""
    imap = imap_login(testbed, n)
    try:
        check(imap.select(mutf7_encode(folder)), f"SELECT {folder}")
        uids = check(imap.uid("SEARCH", "HEADER", "Message-ID", f'"{message_id}"'), "SEARCH")[0].split()
        if len(uids) != 1:
            raise RuntimeError(f"expected one message {message_id} in {folder}, found UIDs {uids!r}")
        check(imap.uid("STORE", uids[0].decode(), "+FLAGS", flags), "STORE")
    finally:
        imap.logout()


# --------------------------------------------------------------------------- messages


@dataclass
class SeedAttachment:
    filename: str
    content_type: str  # maintype/subtype
    data: bytes
    content_id: Optional[str] = None  # without angle brackets; set => inline

    @property
    def is_inline(self) -> bool:
        return self.content_id is not None


@dataclass
class SeedMessage:
    key: str  # the tests' handle, e.g. "a1"
    folder: str  # IMAP name, decoded ("Réunions", "Projects/Alpha")
    thread: str  # messages with the same label form one conversation
    subject: str
    sender: Address
    to: List[Address]
    hours: float  # INTERNALDATE = BASE + hours
    text: Optional[str] = None
    html: Optional[str] = None
    cc: List[Address] = field(default_factory=list)
    bcc: List[Address] = field(default_factory=list)
    reply_to: List[Address] = field(default_factory=list)
    flags: Tuple[str, ...] = ()
    attachments: List[SeedAttachment] = field(default_factory=list)
    replies_to: Optional["SeedMessage"] = None
    extra_headers: Dict[str, str] = field(default_factory=dict)
    date_tz: timezone = timezone.utc  # zone of the Date: header (same instant)
    raw: bytes = b""  # filled by build()

    @property
    def message_id(self) -> str:
        return f"<{self.key}.read-api@{self.sender[1].split('@')[1]}>"

    @property
    def received(self) -> datetime:
        return BASE + timedelta(hours=self.hours)

    @property
    def timestamp(self) -> int:
        return int(self.received.timestamp())

    @property
    def unread(self) -> bool:
        return "\\Seen" not in self.flags

    @property
    def starred(self) -> bool:
        return "\\Flagged" in self.flags

    @property
    def has_attachment(self) -> bool:
        """A real (non-inline) attachment; inline images are part of the body."""
        return any(not a.is_inline for a in self.attachments)

    def emails(self, *kinds: str) -> List[str]:
        """Lower-cased addresses of the given kinds ("from", "to", "cc", "bcc")."""
        table = {"from": [self.sender], "to": self.to, "cc": self.cc, "bcc": self.bcc}
        return [addr.lower() for kind in kinds for _, addr in table[kind]]

    def references(self) -> List[str]:
        chain: List[str] = []
        parent = self.replies_to
        while parent is not None:
            chain.insert(0, parent.message_id)
            parent = parent.replies_to
        return chain

    def build(self) -> bytes:
        msg = EmailMessage(policy=SMTP)  # CRLF line ends, as APPEND stores them
        msg["From"] = formataddr(self.sender)
        msg["To"] = ", ".join(formataddr(a) for a in self.to)
        if self.cc:
            msg["Cc"] = ", ".join(formataddr(a) for a in self.cc)
        if self.bcc:
            msg["Bcc"] = ", ".join(formataddr(a) for a in self.bcc)
        if self.reply_to:
            msg["Reply-To"] = ", ".join(formataddr(a) for a in self.reply_to)
        msg["Subject"] = self.subject
        msg["Date"] = format_datetime(self.received.astimezone(self.date_tz))
        msg["Message-ID"] = self.message_id
        if self.replies_to is not None:
            msg["In-Reply-To"] = self.replies_to.message_id
            msg["References"] = " ".join(self.references())
        msg["X-Mailer"] = "mailroom-read-api-seed"
        for name, value in self.extra_headers.items():
            msg[name] = value

        if self.text is not None:
            msg.set_content(self.text)
            if self.html is not None:
                msg.add_alternative(self.html, subtype="html")
        elif self.html is not None:
            msg.set_content(self.html, subtype="html")
        for att in self.attachments:
            maintype, subtype = att.content_type.split("/")
            if att.is_inline:
                # multipart/related next to the HTML it belongs to.
                html_part = msg.get_payload()[-1] if msg.is_multipart() else msg
                html_part.add_related(
                    att.data, maintype, subtype,
                    cid=f"<{att.content_id}>", disposition="inline", filename=att.filename,
                )
            else:
                msg.add_attachment(att.data, maintype=maintype, subtype=subtype, filename=att.filename)
        self.raw = msg.as_bytes()
        return self.raw


@dataclass
class Seed:
    user: int
    email: str
    messages: List[SeedMessage]

    def __getitem__(self, key: str) -> SeedMessage:
        for message in self.messages:
            if message.key == key:
                return message
        raise KeyError(key)

    def keys(self, predicate=lambda m: True) -> set:
        return {m.key for m in self.messages if predicate(m)}

    def threads(self) -> Dict[str, set]:
        groups: Dict[str, set] = {}
        for m in self.messages:
            groups.setdefault(m.thread, set()).add(m.key)
        return groups

    def folders(self) -> set:
        return {m.folder for m in self.messages}


def conversation(user_email: str) -> List[SeedMessage]:
    """The mailbox: two threads that cross Inbox and Sent, and standalone messages with an
    attachment, an inline image, a non-ASCII subject in a non-ASCII folder, a child folder,
    a Reply-To, and a message with nothing but From and To."""
    me: Address = ("Sam Six", user_email)
    alice: Address = ("Alice Martin", "alice@corp.example")
    bob: Address = ("Bob Okafor", "bob@partner.example")
    carol: Address = ("Carol Nguyen", "carol@corp.example")
    dave: Address = ("Dave Ito", "dave@corp.example")
    eve: Address = ("Eve Audit", "eve@audit.example")

    a1 = SeedMessage(
        key="a1", folder="INBOX", thread="A", subject="Quarterly budget review",
        sender=alice, to=[me], cc=[carol], hours=0, flags=("\\Seen",),
        text="Hi Sam,\n\nPlease review the Q3 budget before Thursday.\n\nAlice\n",
    )
    b1 = SeedMessage(
        key="b1", folder="INBOX", thread="B", subject="Launch checklist",
        sender=bob, to=[me], hours=3, flags=("\\Flagged",),
        html="<html><body><h1>Launch</h1><p>Checklist for the <b>launch</b>: docs, notes, mail.</p></body></html>",
    )
    a2 = SeedMessage(
        key="a2", folder="Sent", thread="A", subject="Re: Quarterly budget review",
        sender=me, to=[alice], hours=5, flags=("\\Seen",), replies_to=a1,
        text="Alice,\n\nLooks fine, two questions on travel.\n\nSam\n",
    )
    c = SeedMessage(
        key="c", folder="INBOX", thread="C", subject="Invoice 2024-0042",
        sender=("Vendor Billing", "billing@vendor.example"), to=[me], hours=20, flags=("\\Seen",),
        text="Your invoice is attached.\n",
        attachments=[SeedAttachment("invoice-2024-0042.pdf", "application/pdf", PDF_BYTES)],
    )
    b2 = SeedMessage(
        key="b2", folder="Sent", thread="B", subject="Re: Launch checklist",
        sender=me, to=[bob], bcc=[eve], hours=26, flags=("\\Seen",), replies_to=b1,
        text="Bob,\n\nAll items done on our side.\n\nSam\n",
    )
    d = SeedMessage(
        key="d", folder="INBOX", thread="D", subject="Team photo",
        sender=carol, to=[me, dave], hours=30,
        text="The team photo from the offsite.\n",
        html='<html><body><p>The team photo from the offsite:</p><img src="cid:photo123@corp.example"></body></html>',
        attachments=[SeedAttachment("team.png", "image/png", PNG_BYTES, content_id="photo123@corp.example")],
    )
    a3 = SeedMessage(
        key="a3", folder="INBOX", thread="A", subject="Re: Quarterly budget review",
        sender=alice, to=[me], cc=[dave], hours=48, replies_to=a2,
        text="Sam,\n\nTravel is capped at 5k. Approved.\n\nAlice\n",
        html="<html><body><p>Sam,</p><p>Travel is capped at <b>5k</b>. Approved.</p><p>Alice</p></body></html>",
        date_tz=timezone(timedelta(hours=2)),
    )
    e = SeedMessage(
        key="e", folder=REUNIONS, thread="E", subject="Ordre du jour — réunion de lundi",
        sender=("François Dupré", "francois@corp.example"), to=[me], hours=50,
        text="Bonjour,\n\nVoici l'ordre du jour de la réunion.\n",
    )
    f = SeedMessage(
        key="f", folder=ALPHA, thread="F", subject="Alpha milestone 1",
        sender=("Grace Lee", "grace@corp.example"), to=[me], hours=60,
        reply_to=[("Alpha Team", "alpha-team@corp.example")], flags=("\\Seen", "\\Flagged"),
        text="Milestone 1 is done.\n",
    )
    g = SeedMessage(
        key="g", folder="INBOX", thread="G", subject="Lunch on Friday?",
        sender=("Heidi Park", "heidi@corp.example"), to=[me], hours=72,
        text="Lunch on Friday at noon?\n",
    )
    h = SeedMessage(
        key="h", folder="INBOX", thread="H", subject="Server maintenance window",
        sender=("Ops", "ops@infra.example"), to=[me], hours=75, flags=("\\Seen",),
        text="Maintenance tonight; codeword zanzibarquokka for the bridge.\n",
    )
    return [a1, b1, a2, c, b2, d, a3, e, f, g, h]


def append_all(testbed, n: int, messages: Iterable[SeedMessage], create: Iterable[str] = ()) -> None:
    imap = imap_login(testbed, n)
    try:
        for folder in create:
            check(imap.create(mutf7_encode(folder)), f"CREATE {folder}")
        for m in messages:
            flags = "(" + " ".join(m.flags) + ")"
            check(imap.append(mutf7_encode(m.folder), flags, m.received, m.build()), f"APPEND {m.key}")
    finally:
        imap.logout()


def seed_mailbox(testbed, n: int) -> Seed:
    """Wipes testbed user N and writes `conversation()` into it."""
    wipe_user(n)
    messages = conversation(testbed.email(n))
    append_all(testbed, n, messages, create=CREATED_FOLDERS)
    return Seed(n, testbed.email(n), messages)


def small_inbox(testbed, n: int) -> Seed:
    """Wipes testbed user N and writes two unread Inbox messages (for flag changes)."""
    wipe_user(n)
    me: Address = ("User", testbed.email(n))
    messages = [
        SeedMessage(
            key=f"p{i}", folder="INBOX", thread=f"P{i}", subject=f"Ping {i}",
            sender=("Pat", "pat@corp.example"), to=[me], hours=i, text=f"Ping number {i}.\n",
        )
        for i in (1, 2)
    ]
    append_all(testbed, n, messages)
    return Seed(n, testbed.email(n), messages)
