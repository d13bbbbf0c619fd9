#!/usr/bin/env python3
"""Change latency benchmark: another IMAP client changes flags, moves and expunges messages
in random folders of a 100-folder mailbox; how long until mailroom's `message.updated` /
`message.deleted` notification reaches a receiver, against the floor measured in the same
run.

The mailbox (user --user, emptied first) gets --folders folders `Bench/Fnnn` with
--per-folder small messages each. The changer (Python imaplib, plain IMAP on loopback)
makes --count changes one after the other, each a random choice of: toggle \\Flagged on a
random message, MOVE a random message to another random folder, or delete a random message
for good (STORE \\Deleted, UID EXPUNGE). A change's clock starts when the server's tagged OK
for the changing command has been read. The next change starts once the last one was seen
(or --timeout passed), after a random pause of 0–--pause seconds.

  * floor (first; mailroom not running): a bare IMAP client on its own connection
    (LOGIN, ENABLE CONDSTORE, SELECT INBOX, NOTIFY SET for every mailbox, IDLE — RFC 5465)
    reads the untagged `* STATUS` lines. A change is seen when the STATUS of the folder it
    touched arrives (for a move, of both folders). This is all any client of the server
    could know; Dovecot delays these reports by 500 ms on purpose, as it does IDLE's. The
    same run also times one pipelined STATUS sweep of every folder (what mailroom's
    STATUS polling costs per check) and one STATUS round trip. Dovecot 2.3's NOTIFY
    stops reporting once the mailbox list index log (`dovecot.list.index.log`, about
    64 KiB, some 150 changes) rotates: a change not reported within 3 s is counted as
    NOTIFY gone silent, left out of the floor, and the watcher logs in again.
  * mailroom, per --modes: `notify` is a fresh `mailroom serve` with default settings
    (the server offers NOTIFY); `status` the same with NOTIFY ignored
    (MAILROOM_SYNC_IGNORE_CAPABILITIES=NOTIFY), so it polls STATUS every
    `sync_status_poll_millis`. An IMAP grant (STARTTLS), its initial sync finished, and a
    webhook for message.updated and message.deleted. A flag change is seen when a
    message.updated for that message with the new `starred` arrives; a move when one with
    `folders` equal to the destination arrives; an expunge when its message.deleted arrives.

It prints p50/p90/p99/max per phase and per kind of change, the ratios mailroom / floor at
p50 and p99, the target (p99 < 2 s), and anything missing. Exit status 1 if a change was
never seen.

Usage: bench/change_latency.py [--count 150] [--folders 100] [--per-folder 5] [--user 60]
       [--modes notify,status] [--pause 0.3] [--timeout 30] [--seed 1]
Needs the testbed and target/release/mailroom (or MAILROOM_BIN).
"""

import argparse
import json
import os
import random
import re
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import imaplib

from benchlib import ROOT, create_app, mailroom_env, percentile, start_mailroom, testbed_env

SYNC_DEADLINE = 300.0
SETTLE = 2.0
TARGET_P99_MS = 2000.0
# A NOTIFY report later than this is taken for the server's NOTIFY gone silent.
FLOOR_SILENCE = 3.0


def wait_for(what, deadline_seconds, check, step=0.01):
    deadline = time.monotonic() + deadline_seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {deadline_seconds:.0f} s waiting for {what}")
        time.sleep(step)


# --------------------------------------------------------------------------- the mailbox


class Mailbox:
    """The changer's connection and what it knows: which message is in which folder."""

    def __init__(self, env, email, password, folders, per_folder, seed):
        self.host, self.port = "127.0.0.1", int(env["TESTBED_IMAP_PORT"])
        self.imap = imaplib.IMAP4(self.host, self.port)
        self.imap.login(email, password)
        self.folders = [f"Bench/F{i:03d}" for i in range(folders)]
        self.where = {}  # Message-ID -> folder
        self.flagged = {}  # Message-ID -> bool
        self.subject_of = {}
        self.random = random.Random(seed)
        self.selected = None
        for folder in self.folders:
            self.imap.create(folder)
            for n in range(per_folder):
                message_id = f"<change-{folder.replace('/', '-')}-{n}@bench.test>"
                subject = f"change-latency {folder} {n}"
                raw = (f"From: ann@example.test\r\nTo: {email}\r\nSubject: {subject}\r\n"
                       f"Message-ID: {message_id}\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n\r\n"
                       "A message of the change latency benchmark.\r\n").encode()
                self.imap.append(folder, None, None, raw)
                self.where[message_id] = folder
                self.flagged[message_id] = False
                self.subject_of[message_id] = subject

    def _select(self, folder):
        if self.selected != folder:
            self.imap.select(folder)
            self.selected = folder

    def _uid(self, folder, message_id):
        self._select(folder)
        typ, data = self.imap.uid("SEARCH", "HEADER", "Message-ID", f'"{message_id}"')
        uids = data[0].split() if typ == "OK" and data and data[0] else []
        if not uids:
            raise RuntimeError(f"{message_id} not found in {folder}")
        return uids[0].decode()

    def change(self):
        """Makes one random change. Returns (kind, message-id, detail, folders touched,
        perf_counter when the server confirmed it)."""
        message_id = self.random.choice(sorted(self.where))
        folder = self.where[message_id]
        uid = self._uid(folder, message_id)
        kind = self.random.choice(["flag", "move", "expunge"])
        if kind == "flag":
            value = not self.flagged[message_id]
            self.imap.uid("STORE", uid, "+FLAGS" if value else "-FLAGS", "(\\Flagged)")
            done = time.perf_counter()
            self.flagged[message_id] = value
            return kind, message_id, value, [folder], done
        if kind == "move":
            target = self.random.choice([f for f in self.folders if f != folder])
            typ, data = self.imap.uid("MOVE", uid, target)
            done = time.perf_counter()
            if typ != "OK":
                raise RuntimeError(f"MOVE failed: {data}")
            self.where[message_id] = target
            return kind, message_id, target, [folder, target], done
        self.imap.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = self.imap.uid("EXPUNGE", uid)
        done = time.perf_counter()
        if typ != "OK":
            raise RuntimeError(f"UID EXPUNGE failed: {data}")
        del self.where[message_id]
        return kind, message_id, None, [folder], done

    def close(self):
        try:
            self.imap.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


# --------------------------------------------------------------------------- the floor


class NotifyWatcher(threading.Thread):
    """A bare client idling with NOTIFY for every mailbox; records when each mailbox's
    `* STATUS` line arrived."""

    def __init__(self, env, email, password):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", int(env["TESTBED_IMAP_PORT"])))
        self.buffer = b""
        self.lock = threading.Lock()
        self.status_at = {}  # mailbox -> [perf_counter]
        self.stop = threading.Event()
        self._line()
        self._command("a", f"LOGIN {email} {password}")
        self._command("b", "ENABLE CONDSTORE")
        self._command("c", "SELECT INBOX")
        self._command("d", "NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) "
                           "(personal (MessageNew MessageExpunge FlagChange))")
        self.sock.sendall(b"e IDLE\r\n")
        while not self._line().startswith(b"+"):
            pass

    def _line(self, timeout=30.0):
        while b"\r\n" not in self.buffer:
            readable, _, _ = select.select([self.sock], [], [], timeout)
            if not readable:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _command(self, tag, text):
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        while True:
            line = self._line()
            if line is None:
                raise TimeoutError(text)
            if line.startswith(tag.encode() + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise RuntimeError(f"{text}: {line!r}")
                return

    def run(self):
        while not self.stop.is_set():
            line = self._line(timeout=0.1)
            if line is None:
                continue
            received = time.perf_counter()
            match = re.match(rb'\* STATUS ("(?:[^"\\]|\\.)*"|\S+) ', line)
            if match:
                name = match.group(1).decode().strip('"')
                with self.lock:
                    self.status_at.setdefault(name, []).append(received)

    def seen(self, folders, after):
        with self.lock:
            times = [min((t for t in self.status_at.get(f, []) if t >= after), default=None)
                     for f in folders]
        if any(t is None for t in times):
            return None
        return max(times)


def status_round_trips(env, email, password, folders):
    """One STATUS round trip, and one pipelined sweep of every folder, in seconds."""
    sock = socket.create_connection(("127.0.0.1", int(env["TESTBED_IMAP_PORT"])))
    reader = sock.makefile("rb")
    reader.readline()

    def command(tag, text):
        sock.sendall(f"{tag} {text}\r\n".encode())
        while not reader.readline().startswith(tag.encode() + b" "):
            pass

    command("a", f"LOGIN {email} {password}")
    singles, sweeps = [], []
    for round_no in range(20):
        start = time.perf_counter()
        command(f"s{round_no}", f'STATUS "{folders[0]}" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)')
        singles.append(time.perf_counter() - start)
        start = time.perf_counter()
        sock.sendall("".join(f'p{round_no}x{i} STATUS "{f}" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)\r\n'
                             for i, f in enumerate(folders)).encode())
        last = f"p{round_no}x{len(folders) - 1} ".encode()
        while not reader.readline().startswith(last):
            pass
        sweeps.append(time.perf_counter() - start)
    command("z", "LOGOUT")
    sock.close()
    return sorted(singles)[len(singles) // 2], sorted(sweeps)[len(sweeps) // 2]


def floor_phase(env, args, email, password):
    subprocess.run([ROOT / "testbed" / "reset-user", f"user{args.user}"], check=True, capture_output=True)
    mailbox = Mailbox(env, email, password, args.folders, args.per_folder, args.seed)
    single, sweep = status_round_trips(env, email, password, mailbox.folders)
    watcher = NotifyWatcher(env, email, password)
    watcher.start()
    latencies, silent = [], 0
    try:
        for _ in range(args.count):
            kind, _, _, folders, done = mailbox.change()
            try:
                seen = wait_for("the floor's STATUS", FLOOR_SILENCE, lambda: watcher.seen(folders, done))
                latencies.append((kind, seen - done))
            except TimeoutError:
                # Dovecot 2.3's NOTIFY goes silent once its list index log rotates; a
                # new session watches the new log.
                silent += 1
                watcher.stop.set()
                watcher.join()
                watcher.sock.close()
                watcher = NotifyWatcher(env, email, password)
                watcher.start()
            time.sleep(mailbox.random.uniform(0, args.pause))
    finally:
        watcher.stop.set()
        watcher.join()
        watcher.sock.close()
        mailbox.close()
    return latencies, silent, single, sweep


# --------------------------------------------------------------------------- mailroom


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.posts = []  # (perf_counter, parsed body)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                challenge = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("challenge", [""])[0]
                body = challenge.encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = time.perf_counter()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    value = json.loads(body)
                except ValueError:
                    return
                with receiver.lock:
                    receiver.posts.append((received, value))

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, after, check):
        with self.lock:
            for received, value in self.posts:
                if received >= after and check(value):
                    return received
        return None

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Server:
    def __init__(self, env, extra):
        self.data = tempfile.mkdtemp(prefix="mailroom-bench-changes-")
        self.env = mailroom_env(env, log="warn,mailroom=info", **extra)
        self.log_path = os.path.join(self.data, "server.log")
        self.proc, self.url = start_mailroom(self.data, self.env, self.log_path)
        self.key = create_app(self.data, self.env, "bench-changes")["api_key"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:500]!r}") from None

    def log_tail(self, lines=30):
        with open(self.log_path, errors="replace") as log:
            return "".join(log.readlines()[-lines:])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def mailroom_phase(env, args, email, password, mode):
    subprocess.run([ROOT / "testbed" / "reset-user", f"user{args.user}"], check=True, capture_output=True)
    mailbox = Mailbox(env, email, password, args.folders, args.per_folder, args.seed)
    extra = {"MAILROOM_SYNC_IGNORE_CAPABILITIES": "NOTIFY"} if mode == "status" else {}
    receiver = Receiver()
    server = Server(env, extra)
    latencies, missing = [], []
    try:
        server.call("POST", "/v3/connectors", {"provider": "imap"})
        grant = server.call("POST", "/v3/connect/custom", {"provider": "imap", "settings": {
            "imap_username": email, "imap_password": password,
            "imap_host": "localhost", "imap_port": int(env["TESTBED_IMAP_PORT"]), "imap_security": "starttls",
            "smtp_host": "localhost", "smtp_port": int(env["TESTBED_SUBMISSION_PORT"]),
            "smtp_security": "starttls"}})["data"]["id"]
        wait_for("the initial sync", SYNC_DEADLINE,
                 lambda: server.call("GET", f"/v3/grants/{grant}")["data"].get("sync_state") == "running",
                 step=0.1)
        ids, folder_ids = {}, {}
        for folder in server.call("GET", f"/v3/grants/{grant}/folders?limit=1000")["data"]:
            folder_ids[folder["name"]] = folder["id"]
        cursor = None
        while True:
            page = server.call("GET", f"/v3/grants/{grant}/messages?limit=200"
                               + (f"&page_token={cursor}" if cursor else ""))
            for message in page["data"]:
                ids[message["subject"]] = message["id"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if len(ids) != len(mailbox.where):
            raise RuntimeError(f"mailroom lists {len(ids)} messages, the mailbox holds {len(mailbox.where)}")
        server.call("POST", "/v3/webhooks", {"trigger_types": ["message.updated", "message.deleted"],
                                             "webhook_url": receiver.url,
                                             "description": "bench/change_latency.py"})
        time.sleep(SETTLE)
        for _ in range(args.count):
            kind, message_id, detail, _, done = mailbox.change()
            wanted = ids[mailbox.subject_of[message_id]]
            if kind == "flag":
                check = lambda v: (v["type"] == "message.updated" and v["data"]["object"]["id"] == wanted
                                   and v["data"]["object"].get("starred") == detail)
            elif kind == "move":
                # Folder ids are names' leaves here: `Bench/F001` is listed as `F001`.
                target = folder_ids[detail.split("/")[-1]]
                check = lambda v: (v["type"] == "message.updated" and v["data"]["object"]["id"] == wanted
                                   and v["data"]["object"].get("folders") == [target])
            else:
                check = lambda v: v["type"] == "message.deleted" and v["data"]["object"]["id"] == wanted
            try:
                seen = wait_for(f"{kind} of {message_id}", args.timeout, lambda: receiver.first(done, check))
                latencies.append((kind, seen - done))
            except TimeoutError:
                missing.append((kind, message_id))
            if server.proc.poll() is not None:
                raise RuntimeError(f"mailroom exited with status {server.proc.returncode}")
            time.sleep(mailbox.random.uniform(0, args.pause))
    except Exception as e:
        print(f"!!! {mode} phase failed: {e}\n--- server log ({server.log_path}):\n{server.log_tail()}",
              file=sys.stderr)
        raise
    finally:
        server.stop()
        receiver.stop()
        mailbox.close()
    return latencies, missing


# --------------------------------------------------------------------------- report


def stats(values):
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return None
    return {"n": len(ms), "p50": percentile(ms, 0.5), "p90": percentile(ms, 0.9),
            "p99": percentile(ms, 0.99), "max": ms[-1]}


def line(name, s):
    if s is None:
        return f"{name:22s} nothing seen"
    return (f"{name:22s} {s['n']:4d}  p50 {s['p50']:8.1f} ms  p90 {s['p90']:8.1f} ms  "
            f"p99 {s['p99']:8.1f} ms  max {s['max']:8.1f} ms")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=150)
    parser.add_argument("--folders", type=int, default=100)
    parser.add_argument("--per-folder", type=int, default=5)
    parser.add_argument("--user", type=int, default=60)
    parser.add_argument("--modes", default="notify,status")
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    env = testbed_env()
    email, password = f"user{args.user}@{env.get('TESTBED_DOMAIN', 'example.test')}", f"pass{args.user}"
    print(f"{args.folders} folders x {args.per_folder} messages, {args.count} random changes per phase "
          f"(flag / move / expunge) by another client; seed {args.seed}")
    floor, floor_missing, single, sweep = floor_phase(env, args, email, password)
    print(f"STATUS round trip (one folder) {single * 1000:.2f} ms; pipelined STATUS of all "
          f"{args.folders} folders {sweep * 1000:.2f} ms")
    floor_stats = stats(v for _, v in floor)
    print(line("floor (NOTIFY push)", floor_stats)
          + (f"  (NOTIFY went silent {floor_missing} times; a new session each time)" if floor_missing else ""))
    for kind in ("flag", "move", "expunge"):
        print(line(f"  {kind}", stats(v for k, v in floor if k == kind)))
    failed = False
    for mode in [m for m in args.modes.split(",") if m]:
        latencies, missing = mailroom_phase(env, args, email, password, mode)
        overall = stats(v for _, v in latencies)
        print(line(f"mailroom ({mode})", overall))
        for kind in ("flag", "move", "expunge"):
            print(line(f"  {kind}", stats(v for k, v in latencies if k == kind)))
        if missing:
            failed = True
            print(f"!!! {mode}: {len(missing)} changes never announced: {missing[:5]}")
        if overall and floor_stats:
            print(f"  ratio mailroom / floor: p50 {overall['p50'] / floor_stats['p50']:.2f}  "
                  f"p99 {overall['p99'] / floor_stats['p99']:.2f}; target p99 < {TARGET_P99_MS:.0f} ms: "
                  f"{'met' if overall['p99'] < TARGET_P99_MS else 'NOT met'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
