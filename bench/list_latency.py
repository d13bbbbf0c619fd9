#!/usr/bin/env python3
"""List latency at large mailbox sizes: every message and thread filter, single client
and under concurrent clients, on SQLite or PostgreSQL.

The store is filled by `mailroom bench-fill` (the store's own batch writer, what an
initial sync uses) with a generated mailbox of --messages messages; the same seed gives
the same mailbox, and a filled store is reused by later runs (--refill to start over).
Then `mailroom serve` runs on it and each query shape is asked --requests times, one at
a time, over one keep-alive connection. The floor, measured in the same run over the same
connection, is `GET /healthz`: what a request costs with no store work at all.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import BIN, percentile, schema_reset, schema_url  # noqa: E402


def fill(args, data_dir, url):
    out_path = data_dir / "fill.json"
    if out_path.exists() and not args.refill:
        return json.loads(out_path.read_text())
    if args.database_url:
        schema_reset(args.database_url, schema_name(args.messages))
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    command = [str(BIN), "--data-dir", str(data_dir)]
    if url:
        command += ["--database-url", url]
    command += ["bench-fill", "--messages", str(args.messages), "--seed", str(args.seed)]
    print(f"filling {args.messages} messages ...", flush=True)
    out = subprocess.run(command, check=True, capture_output=True, text=True,
                         env={**os.environ, "MAILROOM_LOG": "warn"}).stdout
    filled = json.loads(out.strip().splitlines()[-1])
    out_path.write_text(json.dumps(filled))
    return filled


def schema_name(messages):
    """The PostgreSQL schema of a filled store: one per size, as the SQLite data
    directories are, so that filling one size keeps the others."""
    return f"mailroom_bench_list_{messages}"


def start(data_dir, url, log_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_")}
    env.update({"MAILROOM_LOG": "warn", "MAILROOM_GRANT_REQUESTS_PER_SECOND": "0"})
    command = [str(BIN), "--data-dir", str(data_dir)]
    if url:
        command += ["--database-url", url]
    command += ["serve", "--listen", "127.0.0.1:0"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=log, text=True)
    for line in proc.stdout:
        match = re.search(r"listening on http://(\S+)", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, match.group(1)
    raise RuntimeError(f"mailroom exited before listening; see {log_path}")


class Client:
    def __init__(self, address, api_key):
        host, port = address.rsplit(":", 1)
        self.conn = http.client.HTTPConnection(host, int(port), timeout=300)
        self.headers = {"Authorization": f"Bearer {api_key}"}

    def get(self, path):
        """(seconds, status, body bytes) of one GET."""
        started = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = response.read()
        return time.perf_counter() - started, response.status, body


def mid_date():
    """Half way through the generated mailbox's fifteen years."""
    return 1_420_070_400 + 7 * 365 * 24 * 3600


def shapes(filled):
    grant = filled["grant_id"]
    folders = filled["folders"]
    frequent = filled["frequent_correspondent"]
    rare = filled["rare_correspondent"]
    mid = mid_date()
    q = urllib.parse.quote
    common = [
        ("no filter", ""),
        ("in=INBOX", f"in={folders['INBOX']}"),
        ("in=Label 7 (small)", f"in={q(folders['Label 7'])}"),
        ("from=frequent", f"from={q(frequent)}"),
        ("from=rare", f"from={q(rare)}"),
        ("to=owner", f"to={q(filled['owner'])}"),
        ("cc=frequent", f"cc={q(frequent)}"),
        ("bcc=nobody", "bcc=nobody%40bench.test"),
        ("any_email=frequent", f"any_email={q(frequent)}"),
        ("any_email=two rare", f"any_email={q(rare)},{q('person4000@corp23.test')}"),
        ("subject=rare", "subject=Topic%20123457"),
        ("subject=common", "subject=report"),
        ("unread=true", "unread=true"),
        ("unread=false", "unread=false"),
        ("starred=true", "starred=true"),
        ("has_attachment=true", "has_attachment=true"),
        ("in=INBOX&unread=true", f"in={folders['INBOX']}&unread=true"),
        ("from=frequent&in=Sent", f"from={q(frequent)}&in={folders['Sent']}"),
    ]
    messages = common + [
        ("received_before=mid", f"received_before={mid}"),
        ("received window 30 days", f"received_after={mid}&received_before={mid + 30 * 86400}"),
    ]
    threads = common + [
        ("latest_message_before=mid", f"latest_message_before={mid}"),
        ("latest window 30 days", f"latest_message_after={mid}&latest_message_before={mid + 30 * 86400}"),
    ]
    return grant, messages, threads


def measure(client, path, count):
    times, size = [], 0
    for _ in range(count):
        seconds, status, body = client.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}: {body[:300]!r}")
        times.append(seconds)
        size = len(body)
    times.sort()
    return times, size


def deep_cursor(client, base, depth_pages):
    """The page token of page `depth_pages` + 1 of a list of 200-row pages."""
    token = None
    for _ in range(depth_pages):
        path = base + "limit=200" + (f"&page_token={urllib.parse.quote(token)}" if token else "")
        _, status, body = client.get(path)
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status}")
        token = json.loads(body).get("next_cursor")
        if not token:
            break
    return token


def concurrent(address, api_key, path, clients, seconds):
    """wrk (`apt-get install wrk`, a C load generator: a Python client would be the
    bottleneck) with `clients` keep-alive connections for `seconds`: (req/s, p50 ms, p99 ms)."""
    if not shutil.which("wrk"):
        raise RuntimeError("the concurrent phase needs wrk: apt-get install wrk")
    out = subprocess.run(
        ["wrk", "-t2", f"-c{clients}", f"-d{seconds:.0f}s", "--latency", "--timeout", "30s",
         "-H", f"Authorization: Bearer {api_key}", f"http://{address}{path}"],
        check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{path}: errors under load:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))

    def latency(label):
        value, unit = re.search(rf"{label}%\s+([0-9.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, latency("50"), latency("99")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", help="postgres://… (a schema of its own is made there)")
    parser.add_argument("--data-dir", help="default: /tmp/mailroom-bench-list-<engine>-<messages>")
    parser.add_argument("--refill", action="store_true", help="fill again even if filled")
    parser.add_argument("--requests", type=int, default=100, help="per query shape")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="of the concurrent phase")
    args = parser.parse_args()

    engine = "postgres" if args.database_url else "sqlite"
    data_dir = Path(args.data_dir or f"/tmp/mailroom-bench-list-{engine}-{args.messages}")
    url = schema_url(args.database_url, schema_name(args.messages)) if args.database_url else None
    filled = fill(args, data_dir, url)
    print(f"{engine}: {filled['messages']} messages "
          f"(filled in {filled['seconds']:.0f} s through the batch writer)")
    proc, address = start(data_dir, url, data_dir / "serve.log")
    try:
        client = Client(address, filled["api_key"])
        floor, _ = measure(client, "/healthz", args.requests)
        floor_p50 = percentile(floor, 0.5)
        print(f"floor GET /healthz: p50 {floor_p50 * 1000:.2f} ms, "
              f"p99 {percentile(floor, 0.99) * 1000:.2f} ms")
        grant, messages, threads = shapes(filled)
        print(f"{'list':8} {'filter':28} {'p50 ms':>8} {'p99 ms':>8} {'× floor':>8} {'KB':>6}")
        worst = 0.0
        # A thread from the middle of the mailbox, as a client opening one asks for it.
        _, _, body = client.get(f"/v3/grants/{grant}/messages?limit=1&received_before={mid_date()}")
        thread = json.loads(body)["data"][0]["thread_id"]
        for kind, cases in (("messages", messages), ("threads", threads)):
            base = f"/v3/grants/{grant}/{kind}?"
            token = deep_cursor(client, base, 50)
            cases = cases + [("thread_id=one thread", f"thread_id={thread}")]
            if token:
                cases = cases + [("page_token 10,000 deep", f"page_token={urllib.parse.quote(token)}")]
            for name, query in cases:
                path = base + "limit=50" + (f"&{query}" if query else "")
                client.get(path)  # warm
                times, size = measure(client, path, args.requests)
                p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
                worst = max(worst, p99)
                print(f"{kind:8} {name:28} {p50 * 1000:8.2f} {p99 * 1000:8.2f} "
                      f"{p50 / floor_p50:8.1f} {size / 1024:6.0f}", flush=True)
        print(f"worst p99: {worst * 1000:.1f} ms")
        for kind in ("messages", "threads"):
            path = f"/v3/grants/{grant}/{kind}?limit=50"
            rate, p50, p99 = concurrent(address, filled["api_key"], path, args.clients, args.seconds)
            print(f"{args.clients} clients, GET {kind}?limit=50 for {args.seconds:.0f} s: "
                  f"{rate:.0f} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        rate, _, _ = concurrent(address, filled["api_key"], "/healthz", args.clients, args.seconds)
        print(f"{args.clients} clients, GET /healthz (floor): {rate:.0f} req/s")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
