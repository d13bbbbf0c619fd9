"""What the benchmarks share: where the repository and the mailroom binary are, the
testbed's settings, starting `mailroom serve` and an application, and percentiles."""

import json
import math
import os
import re
import subprocess
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# target/release/mailroom by default (cargo build --release --bin mailroom).
BIN = Path(os.environ.get("MAILROOM_BIN", ROOT / "target" / "release" / "mailroom"))


def testbed_env():
    """Starts the testbed (or reuses a running one) and returns its TESTBED_* settings."""
    out = subprocess.run([ROOT / "testbed" / "start"], check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        if "=" in line and line.startswith("TESTBED_"):
            key, value = line.split("=", 1)
            env[key] = value.strip().strip('"').strip("'")
    return env


def user_credentials(user):
    """The testbed's email and password of `user` (`user11`)."""
    number = int(user.removeprefix("user"))
    return f"user{number}@example.test", f"pass{number}"


def seed_mailbox(user, count, seed):
    """Fills `user`'s INBOX with `count` generated messages (testbed/seed-mailbox,
    replacing what it held) and returns the seeder's summary line."""
    out = subprocess.run([ROOT / "testbed" / "seed-mailbox", user, "--count", str(count),
                          "--seed", str(seed), "--replace"],
                         check=True, capture_output=True, text=True).stdout
    return out.strip().splitlines()[-1]


def schema_reset(url, schema):
    """Drops and makes again a PostgreSQL schema of the benchmark's own."""
    subprocess.run(["psql", url, "-q", "-c",
                    f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"], check=True)


def schema_url(url, schema):
    """`url` with its connections' search_path set to `schema`."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-c%20search_path%3D{schema}"


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def mailroom_env(testbed, log="warn", **extra):
    """The environment of a `mailroom serve` that talks to the testbed: the caller's, less
    any mailroom settings of its own (but the log filter), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILROOM_") or k == "MAILROOM_LOG"}
    env.update({
        "MAILROOM_ALLOW_PRIVATE_HOSTS": "true",
        "MAILROOM_ALLOW_INSECURE_TRANSPORT": "true",
        "MAILROOM_EXTRA_CA_FILE": testbed["TESTBED_CA"],
        "MAILROOM_LOG": os.environ.get("MAILROOM_LOG", log),
        # Benchmarks poll and send as fast as they can: the per-grant limit would measure itself.
        "MAILROOM_GRANT_REQUESTS_PER_SECOND": "0",
    })
    env.update(extra)
    return env


def start_mailroom(data_dir, env, log_path):
    """Starts `mailroom serve` on a free port; returns the process and its base URL. Its
    stdout is drained in the background, its log written to `log_path`."""
    with open(log_path, "w") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [BIN, "--data-dir", data_dir, "serve", "--listen", "127.0.0.1:0"],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True)
    url = None
    for line in proc.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            url = match.group(1)
            break
    if url is None:
        raise RuntimeError(f"mailroom exited before listening; see {log_path}")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    return proc, url


def create_app(data_dir, env, name):
    """`mailroom app create --json`: the new application (with its API key)."""
    created = subprocess.run([BIN, "--data-dir", data_dir, "app", "create", "--name", name, "--json"],
                             env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(created.strip().splitlines()[-1])
