#!/usr/bin/env python3
"""Webhook latency benchmark: new mail delivered over SMTP until mailroom's `message.created`
notification reaches a receiver, against the bare IMAP IDLE floor, measured in the same run.

Both phases send --count small messages (plus a few unmeasured warm-ups), one after the
other with --interval between them, over one authenticated submission session (smtplib,
STARTTLS with the testbed CA, AUTH) from the sender (user40) to the recipient (user39), each
with a unique subject. A message's clock starts when smtplib's sendmail returns, i.e. when
the submission server has accepted the end of DATA. The recipient's mailbox is emptied
before each phase.

  * floor (first; mailroom is not running): a bare IMAP client, one TLS connection
    (STARTTLS, LOGIN, SELECT INBOX, IDLE), reads the untagged responses; a message is seen
    when the `* N EXISTS` that counts it arrives. Which message is sequence number N is
    read afterwards with a FETCH of the subjects;
  * mailroom: a fresh `mailroom serve` with default sync settings, an IMAP grant for the
    recipient (STARTTLS), its initial sync finished, and a webhook for `message.created`
    pointing at an HTTP receiver in this script (which answers the `?challenge=`
    handshake). A message is seen when the POST announcing it has been read in full.
    Each POST's X-Nylas-Signature (hex HMAC-SHA256 of the body with the webhook secret) is
    checked.

It prints p50/p90/p99/max of both latencies, the ratios mailroom / floor at p50 and p99,
and for mailroom how many notifications arrived, bad signatures, redeliveries, duplicates
(the same notification id twice, or the same message announced twice) and missing ones.
Anything missing, duplicated or badly signed is printed loudly and the exit status is 1.
The target is p99 < 1 s.

Usage: bench/webhook_latency.py [--count 200] [--interval 0.05] [--timeout 60] [--csv FILE]
Needs the testbed and a mailroom binary: target/release/mailroom by default
(cargo build --release --bin mailroom), or MAILROOM_BIN=target/debug/mailroom.
The mailboxes of user39 and user40 are emptied.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import secrets
import select
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import imaplib

from benchlib import ROOT, BIN, testbed_env, percentile, create_app, mailroom_env, start_mailroom

RECIPIENT, SENDER = 39, 40
WARMUP = 5
WARMUP_DEADLINE = 70.0   # per warm-up message: longer than mailroom's default 60 s poll
SYNC_DEADLINE = 120.0
SETTLE = 2.0             # after the initial sync, before the first message
GRACE = 3.0              # after the last expected notification, to catch duplicates
BODY = ("This is a webhook latency benchmark message. " * 10).strip() + "\n"



def user(env, number):
    return f"user{number}@{env.get('TESTBED_DOMAIN', 'example.test')}", f"pass{number}"


def reset_users(*numbers):
    subprocess.run([ROOT / "testbed" / "reset-user", *(f"user{n}" for n in numbers)],
                   check=True, capture_output=True)



def wait_for(what, deadline_seconds, check, step=0.01):
    deadline = time.monotonic() + deadline_seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {deadline_seconds:.0f} s waiting for {what}")
        time.sleep(step)


# --------------------------------------------------------------------------- sending


class Sender:
    """One authenticated submission session; sendmail's return is a message's time zero."""

    def __init__(self, env, run_id, recipient):
        self.email, self.password = user(env, SENDER)
        self.recipient = recipient
        self.run_id = run_id
        context = ssl.create_default_context(cafile=env["TESTBED_CA"])
        self.smtp = smtplib.SMTP("localhost", int(env["TESTBED_SUBMISSION_PORT"]), timeout=60)
        self.smtp.starttls(context=context)
        self.smtp.login(self.email, self.password)
        self.accepted = {}  # subject -> perf_counter when the server accepted it

    def subject(self, phase, label):
        return f"webhook-latency {self.run_id} {phase} {label}"

    def send(self, subject):
        msg = EmailMessage()
        msg["From"] = self.email
        msg["To"] = self.recipient
        msg["Subject"] = subject
        msg["Date"] = format_datetime(datetime.now(timezone.utc))
        msg["Message-ID"] = make_msgid(domain="example.test")
        msg.set_content(BODY)
        raw = msg.as_bytes()
        refused = self.smtp.sendmail(self.email, [self.recipient], raw)
        self.accepted[subject] = time.perf_counter()
        if refused:
            raise RuntimeError(f"SMTP refused {refused}")

    def close(self):
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass


def run_phase(sender, phase, count, interval, seen_count):
    """Warm-ups, each waited for until seen, then `count` messages `interval` apart.
    `seen_count()` tells how many of this phase's messages have been seen so far."""
    for i in range(WARMUP):
        sender.send(sender.subject(phase, f"warmup-{i}"))
        wait_for(f"{phase}: warm-up message {i} to be seen", WARMUP_DEADLINE, lambda: seen_count() > i)
    measured = [sender.subject(phase, f"{i:04d}") for i in range(count)]
    for subject in measured:
        sender.send(subject)
        time.sleep(interval)
    return measured


# --------------------------------------------------------------------------- the floor


class IdleWatcher(threading.Thread):
    """A bare IMAP client in IDLE on INBOX; records when each `* N EXISTS` arrived.
    All socket work happens on this thread (one SSL object is not shared across threads)."""

    def __init__(self, env, email, password):
        super().__init__(daemon=True)
        self.env, self.email, self.password = env, email, password
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.error = None
        self.exists_at = {}  # sequence number -> perf_counter of the EXISTS that first counted it
        self.initial = None
        self.lock = threading.Lock()
        self.buffer = b""
        self.last_recv = None
        self.sock = None

    # -- line reading: select() with a short timeout so that `stop` is noticed
    def _line(self, deadline=None):
        while b"\r\n" not in self.buffer:
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
            if not pending:
                readable, _, _ = select.select([self.sock], [], [], 0.1)
                if not readable:
                    if (deadline is not None and time.monotonic() > deadline) or \
                            (deadline is None and self.stop.is_set()):
                        return None, None
                    continue
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the IMAP server closed the connection")
            self.buffer += chunk
            self.last_recv = time.perf_counter()
        # A line arrived with the read that completed it, the last one so far.
        received = self.last_recv
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        literal = re.search(rb"\{(\d+)\}$", line)
        if literal:  # not expected in IDLE; skipped whole so its bytes are not taken for lines
            n = int(literal.group(1))
            while len(self.buffer) < n:
                self.buffer += self.sock.recv(65536)
            self.buffer = self.buffer[n:]
        return line, received

    def _command(self, tag, text, on_untagged=None):
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        while True:
            line, _ = self._line(deadline=time.monotonic() + 30)
            if line is None:
                raise TimeoutError(f"IMAP {text.split()[0]}: no answer in 30 s")
            if line.startswith(tag.encode() + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise RuntimeError(f"IMAP {text.split()[0]} failed: {line!r}")
                return
            if on_untagged:
                on_untagged(line)

    def _record(self, line, received):
        match = re.match(rb"\* (\d+) EXISTS", line)
        if match:
            n = int(match.group(1))
            with self.lock:
                for seq in range(self.initial + 1, n + 1):
                    self.exists_at.setdefault(seq, received)

    def run(self):
        try:
            raw = socket.create_connection(("127.0.0.1", int(self.env["TESTBED_IMAP_PORT"])), timeout=30)
            self.sock = raw
            self._line(deadline=time.monotonic() + 30)  # greeting
            self._command("s", "STARTTLS")
            if self.buffer:
                raise RuntimeError("data after STARTTLS's OK")
            context = ssl.create_default_context(cafile=self.env["TESTBED_CA"])
            self.sock = context.wrap_socket(raw, server_hostname="localhost")
            self._command("l", f'LOGIN "{self.email}" "{self.password}"')
            counts = []
            self._command("x", "SELECT INBOX", lambda line: counts.extend(
                int(m.group(1)) for m in [re.match(rb"\* (\d+) EXISTS", line)] if m))
            self.initial = counts[-1] if counts else 0
            self.sock.sendall(b"i IDLE\r\n")
            while True:
                line, _ = self._line(deadline=time.monotonic() + 30)
                if line is None:
                    raise TimeoutError("IDLE was not acknowledged in 30 s")
                if line.startswith(b"+"):
                    break
                if line.startswith(b"i "):
                    raise RuntimeError(f"IDLE refused: {line!r}")
            self.ready.set()
            while True:
                line, received = self._line()
                if line is None:  # stop was set
                    break
                self._record(line, received)
            self.sock.sendall(b"DONE\r\n")
            while True:
                line, received = self._line(deadline=time.monotonic() + 30)
                if line is None:
                    raise TimeoutError("IDLE's end (DONE) was not acknowledged in 30 s")
                if line.startswith(b"i "):
                    break
                self._record(line, received)
            self._command("z", "LOGOUT")
        except Exception as e:  # reported by the main thread
            self.error = e
            self.ready.set()
        finally:
            if self.sock is not None:
                self.sock.close()

    def seen(self):
        with self.lock:
            return len(self.exists_at)

    def finish(self):
        self.stop.set()
        self.join(60)
        if self.error:
            raise RuntimeError(f"IDLE client: {self.error}")


def subjects_by_sequence(env, email, password):
    """Sequence number -> Subject of every message in INBOX."""
    imap = imaplib.IMAP4("127.0.0.1", int(env["TESTBED_IMAP_PORT"]), timeout=30)
    try:
        imap.login(email, password)
        typ, data = imap.select("INBOX", readonly=True)
        if int(data[0]) == 0:
            return {}
        typ, data = imap.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        result = {}
        for item in data:
            if isinstance(item, tuple):
                seq = int(item[0].split()[0])
                match = re.search(rb"Subject: *(.*?)\r?\n(?![ \t])", item[1], re.S | re.I)
                if match:
                    result[seq] = re.sub(rb"\r?\n[ \t]+", b" ", match.group(1)).decode(errors="replace").strip()
        return result
    finally:
        imap.logout()


def floor_phase(env, args, run_id, recipient, password):
    watcher = IdleWatcher(env, recipient, password)
    watcher.start()
    if not watcher.ready.wait(60) or watcher.error:
        raise RuntimeError(f"IDLE client did not start: {watcher.error}")
    def seen():
        if watcher.error:
            raise RuntimeError(f"IDLE client: {watcher.error}")
        return watcher.seen()

    sender = Sender(env, run_id, recipient)
    try:
        measured = run_phase(sender, "floor", args.count, args.interval, seen)
        total = WARMUP + args.count
        try:
            wait_for("the floor's EXISTS for every message", args.timeout, lambda: seen() >= total)
        except TimeoutError as e:
            print(f"!!! floor: {e} ({watcher.seen()} of {total} seen)")
    finally:
        sender.close()
        watcher.finish()
    by_seq = subjects_by_sequence(env, recipient, password)
    seen = {by_seq[seq]: t for seq, t in watcher.exists_at.items() if seq in by_seq}
    latencies = {s: seen[s] - sender.accepted[s] for s in measured if s in seen}
    missing = [s for s in measured if s not in seen]
    return latencies, missing


# --------------------------------------------------------------------------- mailroom


class Receiver:
    """The webhook receiver: answers the challenge, records each POST as it is read in full."""

    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []  # (perf_counter when read, signature header, raw body)
        self.subjects = set()  # subjects announced so far
        self.challenges = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body=b""):
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                with receiver.lock:
                    receiver.challenges += 1
                self.answer(200, query.get("challenge", [""])[0].encode())

            def do_POST(self):
                length = self.headers.get("Content-Length")
                if length is None:
                    self.answer(411)
                    return
                body = self.rfile.read(int(length))
                received = time.perf_counter()
                with receiver.lock:
                    receiver.posts.append((received, self.headers.get("X-Nylas-Signature", ""), body))
                self.answer(200)
                try:  # for the progress checks only; the report parses every POST again
                    subject = json.loads(body)["data"]["object"]["subject"]
                except (ValueError, KeyError, TypeError):
                    return
                with receiver.lock:
                    receiver.subjects.add(subject)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            # mailroom POSTs several notifications at once, each on a new connection; with
            # the default listen backlog of 5 some SYNs would be dropped and retried 1 s later.
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def snapshot(self):
        with self.lock:
            return list(self.posts)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Server:
    def __init__(self, env):
        self.data = tempfile.mkdtemp(prefix="mailroom-bench-webhooks-")
        self.env = mailroom_env(env, log="warn,mailroom=info")
        self.log_path = os.path.join(self.data, "server.log")
        self.proc, self.url = start_mailroom(self.data, self.env, self.log_path)
        app = create_app(self.data, self.env, "bench-webhooks")
        self.key, self.application_id = app["api_key"], app.get("application_id")

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def log_tail(self, lines=40):
        return "".join(Path(self.log_path).read_text(errors="replace").splitlines(True)[-lines:])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Notifications:
    """The receiver's POSTs, parsed and checked against the webhook secret."""

    def __init__(self, posts, secret, prefix):
        self.bad_signatures = self.unparsable = self.other_types = self.unexpected = self.redeliveries = 0
        self.by_subject = {}      # subject -> [arrival times]
        self.ids = {}             # notification id -> count
        self.message_ids = {}     # message id -> count
        for received, signature, raw in posts:
            expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(signature, expected):
                self.bad_signatures += 1
            try:
                value = json.loads(raw)
                kind, obj = value["type"], value["data"]["object"]
            except (ValueError, KeyError, TypeError):
                self.unparsable += 1
                continue
            if kind != "message.created":
                self.other_types += 1
                continue
            self.ids[value.get("id")] = self.ids.get(value.get("id"), 0) + 1
            self.message_ids[obj.get("id")] = self.message_ids.get(obj.get("id"), 0) + 1
            if value.get("webhook_delivery_attempt", 1) != 1:
                self.redeliveries += 1
            subject = obj.get("subject") or ""
            if subject.startswith(prefix):
                self.by_subject.setdefault(subject, []).append(received)
            else:
                self.unexpected += 1
        self.count = sum(self.ids.values())
        self.duplicate_ids = {k: n for k, n in self.ids.items() if n > 1}
        self.duplicate_messages = {k: n for k, n in self.message_ids.items() if n > 1}
        self.duplicate_subjects = {k: len(v) for k, v in self.by_subject.items() if len(v) > 1}


def mailroom_phase(env, args, run_id, recipient, password):
    receiver = Receiver()
    server = Server(env)
    try:
        server.call("POST", "/v3/connectors", {"provider": "imap"})
        grant_id = server.call("POST", "/v3/connect/custom", {"provider": "imap", "settings": {
            "imap_username": recipient, "imap_password": password,
            "imap_host": "localhost", "imap_port": int(env["TESTBED_IMAP_PORT"]), "imap_security": "starttls",
            "smtp_host": "localhost", "smtp_port": int(env["TESTBED_SUBMISSION_PORT"]),
            "smtp_security": "starttls"}})["data"]["id"]
        synced = time.perf_counter()
        wait_for("the grant's initial sync", SYNC_DEADLINE,
                 lambda: server.call("GET", f"/v3/grants/{grant_id}")["data"].get("sync_state") == "running",
                 step=0.05)
        synced = time.perf_counter() - synced
        hook = server.call("POST", "/v3/webhooks", {"trigger_types": ["message.created"],
                                                    "webhook_url": receiver.url,
                                                    "description": "bench/webhook_latency.py"})["data"]
        secret = hook["webhook_secret"]
        time.sleep(SETTLE)  # mailroom announces only mail that arrives after the folder's first read
        prefix = f"webhook-latency {run_id} "

        def seen():
            if server.proc.poll() is not None:
                raise RuntimeError(f"mailroom exited with status {server.proc.returncode}")
            with receiver.lock:
                return sum(1 for s in receiver.subjects if isinstance(s, str) and s.startswith(prefix))

        sender = Sender(env, run_id, recipient)
        try:
            measured = run_phase(sender, "mailroom", args.count, args.interval, seen)
        finally:
            sender.close()
        total = WARMUP + args.count
        try:
            wait_for("a notification for every message", args.timeout, lambda: seen() >= total, step=0.05)
        except TimeoutError as e:
            print(f"!!! mailroom: {e} ({seen()} of {total} announced)")
        time.sleep(GRACE)  # duplicates, if any, arrive after the first copy
        notes = Notifications(receiver.snapshot(), secret, prefix)
        log_tail = server.log_tail()
    except Exception as e:
        print(f"!!! mailroom phase failed: {e}\n--- the end of the server log ({server.log_path}):\n"
              f"{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
        receiver.stop()
    latencies = {s: notes.by_subject[s][0] - sender.accepted[s] for s in measured if s in notes.by_subject}
    missing = [s for s in sender.accepted if s not in notes.by_subject]
    return latencies, missing, notes, synced, server, log_tail


# --------------------------------------------------------------------------- report


def summary(name, latencies):
    ms = sorted(v * 1000 for v in latencies.values())
    if not ms:
        return f"{name:9s} no message seen", None
    stats = {p: percentile(ms, p) for p in (0.5, 0.9, 0.99)}
    stats[1.0] = ms[-1]
    line = (f"{name:9s} {len(ms):4d} messages  p50 {stats[0.5]:8.1f} ms  p90 {stats[0.9]:8.1f} ms  "
            f"p99 {stats[0.99]:8.1f} ms  max {stats[1.0]:8.1f} ms  (min {ms[0]:.1f} ms)")
    return line, stats


def create_folders(env, email, password, count):
    """`count` extra folders in the mailbox, so a pass over every folder costs what it
    does in a real mailbox (reset-user removes them again)."""
    imap = imaplib.IMAP4("127.0.0.1", int(env["TESTBED_IMAP_PORT"]), timeout=30)
    try:
        imap.login(email, password)
        for n in range(count):
            typ, data = imap.create(f"Bench-{n:03d}")
            if typ != "OK":
                raise RuntimeError(f"CREATE Bench-{n:03d}: {data}")
    finally:
        imap.logout()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--count", type=int, default=200, help="measured messages per phase (default 200)")
    parser.add_argument("--interval", type=float, default=0.05,
                        help="seconds between one accepted message and the next send (default 0.05)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait after the last send for every message to be seen (default 60)")
    parser.add_argument("--folders", type=int, default=0,
                        help="extra folders in the recipient's mailbox during the mailroom phase (default 0)")
    parser.add_argument("--csv", metavar="FILE",
                        help="also write one row per measured message: phase, index, latency in ms")
    args = parser.parse_args()
    if args.count < 1 or args.interval < 0 or args.timeout <= 0 or args.folders < 0:
        sys.exit("--count must be positive, --interval and --folders not negative, --timeout positive")
    if not BIN.exists():
        sys.exit(f"no mailroom binary at {BIN}: cargo build --release --bin mailroom, or set MAILROOM_BIN")

    env = testbed_env()
    recipient, password = user(env, RECIPIENT)
    run_id = secrets.token_hex(4)
    print(f"{args.count} messages per phase ({WARMUP} warm-ups first), {args.interval * 1000:.0f} ms apart, "
          f"user{SENDER} -> {recipient} over submission with STARTTLS; {args.folders} extra folders; "
          f"mailroom {BIN}; run {run_id}")
    started = time.monotonic()

    reset_users(RECIPIENT, SENDER)
    floor, floor_missing = floor_phase(env, args, run_id, recipient, password)
    reset_users(RECIPIENT)
    create_folders(env, recipient, password, args.folders)
    mailroom, missing, notes, synced, server, log_tail = mailroom_phase(env, args, run_id, recipient, password)

    if args.csv:
        with open(args.csv, "w") as out:
            out.write("phase,index,latency_ms\n")
            for phase, latencies in (("floor", floor), ("mailroom", mailroom)):
                for subject, seconds in latencies.items():
                    out.write(f"{phase},{int(subject.rsplit(' ', 1)[1])},{seconds * 1000:.1f}\n")

    floor_line, floor_stats = summary("floor", floor)
    mailroom_line, mailroom_stats = summary("mailroom", mailroom)
    print("latency from SMTP accept (end of DATA) until seen:")
    print(f"  {floor_line}   [IMAP IDLE: * N EXISTS]")
    print(f"  {mailroom_line}   [message.created POST received]")
    if floor_stats and mailroom_stats:
        print(f"ratio mailroom / floor: p50 {mailroom_stats[0.5] / floor_stats[0.5]:.2f}   "
              f"p99 {mailroom_stats[0.99] / floor_stats[0.99]:.2f}")
        verdict = "met" if mailroom_stats[0.99] < 1000 else "NOT MET"
        print(f"target mailroom p99 < 1000 ms: {verdict}")
    total = WARMUP + args.count
    print(f"notifications: {notes.count} message.created received for {total} messages sent "
          f"({WARMUP} warm-ups included); {len(notes.by_subject)} of them announced, "
          f"bad signatures {notes.bad_signatures}, redeliveries (attempt > 1) {notes.redeliveries}, "
          f"other types {notes.other_types}, not from this run {notes.unexpected}, unparsable {notes.unparsable}")
    print(f"duplicates: same notification id {len(notes.duplicate_ids)}, same message id "
          f"{len(notes.duplicate_messages)}, same subject {len(notes.duplicate_subjects)}; missing {len(missing)}")
    print(f"(initial sync of the empty mailbox took {synced:.2f} s; whole run {time.monotonic() - started:.0f} s; "
          f"server log: {server.log_path})")

    failed = False
    if floor_missing:
        failed = True
        print(f"!!! FLOOR: {len(floor_missing)} messages never seen in IDLE: {floor_missing[:10]}")
    if missing:
        failed = True
        print(f"!!! MISSING: {len(missing)} of {total} messages were never announced: {missing[:10]}"
              f"{' ...' if len(missing) > 10 else ''}")
    if notes.duplicate_ids or notes.duplicate_messages or notes.duplicate_subjects:
        failed = True
        print(f"!!! DUPLICATES: notification ids {list(notes.duplicate_ids.items())[:5]}, "
              f"message ids {list(notes.duplicate_messages.items())[:5]}, "
              f"subjects {list(notes.duplicate_subjects.items())[:5]}")
    if notes.bad_signatures or notes.unparsable:
        failed = True
        print(f"!!! BAD NOTIFICATIONS: {notes.bad_signatures} bad signatures, {notes.unparsable} unparsable")
    if failed:
        print(f"--- the end of the server log ({server.log_path}):\n{log_tail}")
        sys.exit(1)


if __name__ == "__main__":
    main()
