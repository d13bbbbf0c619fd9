#!/usr/bin/env python3
"""Initial-sync benchmark: mailroom against the bare IMAP floor, in the same run.

Seeds a testbed mailbox with N realistic messages (testbed/seed-mailbox), then prints:
  * the floor: one bare `UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE
    BODYSTRUCTURE)` over one plain connection, read to the tagged OK without parsing
    (best of 3, Dovecot's cache warm; the first run, before Dovecot has cached
    ENVELOPE and BODYSTRUCTURE, is printed too);
  * mailroom: time from grant creation until the whole mailbox is indexed (metadata),
    and until every body is read; their ratios to the floor;
  * time from grant creation until GET /messages?limit=50 returns a full page, and
    until every message on it has its snippet;
  * mailroom's CPU time (all threads) until the mailbox is indexed;
  * mailroom's RSS after the sync;
  * GET /messages?limit=50 latency p50/p99 over 200 requests;
  * the store floor (store_floor.py): the rows the sync wrote, copied into an empty store of
    the same schema with one INSERT … SELECT per table: what the database alone costs.

Usage: bench/initial_sync.py [--count 10000] [--user user11] [--no-seed] [--metadata-only]
                             [--database-url postgres://…]
With --database-url the index is kept in PostgreSQL (a schema of the benchmark's own, made
again for each run) instead of a new SQLite file.
Needs a release build (cargo build --release --bin mailroom) and the testbed.
"""

import argparse
import imaplib
import json
import os
import re
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from store_floor import postgres_floor, sqlite_floor
from benchlib import (create_app, mailroom_env, schema_reset, schema_url, seed_mailbox, start_mailroom,
                      testbed_env, user_credentials)



SCHEMA = "mailroom_bench_sync"
FLOOR_SCHEMA = "mailroom_bench_store_floor"
FLOOR_ITEMS = "(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)"
# What mailroom's sync asks for (crates/imap/src/fetch.rs, fetch_summaries).
MAILROOM_ITEMS = ("(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM "
                  "SENDER TO CC BCC REPLY-TO SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES CONTENT-TYPE)])")


def bare_fetch_seconds(port, email, password, folder="INBOX", items=FLOOR_ITEMS):
    """One UID FETCH of the metadata of every message, read to the tagged OK."""
    sock = socket.create_connection(("127.0.0.1", port))
    reader = sock.makefile("rb", buffering=1 << 20)

    def command(tag, text):
        sock.sendall(f"{tag} {text}\r\n".encode())
        total = 0
        while True:
            line = reader.readline()
            if not line:
                raise RuntimeError("connection closed")
            total += len(line)
            # Literals ({n}) are skipped whole so their bytes are not taken for lines.
            literal = re.search(rb"\{(\d+)\}\r\n$", line)
            if literal:
                n = int(literal.group(1))
                reader.read(n)
                total += n
                continue
            if line.startswith(tag.encode() + b" "):
                if b" OK" not in line[:12]:
                    raise RuntimeError(line)
                return total

    reader.readline()  # greeting
    command("a1", f'LOGIN "{email}" "{password}"')
    command("a2", f'SELECT "{folder}"')
    started = time.perf_counter()
    command("a3", f"UID FETCH 1:* {items}")
    seconds = time.perf_counter() - started
    command("a4", "LOGOUT")
    sock.close()
    return seconds


def inbox_size(port, email, password):
    """How many messages the mailbox's INBOX holds."""
    client = imaplib.IMAP4("127.0.0.1", port)
    try:
        client.login(email, password)
        status, data = client.select("INBOX", readonly=True)
        if status != "OK":
            raise RuntimeError(f"SELECT INBOX: {data}")
        return int(data[0])
    finally:
        client.logout()


class Server:
    def __init__(self, env, database_url=None):
        self.data = tempfile.mkdtemp(prefix="mailroom-bench-")
        extra = {"MAILROOM_SYNC_POLL_SECS": "3600"}
        if database_url:
            schema_reset(database_url, SCHEMA)
            extra["MAILROOM_DATABASE_URL"] = schema_url(database_url, SCHEMA)
        self.env = mailroom_env(env, **extra)
        self.proc, self.url = start_mailroom(self.data, self.env, os.path.join(self.data, "server.log"))
        self.key = create_app(self.data, self.env, "bench")["api_key"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())

    def rss_mib(self):
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self):
        """User + system CPU time of the server process so far (all threads)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--user", default="user11")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-seed", action="store_true")
    parser.add_argument("--metadata-only", action="store_true",
                        help="stop once the mailbox is indexed; skip waiting for bodies")
    parser.add_argument("--database-url", help="postgres://… (the index goes to a schema of its own there)")
    args = parser.parse_args()

    env = testbed_env()
    email, password = user_credentials(args.user)
    if not args.no_seed:
        print(f"seeded: {seed_mailbox(args.user, args.count, args.seed)}")
    port = int(env["TESTBED_IMAP_PORT"])
    # The sync is waited for until it has indexed --count messages: a mailbox that holds
    # another number (emptied by a test run since it was seeded) would be waited on forever.
    held = inbox_size(port, email, password)
    if held != args.count:
        sys.exit(f"{email}'s INBOX holds {held} messages, not {args.count}: seed it (leave out --no-seed)")
    floors = [bare_fetch_seconds(port, email, password) for _ in range(3)]
    floor = min(floors)
    print(f"floor: bare UID FETCH of {args.count} messages (warm cache): best {floor:.3f} s "
          f"(runs: {', '.join(f'{f:.3f}' for f in floors)}) = {args.count / floor:,.0f} msg/s")

    print(f"index: {'PostgreSQL' if args.database_url else 'SQLite'}")
    server = Server(env, args.database_url)
    try:
        server.call("POST", "/v3/connectors", {"provider": "imap"})
        cpu_before = server.cpu_seconds()
        started = time.perf_counter()
        grant = server.call("POST", "/v3/connect/custom", {"provider": "imap", "settings": {
            "imap_username": email, "imap_password": password, "imap_host": "127.0.0.1",
            "imap_port": port, "imap_security": "none",
            "smtp_host": "127.0.0.1", "smtp_port": int(env["TESTBED_SUBMISSION_PORT"]), "smtp_security": "none"}})["data"]
        gid = grant["id"]
        first_page = first_snippets = indexed = None
        while True:
            now = time.perf_counter() - started
            if first_page is None or first_snippets is None:
                page = server.call("GET", f"/v3/grants/{gid}/messages?limit=50")
                if first_page is None and len(page["data"]) == 50:
                    first_page = now
                if len(page["data"]) == 50 and all(m["snippet"] for m in page["data"]):
                    first_snippets = now
            status = server.call("GET", f"/v3/grants/{gid}")["data"]
            progress = status.get("sync_progress") or {}
            if indexed is None and status.get("sync_state") == "running" \
                    and progress.get("messages_synced", 0) >= args.count:
                indexed = now
                cpu_indexed = server.cpu_seconds() - cpu_before
            if indexed is not None and first_snippets is not None:
                break
            if now > 1800:
                sys.exit("sync did not finish in 30 minutes")
            # Fine-grained until the first page, then gentle: polling costs the server CPU.
            time.sleep(0.01 if first_snippets is None else 0.05)
        # Bodies: every message's body and snippet read.
        while not args.metadata_only:
            progress = server.call("GET", f"/v3/grants/{gid}")["data"]["sync_progress"]
            if progress["bodies_synced"] >= progress["messages_synced"]:
                bodies = time.perf_counter() - started
                break
            if time.perf_counter() - started > 3600:
                sys.exit("bodies were not read in an hour")
            time.sleep(0.05)
        rss = server.rss_mib()
        latencies = []
        for _ in range(200):
            t = time.perf_counter()
            server.call("GET", f"/v3/grants/{gid}/messages?limit=50")
            latencies.append((time.perf_counter() - t) * 1000)
        latencies.sort()
        print(f"mailroom: first page of 50 after {first_page:.3f} s, with every snippet after {first_snippets:.3f} s")
        cold = "" if args.no_seed else f" ({indexed / floors[0]:.2f}x the first, cold-cache bare fetch)"
        print(f"mailroom: {args.count} messages indexed (metadata) in {indexed:.3f} s "
              f"= {indexed / floor:.2f}x the floor{cold}")
        print(f"mailroom: CPU used until indexed {cpu_indexed:.3f} s (all threads)")
        if not args.metadata_only:
            print(f"mailroom: every body read after {bodies:.3f} s = {bodies / floor:.2f}x the floor")
        print(f"mailroom: RSS after sync {rss:.1f} MiB (server log: {server.data}/server.log)")
        print(f"GET /messages?limit=50: p50 {statistics.median(latencies):.2f} ms, "
              f"p99 {latencies[int(len(latencies) * 0.99) - 1]:.2f} ms")
    finally:
        server.stop()
    # After mailroom's run, so that its sync did not find these fields cached by us.
    own = min(bare_fetch_seconds(port, email, password, items=MAILROOM_ITEMS) for _ in range(3))
    print(f"context: the FETCH mailroom's sync sends, bare (best of 3, after the run): {own:.3f} s")
    # What the store alone costs for the same rows (store_floor.py).
    if args.database_url:
        store_wall, per_table = postgres_floor(args.database_url, SCHEMA, FLOOR_SCHEMA)
        store_cpu = ""
    else:
        store_wall, cpu, per_table = sqlite_floor(os.path.join(server.data, "mailroom.db"),
                                                  os.path.join(server.data, "store-floor.db"))
        store_cpu = f", CPU {cpu:.3f} s"
    print(f"store floor: the index's rows copied into an empty store of the same schema, one "
          f"INSERT … SELECT per table: {store_wall:.3f} s{store_cpu} = {store_wall / floor:.2f}x the "
          f"IMAP floor; mailroom's sync took {indexed / store_wall:.2f}x that")
    print("store floor by table: " + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in per_table.items()))


if __name__ == "__main__":
    main()
