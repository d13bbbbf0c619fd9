#!/usr/bin/env python3
"""Send benchmark: messages per second through mailroom against direct SMTP submission,
measured in the same run, on the same testbed submission server.

Three phases (mailroom first, on the freshly wiped mailbox; then, with mailroom stopped,
the two SMTP ones), each sending --count small messages (about 1 KB of text, to the benchmark
user itself) from --concurrency clients at once:

  * smtp-session: the floor. Each client opens one submission session (STARTTLS, AUTH
    PLAIN with smtplib) and sends its share of the messages over it;
  * smtp-per-message: each message on its own session (connect, STARTTLS, AUTH, MAIL,
    RCPT, DATA, QUIT), which is what mailroom does per send today;
  * mailroom: each client keeps one HTTP connection to `mailroom serve` and POSTs
    /v3/grants/{id}/messages/send with a JSON body (to, subject, body). A send is answered
    once the message is submitted and its copy is filed in Sent.

It prints each phase's rate (messages / wall time of the phase), p50 and p99 latency of a
single send, the ratios mailroom ÷ each SMTP phase, and how long Dovecot took afterwards
to hold every delivered message (the phases wait for that, so one phase's deliveries do not
slow the next). A few unmeasured sends warm each path up first.

Usage: bench/send.py [--count 200] [--concurrency 4] [--user user30] [--tls starttls|none]
Needs the testbed and a mailroom binary: target/release/mailroom by default
(cargo build --release --bin mailroom), or MAILROOM_BIN=target/debug/mailroom.
The user's mailbox is wiped first.
"""

import argparse
import http.client
import imaplib
import json
import os
import re
import smtplib
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from datetime import datetime, timezone

from benchlib import ROOT, BIN, testbed_env, percentile, create_app, mailroom_env, start_mailroom

WARMUP = 5
DRAIN_DEADLINE = 300.0
BODY = ("This is a benchmark message of about one kilobyte. " * 20).strip() + "\n"




class Phase:
    """Runs `count` sends on `concurrency` workers; each worker gets a shard of indexes."""

    def __init__(self, name, count, concurrency):
        self.name, self.count, self.concurrency = name, count, concurrency
        self.latencies = []
        self.lock = threading.Lock()
        self.seconds = None

    def run(self, worker):
        shards = [list(range(i, self.count, self.concurrency)) for i in range(self.concurrency)]
        started = time.perf_counter()
        with ThreadPoolExecutor(self.concurrency) as pool:
            for future in [pool.submit(worker, shard, self) for shard in shards]:
                future.result()  # re-raises a worker's failure
        self.seconds = time.perf_counter() - started
        if len(self.latencies) != self.count:
            raise RuntimeError(f"{self.name}: {len(self.latencies)} of {self.count} sends recorded")

    def timed(self, send):
        t = time.perf_counter()
        send()
        elapsed = time.perf_counter() - t
        with self.lock:
            self.latencies.append(elapsed)

    @property
    def rate(self):
        return self.count / self.seconds

    def summary(self):
        ms = sorted(x * 1000 for x in self.latencies)
        return (f"{self.name:17s} {self.rate:8.1f} msg/s  ({self.count} in {self.seconds:.2f} s)  "
                f"latency p50 {statistics.median(ms):7.1f} ms  p99 {percentile(ms, 0.99):7.1f} ms")


# --------------------------------------------------------------------------- direct SMTP


class Smtp:
    def __init__(self, env, email, password, tls):
        self.host = "localhost"
        self.port = int(env["TESTBED_SUBMISSION_PORT"])
        self.context = ssl.create_default_context(cafile=env["TESTBED_CA"])
        self.email, self.password, self.tls = email, password, tls

    def session(self):
        smtp = smtplib.SMTP(self.host, self.port, timeout=60)
        if self.tls == "starttls":
            smtp.starttls(context=self.context)
        smtp.login(self.email, self.password)
        return smtp

    def message(self, label, i):
        msg = EmailMessage()
        msg["From"] = self.email
        msg["To"] = self.email
        msg["Subject"] = f"bench send {label} {i}"
        msg["Date"] = format_datetime(datetime.now(timezone.utc))
        msg["Message-ID"] = make_msgid(domain="example.test")
        msg.set_content(BODY)
        return msg.as_bytes()

    def send(self, smtp, label, i):
        refused = smtp.sendmail(self.email, [self.email], self.message(label, i))
        if refused:
            raise RuntimeError(f"SMTP refused {refused}")

    def session_worker(self, label):
        def worker(shard, phase):
            smtp = self.session()
            try:
                for i in shard:
                    phase.timed(lambda: self.send(smtp, label, i))
            finally:
                smtp.quit()
        return worker

    def per_message_worker(self, label):
        def worker(shard, phase):
            def one(i):
                smtp = self.session()
                try:
                    self.send(smtp, label, i)
                finally:
                    smtp.quit()
            for i in shard:
                phase.timed(lambda: one(i))
        return worker


# --------------------------------------------------------------------------- mailroom


class Server:
    def __init__(self, env):
        self.data = tempfile.mkdtemp(prefix="mailroom-bench-send-")
        self.env = mailroom_env(env)
        self.proc, self.url = start_mailroom(self.data, self.env, os.path.join(self.data, "server.log"))
        self.key = create_app(self.data, self.env, "bench-send")["api_key"]
        parsed = urllib.parse.urlsplit(self.url)
        self.host, self.port = parsed.hostname, parsed.port

    def connection(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def call(self, method, path, body=None, connection=None):
        own = connection is None
        connection = connection or self.connection()
        try:
            connection.request(method, path, body=json.dumps(body) if body is not None else None, headers={
                "Authorization": f"Bearer {self.key}", "Content-Type": "application/json"})
            response = connection.getresponse()
            payload = response.read()
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {payload[:500]!r}")
            return json.loads(payload)
        finally:
            if own:
                connection.close()

    def send_worker(self, grant_id, email, label):
        def worker(shard, phase):
            connection = self.connection()
            try:
                for i in shard:
                    body = {"to": [{"email": email}], "subject": f"bench send {label} {i}", "body": BODY}
                    phase.timed(lambda: self.call("POST", f"/v3/grants/{grant_id}/messages/send", body, connection))
            finally:
                connection.close()
        return worker

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- the mailbox


def mailbox_counts(env, email, password):
    imap = imaplib.IMAP4("127.0.0.1", int(env["TESTBED_IMAP_PORT"]), timeout=30)
    try:
        imap.login(email, password)
        counts = {}
        for folder in ("INBOX", "Sent"):
            typ, data = imap.status(folder, "(MESSAGES)")
            counts[folder] = int(re.search(rb"MESSAGES (\d+)", data[0]).group(1))
        return counts
    finally:
        imap.logout()


def drain(env, email, password, inbox, sent=None):
    """Waits until INBOX holds `inbox` messages (and Sent `sent`); returns the seconds waited."""
    started = time.perf_counter()
    while True:
        counts = mailbox_counts(env, email, password)
        if counts["INBOX"] >= inbox and (sent is None or counts["Sent"] >= sent):
            return time.perf_counter() - started
        if time.perf_counter() - started > DRAIN_DEADLINE:
            sys.exit(f"deliveries did not arrive within {DRAIN_DEADLINE:.0f} s: {counts}, "
                     f"want INBOX {inbox}, Sent {sent}")
        time.sleep(0.05)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--user", default="user30")
    parser.add_argument("--tls", choices=("starttls", "none"), default="starttls",
                        help="submission security, the same for mailroom's grant and for smtplib")
    args = parser.parse_args()
    if args.count < 1 or args.concurrency < 1:
        sys.exit("--count and --concurrency must be positive")

    env = testbed_env()
    number = int(args.user.removeprefix("user"))
    email, password = f"user{number}@{env.get('TESTBED_DOMAIN', 'example.test')}", f"pass{number}"
    subprocess.run([ROOT / "testbed" / "reset-user", "--wipe", args.user], check=True, capture_output=True)
    print(f"{args.count} messages per phase, {args.concurrency} concurrent clients, {email}, "
          f"submission with {args.tls}, mailroom {BIN}")

    smtp = Smtp(env, email, password, args.tls)
    delivered = 0

    def phase(name, make_worker, sent=None):
        nonlocal delivered
        warm = Phase(f"{name} warm-up", WARMUP, 1)
        warm.run(make_worker("warmup"))
        measured = Phase(name, args.count, args.concurrency)
        measured.run(make_worker(name))
        delivered += WARMUP + args.count
        waited = drain(env, email, password, delivered, sent)
        return measured, waited

    server = Server(env)
    try:
        server.call("POST", "/v3/connectors", {"provider": "imap"})
        settings = {
            "imap_username": email, "imap_password": password,
            "imap_host": "localhost", "imap_port": int(env["TESTBED_IMAP_PORT"]),
            "smtp_host": "localhost", "smtp_port": int(env["TESTBED_SUBMISSION_PORT"]),
        }
        if args.tls == "none":
            settings.update({"imap_security": "none", "smtp_security": "none"})
        grant_id = server.call("POST", "/v3/connect/custom", {"provider": "imap", "settings": settings})["data"]["id"]
        deadline = time.monotonic() + 120
        while server.call("GET", f"/v3/grants/{grant_id}")["data"].get("sync_state") != "running":
            if time.monotonic() > deadline:
                sys.exit("the grant's initial sync did not finish in 120 s")
            time.sleep(0.05)
        # The mailbox is empty: mailroom runs first, on a grant with nothing to catch up on.
        mailroom, mailroom_drain = phase(
            "mailroom", lambda label: server.send_worker(grant_id, email, label), sent=WARMUP + args.count)
    finally:
        server.stop()

    # After mailroom has stopped, so that its sync does not run beside the floor.
    session, session_drain = phase("smtp-session", smtp.session_worker)
    per_message, per_message_drain = phase("smtp-per-message", smtp.per_message_worker)

    for p, waited in ((session, session_drain), (per_message, per_message_drain), (mailroom, mailroom_drain)):
        print(f"{p.summary()}  (all delivered {waited:.2f} s after the last send)")
    print(f"ratio mailroom / smtp-session:     {mailroom.rate / session.rate:.2f}")
    print(f"ratio mailroom / smtp-per-message: {mailroom.rate / per_message.rate:.2f}")
    print(f"(server log: {server.data}/server.log)")


if __name__ == "__main__":
    main()
