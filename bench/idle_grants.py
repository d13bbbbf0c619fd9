#!/usr/bin/env python3
"""Idle grants benchmark: what N idle grants cost (IMAP connections on the server, mailroom's
memory) and how fast new mail reaches the application across them, against the IDLE floor
measured in the same run.

  * floor (first; mailroom not running): a bare IMAP client on one connection (LOGIN,
    SELECT INBOX, IDLE) for the first user; --count messages are submitted to it one at a
    time (smtplib, STARTTLS with the testbed CA, AUTH as the testbed's sink user), --interval apart,
    each waited for. A message is seen when its `* N EXISTS` arrives.
  * mailroom: a fresh `mailroom serve` (default settings, or NOTIFY ignored with
    `--mode status`), an application, an empty baseline RSS, then one IMAP grant
    (STARTTLS) for each of users 1..N (emptied first). Once every grant reports
    `sync_state: running`, it waits --settle seconds and reads: the IMAP sessions Dovecot
    holds for those users (`doveadm who -1`), mailroom's RSS (VmRSS) and its CPU time over
    the next --settle seconds. RSS per grant is (RSS now − the baseline) ÷ N. Then
    --count messages go to random grants, one at a time and --interval apart, and each is
    seen when the `message.created` notification announcing it has been read by the
    receiver in this script.

It prints connections per grant, RSS per grant (target ≤ 64 KiB), idle CPU, and
message.created p50/p90/p99 against the floor. Exit status 1 if a message is never
announced.

Usage: bench/idle_grants.py [--grants 1000] [--count 200] [--interval 0.05] [--settle 10]
       [--mode notify|status]
Needs a testbed with TESTBED_USERS ≥ grants (users are emptied) and
target/release/mailroom (or MAILROOM_BIN). Raise `ulimit -n` for large N.
"""

import argparse
import json
import os
import random
import re
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
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from benchlib import ROOT, create_app, mailroom_env, percentile, start_mailroom, testbed_env

SYNC_DEADLINE = 900.0
TARGET_RSS_KIB = 64


def wait_for(what, deadline_seconds, check, step=0.02):
    deadline = time.monotonic() + deadline_seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {deadline_seconds:.0f} s waiting for {what}")
        time.sleep(step)


def user(env, number):
    return f"user{number}@{env.get('TESTBED_DOMAIN', 'example.test')}", f"pass{number}"


class Sender:
    def __init__(self, env):
        # The testbed's sink user sends: every numbered user can be a grant.
        self.email, password = env["TESTBED_SINK_USER"], env["TESTBED_SINK_PASSWORD"]
        context = ssl.create_default_context(cafile=env["TESTBED_CA"])
        self.smtp = smtplib.SMTP("localhost", int(env["TESTBED_SUBMISSION_PORT"]), timeout=60)
        self.smtp.starttls(context=context)
        self.smtp.login(self.email, password)

    def send(self, to, subject):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.email, to, subject
        msg.set_content("An idle grants benchmark message.\n")
        self.smtp.sendmail(self.email, [to], msg.as_bytes())
        return time.perf_counter()

    def close(self):
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass


def floor_phase(env, args):
    email, password = user(env, 1)
    sock = socket.create_connection(("127.0.0.1", int(env["TESTBED_IMAP_PORT"])))
    buffer = b""

    def line(timeout):
        nonlocal buffer
        while b"\r\n" not in buffer:
            if not select.select([sock], [], [], timeout)[0]:
                return None
            buffer += sock.recv(65536)
        one, buffer = buffer.split(b"\r\n", 1)
        return one

    def command(tag, text):
        sock.sendall(f"{tag} {text}\r\n".encode())
        while not (line(30) or b"").startswith(tag.encode() + b" "):
            pass

    line(30)
    command("a", f"LOGIN {email} {password}")
    command("b", "SELECT INBOX")
    sock.sendall(b"c IDLE\r\n")
    while not (line(30) or b"+").startswith(b"+"):
        pass
    sender = Sender(env)
    latencies = []
    for i in range(args.count):
        sent = sender.send(email, f"idle-grants floor {i}")
        while True:
            got = line(30)
            if got is None:
                raise TimeoutError("the floor's EXISTS")
            if re.match(rb"\* \d+ EXISTS", got):
                latencies.append(time.perf_counter() - sent)
                break
        time.sleep(args.interval)
    sender.close()
    sock.close()
    return latencies


class Receiver:
    def __init__(self):
        self.lock = threading.Lock()
        self.created = {}  # subject -> perf_counter
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                body = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("challenge", [""])[0].encode()
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
                    subject = json.loads(body)["data"]["object"]["subject"]
                except (ValueError, KeyError, TypeError):
                    return
                with receiver.lock:
                    receiver.created.setdefault(subject, received)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for row in status:
            if row.startswith("VmRSS:"):
                return int(row.split()[1])
    return 0


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def imap_sessions(env, emails):
    out = subprocess.run(["doveadm", "-c", env["TESTBED_DOVECOT_CONF"], "who", "-1"],
                         check=True, capture_output=True, text=True).stdout
    return sum(1 for row in out.splitlines()[1:] if row.split() and row.split()[0] in emails)


def mailroom_phase(env, args):
    extra = {
        # N grants are N password checks against one host, made at once.
        "MAILROOM_SIGN_IN_ATTEMPTS_PER_HOST_PER_MINUTE": "1000000",
        "MAILROOM_SIGN_IN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE": "1000000",
        "MAILROOM_MAX_CONNECTIONS": "8192",
    }
    if args.mode == "status":
        extra["MAILROOM_SYNC_IGNORE_CAPABILITIES"] = "NOTIFY"
    data = tempfile.mkdtemp(prefix="mailroom-bench-idle-")
    menv = mailroom_env(env, log="warn", **extra)
    log_path = os.path.join(data, "server.log")
    proc, url = start_mailroom(data, menv, log_path)
    key = create_app(data, menv, "bench-idle")["api_key"]

    def call(method, path, body=None):
        request = urllib.request.Request(url + path, data=json.dumps(body).encode() if body is not None else None,
                                         method=method, headers={"Authorization": f"Bearer {key}",
                                                                 "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None

    receiver = Receiver()
    try:
        call("POST", "/v3/connectors", {"provider": "imap"})
        call("POST", "/v3/webhooks", {"trigger_types": ["message.created"], "webhook_url": receiver.url})
        time.sleep(1)
        baseline = rss_kib(proc.pid)
        emails = {user(env, n)[0] for n in range(1, args.grants + 1)}

        def connect(n):
            email, password = user(env, n)
            return email, call("POST", "/v3/connect/custom", {"provider": "imap", "settings": {
                "imap_username": email, "imap_password": password, "imap_host": "localhost",
                "imap_port": int(env["TESTBED_IMAP_PORT"]), "imap_security": "starttls",
                "smtp_host": "localhost", "smtp_port": int(env["TESTBED_SUBMISSION_PORT"]),
                "smtp_security": "starttls"}})["data"]["id"]

        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            grants = dict(pool.map(connect, range(1, args.grants + 1)))

        def all_running():
            running, cursor = 0, None
            while True:
                page = call("GET", "/v3/grants?limit=200" + (f"&offset={cursor}" if cursor else ""))
                running += sum(1 for g in page["data"] if g.get("sync_state") == "running")
                if len(page["data"]) < 200:
                    return running >= args.grants
                cursor = (cursor or 0) + 200

        wait_for("every grant's initial sync", SYNC_DEADLINE, all_running, step=1.0)
        synced = time.perf_counter() - started
        time.sleep(args.settle)
        sessions = imap_sessions(env, emails)
        rss = rss_kib(proc.pid)
        cpu_before = cpu_seconds(proc.pid)
        time.sleep(args.settle)
        idle_cpu = (cpu_seconds(proc.pid) - cpu_before) / args.settle
        sessions_after = imap_sessions(env, emails)

        sender = Sender(env)
        rng = random.Random(1)
        sent = {}
        for i in range(args.count):
            email = rng.choice(sorted(grants))
            subject = f"idle-grants {i} {email}"
            sent[subject] = sender.send(email, subject)
            time.sleep(args.interval)
        sender.close()
        try:
            wait_for("every message.created", 60, lambda: len(receiver.created.keys() & sent.keys()) == len(sent))
        except TimeoutError:
            pass
        with receiver.lock:
            latencies = [receiver.created[s] - t for s, t in sent.items() if s in receiver.created]
        missing = len(sent) - len(latencies)
        peak = rss_kib(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        receiver.server.shutdown()
    return {"baseline": baseline, "rss": rss, "peak": peak, "sessions": sessions,
            "sessions_after": sessions_after, "idle_cpu": idle_cpu, "synced": synced,
            "latencies": latencies, "missing": missing, "log": log_path}


def describe(name, values):
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return f"{name:10s} nothing seen", None
    p = {q: percentile(ms, q) for q in (0.5, 0.9, 0.99)}
    return (f"{name:10s} {len(ms):4d}  p50 {p[0.5]:7.1f} ms  p90 {p[0.9]:7.1f} ms  p99 {p[0.99]:7.1f} ms  "
            f"max {ms[-1]:7.1f} ms"), p


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=1000)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--mode", choices=["notify", "status"], default="notify")
    args = parser.parse_args()
    env = testbed_env()
    if int(env.get("TESTBED_USERS", "0")) < args.grants:
        sys.exit(f"the testbed has {env.get('TESTBED_USERS')} users; restart it with TESTBED_USERS={args.grants}")
    subprocess.run([ROOT / "testbed" / "reset-user", *(f"user{n}" for n in range(1, args.grants + 1))],
                   check=True, capture_output=True)
    floor_line, floor = describe("floor", floor_phase(env, args))
    result = mailroom_phase(env, args)
    n = args.grants
    per_grant = (result["rss"] - result["baseline"]) / n
    print(f"{n} idle grants ({args.mode}); initial syncs done in {result['synced']:.1f} s")
    print(f"IMAP sessions on the server: {result['sessions']} ({result['sessions'] / n:.2f} per grant), "
          f"{result['sessions_after']} {args.settle:.0f} s later")
    print(f"mailroom RSS: baseline {result['baseline']} KiB, with the grants {result['rss']} KiB: "
          f"{per_grant:.1f} KiB per grant (target <= {TARGET_RSS_KIB}: "
          f"{'met' if per_grant <= TARGET_RSS_KIB else 'NOT met'}); after the mail {result['peak']} KiB")
    print(f"mailroom CPU while idle: {result['idle_cpu'] * 100:.1f} % of one core")
    print(floor_line)
    line, p = describe("mailroom", result["latencies"])
    print(line)
    if p and floor:
        print(f"ratio mailroom / floor: p50 {p[0.5] / floor[0.5]:.2f}  p99 {p[0.99] / floor[0.99]:.2f}")
    if result["missing"]:
        print(f"!!! {result['missing']} messages never announced; server log {result['log']}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
