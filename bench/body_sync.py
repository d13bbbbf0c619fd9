#!/usr/bin/env python3
"""Body-sync benchmark: mailroom reading every message body, against bare BODY.PEEK[]
fetches of the same mailbox over one and two connections, in the same run.

Seeds a testbed mailbox with N realistic messages in INBOX (testbed/seed-mailbox), then:
  * the floor: `UID FETCH 1:* (UID BODY.PEEK[])` over one plain connection, and the same
    UIDs split in two halves over two connections at once, each read to the tagged OK
    without parsing (best of --floor-runs; Dovecot's cache as the seeding left it, the
    first run printed apart);
  * mailroom: a fresh `mailroom serve` and an IMAP grant; the time to the first page of
    50 with every snippet, to the mailbox indexed (metadata), to every body read; the
    body rate (the bytes of all bodies over the time from indexed to every body read,
    and over the whole time from grant creation) and its ratios to both floors;
    mailroom's CPU time over the body phase.

Usage: bench/body_sync.py [--count 100000] [--user user61] [--no-seed]
                          [--body-connections N] [--floor-runs 2]
Needs a release build (cargo build --release --bin mailroom) and the testbed.
"""

import argparse
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from benchlib import create_app, mailroom_env, seed_mailbox, start_mailroom, testbed_env, user_credentials


class BareImap:
    """One plain IMAP connection that reads answers to the tagged line, literals skipped
    whole and counted, nothing parsed."""

    def __init__(self, port, email, password):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.reader = self.sock.makefile("rb", buffering=1 << 20)
        self.tags = 0
        self.reader.readline()  # greeting
        self.command(f'LOGIN "{email}" "{password}"')
        self.command('SELECT "INBOX"')

    def command(self, text):
        """Sends `text`; returns (literal bytes read, lines read)."""
        self.tags += 1
        tag = f"b{self.tags}".encode()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        literal_bytes = lines = 0
        while True:
            line = self.reader.readline()
            if not line:
                raise RuntimeError("connection closed")
            lines += 1
            literal = re.search(rb"\{(\d+)\}\r\n$", line)
            if literal:
                n = int(literal.group(1))
                got = len(self.reader.read(n))
                if got != n:
                    raise RuntimeError("connection closed in a literal")
                literal_bytes += n
                continue
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise RuntimeError(line)
                return literal_bytes, lines
            if not line.startswith(b"*") and not line.startswith(b")"):
                raise RuntimeError(f"unexpected line {line[:80]!r}")

    def uids(self):
        self.tags += 1
        tag = f"b{self.tags}".encode()
        self.sock.sendall(tag + b" UID SEARCH ALL\r\n")
        found = []
        while True:
            line = self.reader.readline()
            if line.startswith(b"* SEARCH"):
                found.extend(int(u) for u in line.split()[2:])
            elif line.startswith(tag + b" "):
                return sorted(found)

    def close(self):
        try:
            self.command("LOGOUT")
        except RuntimeError:
            pass
        self.sock.close()


def floor_run(port, email, password, ranges):
    """Fetches every body in `ranges` (one UID set per connection, all at once); returns
    (seconds, bytes)."""
    sessions = [BareImap(port, email, password) for _ in ranges]
    results = [None] * len(ranges)

    def fetch(i):
        results[i] = sessions[i].command(f"UID FETCH {ranges[i]} (UID BODY.PEEK[])")[0]

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(len(ranges))]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - started
    for s in sessions:
        s.close()
    if any(r is None for r in results):
        raise RuntimeError("a floor connection failed")
    return seconds, sum(results)


class Server:
    def __init__(self, env, extra):
        self.data = tempfile.mkdtemp(prefix="mailroom-bench-bodies-")
        self.env = mailroom_env(env, MAILROOM_SYNC_POLL_SECS="3600", **extra)
        self.proc, self.url = start_mailroom(self.data, self.env, os.path.join(self.data, "server.log"))
        self.key = create_app(self.data, self.env, "bench")["api_key"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def cpu_seconds(self):
        """User + system CPU time of the server process so far (all threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self, keep):
        self.proc.kill()
        self.proc.wait()
        if not keep:
            shutil.rmtree(self.data, ignore_errors=True)


def mb(n):
    return n / 1e6


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--user", default="user61")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-seed", action="store_true", help="use the mailbox as it is")
    parser.add_argument("--floor-runs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep mailroom's data directory")
    parser.add_argument("--body-connections", type=int, default=None,
                        help="MAILROOM_SYNC_BODY_CONNECTIONS for the mailroom phase")
    args = parser.parse_args()

    env = testbed_env()
    email, password = user_credentials(args.user)
    if not args.no_seed:
        print(f"seeded: {seed_mailbox(args.user, args.count, args.seed)}")
    port = int(env["TESTBED_IMAP_PORT"])

    probe = BareImap(port, email, password)
    uids = probe.uids()
    probe.close()
    if not uids:
        sys.exit(f"{email} has no mail in INBOX")
    count = len(uids)
    middle = uids[len(uids) // 2]
    one = [f"{uids[0]}:{uids[-1]}"]
    two = [f"{uids[0]}:{middle - 1}", f"{middle}:{uids[-1]}"] if len(uids) > 1 else one
    floors = {}
    body_bytes = 0
    for name, ranges in (("1 connection", one), ("2 connections", two)):
        runs = [floor_run(port, email, password, ranges) for _ in range(max(1, args.floor_runs))]
        total = runs[0][1]
        body_bytes = body_bytes or total
        best = min(s for s, _ in runs)
        floors[name] = mb(total) / best
        print(f"floor, {name}: {count} bodies, {mb(total):,.0f} MB, best {best:.2f} s "
              f"= {floors[name]:.0f} MB/s (runs: {', '.join(f'{s:.2f}' for s, _ in runs)} s)")

    extra = {}
    if args.body_connections is not None:
        extra["MAILROOM_SYNC_BODY_CONNECTIONS"] = str(args.body_connections)
    server = Server(env, extra)
    try:
        server.call("POST", "/v3/connectors", {"provider": "imap"})
        started = time.perf_counter()
        grant = server.call("POST", "/v3/connect/custom", {"provider": "imap", "settings": {
            "imap_username": email, "imap_password": password, "imap_host": "127.0.0.1",
            "imap_port": port, "imap_security": "none",
            "smtp_host": "127.0.0.1", "smtp_port": int(env["TESTBED_SUBMISSION_PORT"]), "smtp_security": "none"}})["data"]
        gid = grant["id"]
        first_snippets = indexed = bodies = None
        cpu_indexed = None
        samples = []
        while bodies is None:
            now = time.perf_counter() - started
            if first_snippets is None:
                page = server.call("GET", f"/v3/grants/{gid}/messages?limit=50")["data"]
                if len(page) == min(50, count) and all(m["snippet"] for m in page):
                    first_snippets = now
            status = server.call("GET", f"/v3/grants/{gid}")["data"]
            progress = status.get("sync_progress") or {}
            synced = progress.get("messages_synced", 0)
            read = progress.get("bodies_synced", 0)
            samples.append((now, read))
            if indexed is None and status.get("sync_state") == "running" and synced >= count:
                indexed = now
                cpu_indexed = server.cpu_seconds()
            if indexed is not None and first_snippets is not None and read >= count:
                bodies = now
            if now > 3600:
                sys.exit(f"bodies were not read in an hour ({read} of {count}); "
                         f"server log: {server.data}/server.log")
            time.sleep(0.01 if first_snippets is None else 0.1)
        cpu_bodies = server.cpu_seconds() - cpu_indexed
        peak = server.peak_rss_mib()
    finally:
        server.stop(args.keep)

    phase = bodies - indexed
    rate_phase = mb(body_bytes) / phase if phase > 0 else float("inf")
    rate_all = mb(body_bytes) / bodies
    print(f"mailroom: {extra or 'default settings'}")
    print(f"mailroom: first page of 50 with every snippet after {first_snippets:.3f} s")
    print(f"mailroom: {count} messages indexed (metadata) after {indexed:.2f} s")
    print(f"mailroom: every body read after {bodies:.2f} s; body phase {phase:.2f} s "
          f"= {rate_phase:.0f} MB/s ({rate_all:.0f} MB/s counted from grant creation)")
    print(f"mailroom: CPU time in the body phase {cpu_bodies:.1f} s "
          f"({100 * cpu_bodies / phase if phase > 0 else 0:.0f}% of one core); "
          f"peak RSS {peak:.0f} MiB")
    for name, floor in floors.items():
        print(f"ratio: mailroom body phase / floor over {name}: {rate_phase / floor:.2f} "
              f"(from grant creation: {rate_all / floor:.2f})")


if __name__ == "__main__":
    main()
