#!/usr/bin/env python3
"""Tracking hits benchmark: what loading a tracked message's image and following its link
cost mailroom, against the cheapest request it answers (`GET /healthz`) in the same run,
with --messages tracked messages in the store.

Setup: a fresh `mailroom serve` (SQLite in its data directory, `public_url` set, and
127.0.0.1 a trusted proxy so that every hit can name its own client network in
`X-Forwarded-For`), an IMAP grant on user518, a webhook on `message.opened` and
`message.link_clicked` pointing at a receiver in this script (it answers the challenge and
every POST with 200), and --messages tracked messages with two links each, written
straight into the store's tables as a send would have (random tokens, kept only hashed).

Phases, each --requests requests from --concurrency clients over keep-alive connections:

  * floor: `GET /healthz`;
  * opens: `GET /v3/tracking/{token}/open.gif` for a random message, from a client network
    of its own (so every hit is counted, recorded and announced);
  * clicks: `GET /v3/tracking/{token}/links/{0|1}` for a random message (302 to the link).

It prints requests per second and p50/p99 latency of each phase, the ratios of opens and
clicks to the floor, checks that every hit was counted and announced once (the
notifications recorded in the store), then waits for the receiver to have every
notification and prints how fast the rest drained. Exit status 1 if any was missing.

Usage: bench/tracking_hits.py [--messages 100000] [--requests 5000] [--concurrency 8]
Needs the testbed and a mailroom binary: target/release/mailroom by default
(cargo build --release --bin mailroom), or MAILROOM_BIN=target/debug/mailroom.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import secrets
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import benchlib

USER = "user518"


class Receiver:
    """Answers the webhook challenge and every notification with 200; counts them."""

    def __init__(self):
        self.posts = 0
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                answer = (query.get("challenge") or [""])[0].encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    receiver.posts += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def api(base, key, method, path, body=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {key}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as reply:
        return json.loads(reply.read())


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def fill(db_path, grant_id, count):
    """`count` tracked messages with two links each, as a send records them; their tokens."""
    tokens = [base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
              for _ in range(count)]
    now = int(time.time())
    db = sqlite3.connect(db_path, timeout=60)
    with db:
        db.executemany(
            "INSERT INTO tracked_messages (token_hash, grant_id, message_id_header, label, "
            "opens, links, created_at) VALUES (?, ?, ?, 'bench', 1, 1, ?)",
            ((token_hash(t), grant_id, f"bench-{i}@example.test", now) for i, t in enumerate(tokens)))
        db.executemany(
            "INSERT INTO tracked_links (token_hash, link_index, url) VALUES (?, ?, ?)",
            ((token_hash(t), n, f"https://shop.example.com/{i}/{n}")
             for i, t in enumerate(tokens) for n in (0, 1)))
    db.close()
    return tokens


def run_phase(base, paths, concurrency, expect):
    """GETs every path (each a (path, headers) pair) from `concurrency` keep-alive clients;
    returns (seconds, sorted latencies, wrong answers)."""
    host = urllib.parse.urlparse(base)
    chunks = [paths[i::concurrency] for i in range(concurrency)]
    latencies, wrong, lock = [], [], threading.Lock()

    def client(chunk):
        connection = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        mine, bad = [], []
        for path, headers in chunk:
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            reply = connection.getresponse()
            reply.read()
            mine.append(time.perf_counter() - started)
            if reply.status != expect:
                bad.append((path, reply.status))
        connection.close()
        with lock:
            latencies.extend(mine)
            wrong.extend(bad)

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, sorted(latencies), wrong


def report(name, seconds, latencies, floor=None):
    rate = len(latencies) / seconds
    p50, p99 = benchlib.percentile(latencies, 0.50), benchlib.percentile(latencies, 0.99)
    line = f"{name:<7} {rate:9.0f} req/s   p50 {p50 * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms"
    if floor:
        line += (f"   ratio to floor: throughput {floor[0] / rate:5.2f}x slower, "
                 f"p50 {p50 / floor[1]:5.2f}x, p99 {p99 / floor[2]:5.2f}x")
    print(line, flush=True)
    return rate, p50, p99


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--drain-timeout", type=float, default=600.0,
                        help="seconds to wait for every notification to be delivered")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()

    testbed = benchlib.testbed_env()
    data_dir = tempfile.mkdtemp(prefix="mailroom-bench-tracking-")
    env = benchlib.mailroom_env(testbed, MAILROOM_PUBLIC_URL="http://127.0.0.1",
                                MAILROOM_TRUSTED_PROXIES="127.0.0.1")
    app = benchlib.create_app(data_dir, env, "bench-tracking")
    proc, base = benchlib.start_mailroom(data_dir, env, os.path.join(data_dir, "serve.log"))
    failed = False
    try:
        key = app["api_key"]
        email, password = benchlib.user_credentials(USER)
        api(base, key, "POST", "/v3/connectors", {"provider": "imap"})
        grant = api(base, key, "POST", "/v3/connect/custom", {"provider": "imap", "settings": {
            "imap_username": email, "imap_password": password,
            "imap_host": "localhost", "imap_port": int(testbed["TESTBED_IMAP_PORT"]),
            "smtp_host": "localhost", "smtp_port": int(testbed["TESTBED_SUBMISSION_PORT"]),
        }})["data"]
        receiver = Receiver()
        api(base, key, "POST", "/v3/webhooks", {
            "trigger_types": ["message.opened", "message.link_clicked"],
            "webhook_url": receiver.url,
        })
        started = time.perf_counter()
        tokens = fill(os.path.join(data_dir, "mailroom.db"), grant["id"], args.messages)
        print(f"{args.messages} tracked messages ({2 * args.messages} links) written in "
              f"{time.perf_counter() - started:.1f} s; {args.requests} requests per phase, "
              f"{args.concurrency} clients", flush=True)

        rng = random.Random(5)
        # Every hit from a /24 of its own, so none is a repeat or past a network's share.
        def client_headers(n):
            return {"User-Agent": f"bench/{n}",
                    "X-Forwarded-For": f"10.{n >> 8 & 255}.{n & 255}.7"}

        floor = report("floor", *run_phase(base, [("/healthz", {})] * args.requests,
                                           args.concurrency, 200)[:2])
        opens = [(f"/v3/tracking/{rng.choice(tokens)}/open.gif", client_headers(n))
                 for n in range(args.requests)]
        seconds, latencies, wrong = run_phase(base, opens, args.concurrency, 200)
        report("opens", seconds, latencies, floor)
        failed |= bool(wrong)
        clicks = [(f"/v3/tracking/{rng.choice(tokens)}/links/{n % 2}", client_headers(args.requests + n))
                  for n in range(args.requests)]
        seconds, latencies, wrong_clicks = run_phase(base, clicks, args.concurrency, 302)
        report("clicks", seconds, latencies, floor)
        failed |= bool(wrong_clicks)
        for path, status in (wrong + wrong_clicks)[:5]:
            print(f"WRONG ANSWER {status} for {path}")

        db = sqlite3.connect(os.path.join(data_dir, "mailroom.db"), timeout=60)
        counted = db.execute("SELECT SUM(open_count), SUM(click_count) FROM tracked_messages").fetchone()
        announced = dict(db.execute(
            "SELECT trigger_type, COUNT(*) FROM webhook_notifications GROUP BY trigger_type").fetchall())
        db.close()
        print(f"counted: {counted[0]} opens, {counted[1]} clicks; announced: "
              f"{announced.get('message.opened', 0)} opened, {announced.get('message.link_clicked', 0)} "
              f"link_clicked; the receiver has had {receiver.posts} so far")
        # The notifications go out after the hits: how long until the receiver has them all.
        target, waited_from, seen = 2 * args.requests, time.perf_counter(), receiver.posts
        deadline = waited_from + args.drain_timeout
        while receiver.posts < target and time.perf_counter() < deadline:
            time.sleep(0.2)
        drained = time.perf_counter() - waited_from
        print(f"delivered: {receiver.posts} of {target} notifications, the last "
              f"{receiver.posts - seen} in {drained:.1f} s after the phases "
              f"({(receiver.posts - seen) / max(drained, 1e-9):.0f}/s)", flush=True)
        failed |= receiver.posts < target
        expected = (args.requests, args.requests)
        if tuple(counted) != expected or (announced.get("message.opened"),
                                          announced.get("message.link_clicked")) != expected:
            print(f"MISMATCH: expected {expected[0]} of each counted and announced")
            failed = True
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if args.keep:
            print(f"data directory kept: {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
