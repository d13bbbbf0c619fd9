"""What the benchmarks share: where the repository and the mailroom binary are, the
testbed's settings, and percentiles."""

import math
import os
import subprocess
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


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an ascending list."""
    index = max(0, min(len(sorted_values) - 1, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]
