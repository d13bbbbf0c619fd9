#!/usr/bin/env python3
"""Cluster takeover benchmark (issue 13): 1, 2 and 3 `mailroom serve` nodes on one
PostgreSQL share --grants IMAP grants; one node is killed with SIGKILL and the survivors
take its grants over.

For each node count N (--nodes, default 1,2,3), in a fresh PostgreSQL schema
(`mr_bench_cluster`, dropped at the end) with the testbed users user<F>..user<F+G-1>
emptied (F = --first-user, G = --grants):

  * N nodes start one after the other (the same database URL, the same
    MAILROOM_SECRET_KEY, MAILROOM_LEASE_SECS = --lease, each its own data dir); an
    application, an IMAP connector and a `message.created` webhook to a receiver in this
    script; G custom-auth grants, created through the nodes in turn. It waits until
    `mailroom grants status --json` shows every grant `running` with an owner, then until
    Dovecot holds one session per grant (`doveadm who -1`, at most 60 s), and reads the
    sessions per grant ("before").
  * steady state: --count messages to random grants, --interval apart; the latency of
    each is from smtplib's end of DATA to the `message.created` POST read in full.
  * takeover: the node owning the most grants is killed (SIGKILL). With N = 1 there is no
    survivor: a new node is started on the same data dir at once, so the figure is a
    crash-and-restart. Right after the kill one message goes to every orphaned grant. A
    grant is taken over when (a) `grants status` first shows it owned by another node
    (polled every 0.25 s) and (b) the webhook for its message arrives; both are timed
    from the kill. Meanwhile, the survivors' own grants get one message every --interval
    until the last orphan is announced: their latency from delivery is the webhook
    latency during the takeover.
  * after: Dovecot's sessions per grant again (once one each, at most 60 s), and every
    message's announcements: a subject with more than one distinct notification id is a
    duplicate, one never announced within --deadline of its delivery is missing.

It prints one table row per N: grants per node, the initial sync time, IMAP sessions per
grant before and after, takeover p50/p99 (to the new owner, to the first webhook),
webhook p50/p99 in steady state and during the takeover, duplicates and missing. Target
(issue 13): takeover p99 < 20 s at the default 15 s lease, no duplicate or missing
notification. Exit status 1 if anything is duplicated or missing.

Usage: bench/cluster.py [--grants 300] [--nodes 1,2,3] [--lease 15] [--first-user 201]
       [--count 100] [--interval 0.05] [--deadline 120]
       [--postgres postgres://postgres@127.0.0.1:5432/test]
Needs PostgreSQL (MAILROOM_TEST_POSTGRES or --postgres; psql on PATH), the testbed (it is
restarted with TESTBED_USERS = first user + grants - 1 if it has fewer users) and
target/release/mailroom (or MAILROOM_BIN).
"""

import argparse
import json
import os
import random
import re
import secrets
import signal
import smtplib
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

from benchlib import BIN, ROOT, mailroom_env, percentile, schema_url, testbed_env

SCHEMA = "mr_bench_cluster"


def wait_for(what, deadline_seconds, check, step=0.1):
    deadline = time.monotonic() + deadline_seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {deadline_seconds:.0f} s waiting for {what}")
        time.sleep(step)


class Receiver:
    """Records every `message.created` POST: subject -> [(monotonic time, notification id)]."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                query = urllib.parse.urlsplit(self.path).query
                body = urllib.parse.parse_qs(query).get("challenge", [""])[0].encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = time.monotonic()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    note = json.loads(body)
                    subject = note["data"]["object"]["subject"]
                except (ValueError, KeyError, TypeError):
                    return
                with receiver.lock:
                    receiver.seen.setdefault(subject, []).append((received, note.get("id")))

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, subject):
        with self.lock:
            posts = self.seen.get(subject)
            return posts[0][0] if posts else None

    def distinct_ids(self, subject):
        with self.lock:
            return len({note_id for _, note_id in self.seen.get(subject, [])})


class Sender:
    """One SMTP session on the testbed's unauthenticated SMTP port (open to loopback)."""

    def __init__(self, env):
        self.smtp = smtplib.SMTP("127.0.0.1", int(env["TESTBED_SMTP_PORT"]), timeout=60)
        self.lock = threading.Lock()

    def send(self, to, subject):
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "bench@example.test", to, subject
        msg.set_content("A cluster benchmark message.\n")
        with self.lock:
            self.smtp.sendmail("bench@example.test", [to], msg.as_bytes())
            return time.monotonic()

    def close(self):
        try:
            self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass


class Node:
    def __init__(self, name, data_dir, env):
        self.name, self.data_dir, self.env = name, data_dir, env
        self.start()

    def start(self):
        log = open(os.path.join(self.data_dir, "server.log"), "a")
        self.proc = subprocess.Popen(
            [BIN, "--data-dir", self.data_dir, "serve", "--listen", "127.0.0.1:0"],
            env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        self.url = self.node_id = None
        for line in self.proc.stdout:
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
            elif line.startswith("node ") and self.url:
                self.node_id = line.split()[1]
                break
        if self.node_id is None:
            raise RuntimeError(f"{self.name} did not announce its address and node id; "
                               f"see {self.data_dir}/server.log")
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def cli(env, data_dir, *args):
    out = subprocess.run([BIN, "--data-dir", data_dir, *args], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def imap_sessions(env, emails):
    out = subprocess.run(["doveadm", "-c", env["TESTBED_DOVECOT_CONF"], "who", "-1"],
                         check=True, capture_output=True, text=True).stdout
    counts = {}
    for row in out.splitlines()[1:]:
        fields = row.split()
        if len(fields) >= 2 and fields[1] == "imap" and fields[0] in emails:
            counts[fields[0]] = counts.get(fields[0], 0) + 1
    return counts


def psql(url, sql):
    # Without the NOTICE of every table a CASCADE drops.
    env = dict(os.environ, PGOPTIONS="-c client_min_messages=warning")
    subprocess.run(["psql", url, "-q", "-c", sql], env=env, check=True)


def quantiles(values):
    ordered = sorted(values)
    if not ordered:
        return None, None
    return percentile(ordered, 0.5), percentile(ordered, 0.99)


def run(tb, args, n_nodes, postgres):
    users = list(range(args.first_user, args.first_user + args.grants))
    emails = {f"user{u}@example.test": u for u in users}
    subprocess.run([ROOT / "testbed" / "reset-user", *(f"user{u}" for u in users)],
                   check=True, capture_output=True)
    psql(postgres, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}")
    top = tempfile.mkdtemp(prefix="mailroom-bench-cluster-")
    env = mailroom_env(
        tb, log="warn,mailroom=info",
        MAILROOM_DATABASE_URL=schema_url(postgres, SCHEMA),
        MAILROOM_SECRET_KEY=secrets.token_hex(32),
        MAILROOM_LEASE_SECS=str(args.lease),
        MAILROOM_SIGN_IN_ATTEMPTS_PER_HOST_PER_MINUTE="1000000",
        MAILROOM_SIGN_IN_ATTEMPTS_PER_IP_PER_MINUTE="1000000",
        MAILROOM_SIGN_IN_ATTEMPTS_PER_ACCOUNT_PER_MINUTE="1000000",
        MAILROOM_MAX_CONNECTIONS="8192",
    )
    nodes = []
    receiver = Receiver()
    sender = Sender(tb)
    row = {"nodes": n_nodes}
    try:
        for i in range(n_nodes):
            data_dir = os.path.join(top, f"node{i + 1}")
            os.makedirs(data_dir)
            nodes.append(Node(f"node{i + 1}", data_dir, env))
        cli_dir = os.path.join(top, "cli")
        key = cli(env, cli_dir, "app", "create", "--name", "bench-cluster", "--json")["api_key"]

        def call(url, method, path, body=None):
            request = urllib.request.Request(
                url + path, data=json.dumps(body).encode() if body is not None else None, method=method,
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as e:
                raise RuntimeError(f"{method} {path}: {e.code} {e.read()[:300]!r}") from None

        call(nodes[0].url, "POST", "/v3/connectors", {"provider": "imap"})
        call(nodes[-1].url, "POST", "/v3/webhooks",
             {"trigger_types": ["message.created"], "webhook_url": receiver.url})

        def connect(i_user):
            i, u = i_user
            reply = call(nodes[i % n_nodes].url, "POST", "/v3/connect/custom", {"provider": "imap", "settings": {
                "imap_username": f"user{u}@example.test", "imap_password": f"pass{u}",
                "imap_host": "localhost", "imap_port": int(tb["TESTBED_IMAP_PORT"]),
                "imap_security": "starttls", "smtp_host": "localhost",
                "smtp_port": int(tb["TESTBED_SUBMISSION_PORT"]), "smtp_security": "starttls"}})
            return u, reply["data"]["id"]

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            grants = dict(pool.map(connect, enumerate(users)))
        user_of = {g: u for u, g in grants.items()}

        def status():
            return {r["grant_id"]: r for r in cli(env, cli_dir, "grants", "status", "--json")
                    if r["grant_id"] in user_of}

        def all_owned():
            rows = status()
            live = {n.node_id for n in nodes if n.proc.poll() is None}
            ok = len(rows) == len(grants) and all(
                r.get("owner_node") in live and r["sync_state"] == "running" for r in rows.values())
            return rows if ok else None

        rows = wait_for("every grant running and owned", 900, all_owned, step=1.0)
        row["sync_s"] = time.monotonic() - started
        per_node = {}
        for r in rows.values():
            per_node[r["owner_node"]] = per_node.get(r["owner_node"], 0) + 1
        row["per_node"] = "/".join(str(per_node.get(n.node_id, 0)) for n in nodes)
        try:
            wait_for("one IMAP session per grant", 60,
                     lambda: all(c == 1 for c in imap_sessions(tb, emails).values())
                     and len(imap_sessions(tb, emails)) == len(emails), step=0.5)
        except TimeoutError:
            pass
        row["sessions_before"] = sum(imap_sessions(tb, emails).values()) / len(grants)

        # Steady state.
        rng = random.Random(1)
        steady = {}
        for i in range(args.count):
            u = rng.choice(users)
            subject = f"steady {n_nodes} {i} user{u}"
            steady[subject] = sender.send(f"user{u}@example.test", subject)
            time.sleep(args.interval)
        all_sent = dict(steady)
        wait_for("the steady-state notifications", args.deadline,
                 lambda: all(receiver.first(s) for s in steady), step=0.2)
        row["steady"] = quantiles([receiver.first(s) - t for s, t in steady.items()])

        # Takeover.
        counts = {}
        for r in rows.values():
            counts[r["owner_node"]] = counts.get(r["owner_node"], 0) + 1
        victim = max(nodes, key=lambda n: counts.get(n.node_id, 0))
        victim_id = victim.node_id
        orphaned = [g for g, r in rows.items() if r["owner_node"] == victim_id]
        row["orphaned"] = len(orphaned)
        victim.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        victim.proc.wait()
        if n_nodes == 1:
            victim.start()
        survivors = {n.node_id for n in nodes if n.proc.poll() is None}
        orphan_subjects = {}
        for g in orphaned:
            subject = f"takeover {n_nodes} user{user_of[g]}"
            orphan_subjects[subject] = (g, sender.send(f"user{user_of[g]}@example.test", subject))
        all_sent.update({s: t for s, (_, t) in orphan_subjects.items()})

        # The survivors' own grants keep getting mail while they take the orphans on.
        during = {}
        done = threading.Event()

        def steady_during():
            others = [g for g, r in rows.items() if r["owner_node"] != victim_id]
            i = 0
            while not done.is_set() and others:
                g = others[i % len(others)]
                subject = f"during {n_nodes} {i} user{user_of[g]}"
                during[subject] = sender.send(f"user{user_of[g]}@example.test", subject)
                i += 1
                time.sleep(args.interval)

        background = threading.Thread(target=steady_during, daemon=True)
        background.start()
        owned_at = {}
        deadline = killed + args.lease + args.deadline
        while time.monotonic() < deadline:
            now = time.monotonic()
            for g, r in status().items():
                if g in orphaned and g not in owned_at and r.get("owner_node") in survivors \
                        and (n_nodes == 1 or r.get("owner_node") != victim_id):
                    owned_at[g] = now
            if len(owned_at) == len(orphaned) and all(receiver.first(s) for s in orphan_subjects):
                break
            time.sleep(0.25)
        done.set()
        background.join()
        all_sent.update(during)
        row["owner"] = quantiles([t - killed for t in owned_at.values()])
        row["owner_missing"] = len(orphaned) - len(owned_at)
        row["first_webhook"] = quantiles(
            [receiver.first(s) - killed for s in orphan_subjects if receiver.first(s)])
        try:
            wait_for("the notifications sent during the takeover", args.deadline,
                     lambda: all(receiver.first(s) for s in during), step=0.2)
        except TimeoutError:
            pass
        row["during"] = quantiles([receiver.first(s) - t for s, t in during.items() if receiver.first(s)])
        try:
            wait_for("one IMAP session per grant after the takeover", 60,
                     lambda: all(c == 1 for c in imap_sessions(tb, emails).values())
                     and len(imap_sessions(tb, emails)) == len(emails), step=0.5)
        except TimeoutError:
            pass
        row["sessions_after"] = sum(imap_sessions(tb, emails).values()) / len(grants)
        # Late duplicates have a few seconds to show up.
        time.sleep(3)
        row["sent"] = len(all_sent)
        row["missing"] = sum(1 for s in all_sent if not receiver.first(s))
        row["duplicates"] = sum(1 for s in all_sent if receiver.distinct_ids(s) > 1)
        row["logs"] = top
    finally:
        sender.close()
        for node in nodes:
            node.stop()
        receiver.server.shutdown()
        psql(postgres, f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    return row


def ms(pair):
    if not pair or pair[0] is None:
        return "-"
    return f"{pair[0] * 1000:.0f} / {pair[1] * 1000:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grants", type=int, default=300)
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--lease", type=int, default=15)
    parser.add_argument("--first-user", type=int, default=201)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--postgres", default=os.environ.get(
        "MAILROOM_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    needed = args.first_user + args.grants - 1
    os.environ["TESTBED_USERS"] = str(max(needed, int(os.environ.get("TESTBED_USERS", "0") or 0)))
    tb = testbed_env()
    rows = []
    for n in (int(x) for x in args.nodes.split(",")):
        print(f"... {n} node(s), {args.grants} grants", file=sys.stderr, flush=True)
        rows.append(run(tb, args, n, args.postgres))
        print(f"    {rows[-1]}", file=sys.stderr, flush=True)
    print(f"{args.grants} grants, lease {args.lease} s; takeover timed from the SIGKILL; "
          f"webhook latency from delivery; p50 / p99 in ms")
    header = ("| nodes | grants per node | initial sync | sessions/grant before | orphaned "
              "| takeover: new owner | takeover: first webhook | webhook steady | webhook during takeover "
              "| sessions/grant after | sent | duplicates | missing |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    failed = False
    for r in rows:
        print(f"| {r['nodes']} | {r['per_node']} | {r['sync_s']:.1f} s | {r['sessions_before']:.2f} "
              f"| {r['orphaned']} | {ms(r['owner'])}{' (' + str(r['owner_missing']) + ' never)' if r['owner_missing'] else ''} "
              f"| {ms(r['first_webhook'])} | {ms(r['steady'])} | {ms(r['during'])} "
              f"| {r['sessions_after']:.2f} | {r['sent']} | {r['duplicates']} | {r['missing']} |")
        if r["duplicates"] or r["missing"] or r["owner_missing"]:
            failed = True
            print(f"!!! {r['nodes']} node(s): {r['duplicates']} duplicated, {r['missing']} missing, "
                  f"{r['owner_missing']} never owned again; logs in {r['logs']}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
