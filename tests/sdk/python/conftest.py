"""Fixtures for running the official Nylas Python SDK against a real mailroom.

Session-wide:
  * ``testbed``   -- runs ``testbed/start`` (Dovecot + Postfix on 127.0.0.1) and returns
                     its env file as a dict. Fails the session loudly if it cannot.
  * ``mailroom``  -- a ``mailroom serve`` process on a free port in a temporary data dir,
                     stopped at the end of the session. Its database: the data dir's SQLite
                     file, or with ``MAILROOM_TEST_DATABASE=postgres`` a schema of its own
                     in PostgreSQL (see ``ServerDatabase``), dropped when it stops.
  * ``app``       -- an application created with ``mailroom app create --json``.
  * ``nylas``     -- ``nylas.Client(api_key, api_uri=base_url)`` for that application.

Per test:
  * ``new_app``   -- a factory for further applications (each with its own Client), for
                     tests that need a clean slate (no connector, no grants).
"""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import requests
from nylas import Client

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]  # tests/sdk/python -> repo root
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "mailroom"

TESTBED_START_TIMEOUT = 20 * 60  # may have to apt-get install Dovecot/Postfix first
SERVER_START_TIMEOUT = 60
CLI_TIMEOUT = 60
SDK_TIMEOUT = 60  # the SDK's own default is 90 s; fail faster if the server hangs

LISTENING_RE = re.compile(r"mailroom \S+ listening on (http://127\.0\.0\.1:(\d+))")


# --------------------------------------------------------------------------- testbed


def _testbed_dir() -> Path:
    return Path(os.environ.get("MAILROOM_TESTBED_DIR") or "/tmp/mailroom-testbed")


def _parse_env_file(path: Path) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        # Shell-style: allow quoting, drop trailing comments.
        parts = shlex.split(value, comments=True)
        values[key.strip()] = parts[0] if parts else ""
    return values


@dataclass
class Testbed:
    env: Dict[str, str]

    @property
    def ca(self) -> str:
        return self.env["TESTBED_CA"]

    @property
    def imap_port(self) -> int:
        return int(self.env.get("TESTBED_IMAP_PORT", 31143))

    @property
    def imaps_port(self) -> int:
        return int(self.env.get("TESTBED_IMAPS_PORT", 31993))

    @property
    def submission_port(self) -> int:
        return int(self.env.get("TESTBED_SUBMISSION_PORT", 31587))

    @property
    def smtps_port(self) -> int:
        return int(self.env.get("TESTBED_SMTPS_PORT", 31465))

    @property
    def domain(self) -> str:
        return self.env.get("TESTBED_DOMAIN", "example.test")

    @property
    def users(self) -> int:
        return int(self.env.get("TESTBED_USERS", 5))

    def email(self, n: int) -> str:
        return f"user{n}@{self.domain}"

    def password(self, n: int) -> str:
        return f"pass{n}"

    def imap_settings(self, n: int, **overrides) -> dict:
        """Custom-auth settings for testbed user N, as the seed's curl example shapes them:
        IMAP with STARTTLS, SMTP submission with STARTTLS + AUTH, host 'localhost' (the
        certificate's SAN)."""
        settings = {
            "imap_username": self.email(n),
            "imap_password": self.password(n),
            "imap_host": "localhost",
            "imap_port": self.imap_port,
            "smtp_host": "localhost",
            "smtp_port": self.submission_port,
        }
        settings.update(overrides)
        return settings


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    start = REPO_ROOT / "testbed" / "start"
    if not start.is_file():
        pytest.fail(f"the testbed start script {start} does not exist", pytrace=False)
    try:
        result = subprocess.run(
            [str(start)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TESTBED_START_TIMEOUT,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{start} did not finish within {TESTBED_START_TIMEOUT} s: {e}", pytrace=False)
    except OSError as e:
        pytest.fail(f"cannot run {start}: {e}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"{start} failed with exit code {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}",
            pytrace=False,
        )
    env_file = _testbed_dir() / "env"
    if not env_file.is_file():
        pytest.fail(f"{start} succeeded but wrote no env file at {env_file}", pytrace=False)
    env = _parse_env_file(env_file)
    for key in ("TESTBED_CA", "TESTBED_IMAP_PORT", "TESTBED_SUBMISSION_PORT"):
        if key not in env:
            pytest.fail(f"{env_file} lacks {key}:\n{env_file.read_text()}", pytrace=False)
    if not Path(env["TESTBED_CA"]).is_file():
        pytest.fail(f"the testbed CA {env['TESTBED_CA']} does not exist", pytrace=False)
    return Testbed(env)


# --------------------------------------------------------------------------- mailroom


@dataclass
class AppInfo:
    application_id: str
    client_id: str
    client_secret: str
    api_key: str
    api_key_id: str
    name: str
    client: Client = field(repr=False)


DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"
PSQL_TIMEOUT = 60


class ServerDatabase:
    """The database one server runs on. ``MAILROOM_TEST_DATABASE`` picks the engine: unset or
    ``sqlite``, the data dir's SQLite file (mailroom's default; nothing to set up); ``postgres``,
    a fresh schema ``mr_test_<uuid>`` in the database at ``MAILROOM_TEST_POSTGRES`` (default
    the local server's ``test`` database, as for the store's and the Rust tests), passed to
    mailroom as ``MAILROOM_DATABASE_URL`` with the schema as its search path. Set up and
    dropped with ``psql``. Any other engine, or a PostgreSQL that cannot be reached, raises
    ``RuntimeError``: the tests fail, never skip or quietly use SQLite."""

    def __init__(self) -> None:
        engine = os.environ.get("MAILROOM_TEST_DATABASE") or "sqlite"
        if engine not in ("sqlite", "postgres"):
            raise RuntimeError(f"MAILROOM_TEST_DATABASE={engine!r}: expected 'sqlite' or 'postgres'")
        self.engine = engine
        self.url = os.environ.get("MAILROOM_TEST_POSTGRES") or DEFAULT_POSTGRES
        self.schema: Optional[str] = None
        if engine == "postgres":
            schema = f"mr_test_{uuid.uuid4().hex}"
            self._psql(f"CREATE SCHEMA {schema}")
            self.schema = schema

    def _psql(self, sql: str) -> str:
        try:
            result = subprocess.run(
                ["psql", self.url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=PSQL_TIMEOUT,
                env={**os.environ, "PGCONNECT_TIMEOUT": "10"},
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise RuntimeError(
                f"MAILROOM_TEST_DATABASE=postgres needs psql and PostgreSQL at {self.url} "
                f"(MAILROOM_TEST_POSTGRES): {e}"
            ) from e
        if result.returncode != 0:
            raise RuntimeError(
                f"MAILROOM_TEST_DATABASE=postgres needs PostgreSQL at {self.url} "
                f"(MAILROOM_TEST_POSTGRES); `{sql}` failed:\n{result.stderr}"
            )
        return result.stdout

    def env(self) -> Dict[str, str]:
        """What mailroom needs to use it (nothing for SQLite)."""
        if self.schema is None:
            return {}
        separator = "&" if "?" in self.url else "?"
        return {"MAILROOM_DATABASE_URL": f"{self.url}{separator}options=-c%20search_path%3D{self.schema}"}

    def drop(self) -> None:
        schema, self.schema = self.schema, None
        if schema is not None:
            self._psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


class MailroomServer:
    """``mailroom serve`` with ``env`` and a database of its own (``ServerDatabase``), made by
    ``start()`` and dropped by ``stop()``."""

    def __init__(self, binary: Path, data_dir: Path, env: Dict[str, str], log_path: Path,
                 listen: str = "127.0.0.1:0"):
        self.binary = binary
        self.data_dir = data_dir
        self.env = env
        self.log_path = log_path
        self.listen = listen
        self.base_url: Optional[str] = None
        self.port: Optional[int] = None
        self.proc: Optional[subprocess.Popen] = None
        self.database: Optional[ServerDatabase] = None
        self._stderr = None
        self._stdout_lines: List[str] = []
        self._reader: Optional[threading.Thread] = None

    # -- process ----------------------------------------------------------------

    def start(self) -> None:
        """Starts the server; on any failure, stops what was started and raises RuntimeError."""
        try:
            self._start()
        except BaseException:
            try:
                self.stop()
            except Exception:  # the failure to start is the one to report
                pass
            raise

    def _start(self) -> None:
        self.database = ServerDatabase()
        # The CLI (create_app) runs with the same env, so on the same database.
        self.env = {**self.env, **self.database.env()}
        self._stderr = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(self.binary), "--data-dir", str(self.data_dir), "serve", "--listen", self.listen],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self.env,
            text=True,
            bufsize=1,
        )
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:
            # Keeps draining stdout for the server's whole life, so it never blocks on a full pipe.
            assert self.proc is not None and self.proc.stdout is not None
            for line in self.proc.stdout:
                self._stdout_lines.append(line)
                lines.put(line)
            lines.put(None)

        self._reader = threading.Thread(target=pump, name="mailroom-stdout", daemon=True)
        self._reader.start()

        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(
                    f"mailroom did not print its listening line within {SERVER_START_TIMEOUT} s\n"
                    + self.diagnostics()
                )
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait(timeout=10)
                raise RuntimeError(f"mailroom exited with code {code} before listening\n" + self.diagnostics())
            match = LISTENING_RE.search(line)
            if match:
                self.base_url = match.group(1)
                self.port = int(match.group(2))
                return

    def stop(self) -> None:
        """Stops the server and drops its database; does nothing the second time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._stderr is not None:
            self._stderr.close()
        if self.database is not None:
            self.database.drop()

    def diagnostics(self) -> str:
        try:
            log = self.log_path.read_text()
        except OSError:
            log = "(no log)"
        return "--- mailroom stdout\n" + "".join(self._stdout_lines) + "--- mailroom stderr (tail)\n" + log[-8000:]

    # -- CLI --------------------------------------------------------------------

    def create_app(self, name: str) -> AppInfo:
        """`mailroom app create --name NAME --allow-custom-servers --json` against the running
        server's data dir (the suite types the testbed's servers, which are not those of the
        users' domain)."""
        result = subprocess.run(
            [
                str(self.binary), "--data-dir", str(self.data_dir),
                "app", "create", "--name", name, "--allow-custom-servers", "--json",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=CLI_TIMEOUT,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`mailroom app create` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        obj = None
        for line in result.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                obj = json.loads(line)
        if obj is None:
            raise RuntimeError(f"`mailroom app create --json` printed no JSON object:\n{result.stdout}")
        for key in ("application_id", "client_id", "client_secret", "api_key", "api_key_id"):
            if not obj.get(key):
                raise RuntimeError(f"`mailroom app create --json` output lacks {key!r}: {obj}")
        return AppInfo(
            application_id=obj["application_id"],
            client_id=obj["client_id"],
            client_secret=obj["client_secret"],
            api_key=obj["api_key"],
            api_key_id=obj["api_key_id"],
            name=name,
            client=self.client(obj["api_key"]),
        )

    def client(self, api_key: str) -> Client:
        assert self.base_url is not None
        return Client(api_key, api_uri=self.base_url, timeout=SDK_TIMEOUT)

    # -- raw HTTP, to see exactly what went over the wire -------------------------

    def raw(self, method: str, path: str, api_key: str, **kwargs) -> requests.Response:
        assert self.base_url is not None
        headers = {"Authorization": f"Bearer {api_key}"}
        headers.update(kwargs.pop("headers", {}))
        return requests.request(method, self.base_url + path, headers=headers, timeout=SDK_TIMEOUT, **kwargs)


def _mailroom_binary() -> Path:
    configured = os.environ.get("MAILROOM_BIN")
    binary = Path(configured) if configured else DEFAULT_BIN
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(
            f"mailroom binary not found at {binary}; build it with "
            f"`cd {REPO_ROOT} && cargo build --bin mailroom` or set MAILROOM_BIN",
            pytrace=False,
        )
    return binary


@pytest.fixture(scope="session")
def mailroom(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory):
    binary = _mailroom_binary()
    data_dir = tmp_path_factory.mktemp("mailroom-data")
    env = dict(os.environ)
    # Hermetic: nothing from the caller's environment picks another database or config.
    for key in ("MAILROOM_CONFIG", "MAILROOM_DATABASE_URL", "MAILROOM_DATA_DIR", "MAILROOM_LISTEN", "MAILROOM_SECRET_KEY"):
        env.pop(key, None)
    env.update(
        {
            "MAILROOM_ALLOW_PRIVATE_HOSTS": "true",
            "MAILROOM_ALLOW_INSECURE_TRANSPORT": "true",
            "MAILROOM_EXTRA_CA_FILE": testbed.ca,
            # Long enough for the testbed's Dovecot on a loaded machine (it once stayed
            # silent for over 15 s on a folder DELETE); no test here waits for it: an
            # unreachable server refuses at once. Under the SDK's own 60 s.
            "MAILROOM_PROVIDER_TIMEOUT_SECS": "30",
            # A scheduled send refused for now is tried again after 1 s, not a minute.
            "MAILROOM_SCHEDULED_SEND_RETRY_SECS": "1",
            # The testbed's DNS announces its servers (SRV) for the users' domain, so that
            # sign-ins on them prove the address (email_verified).
            "MAILROOM_DNS_SERVER": f"127.0.0.1:{testbed.env['TESTBED_DNS_PORT']}",
            # The operator's notification mailer, without which a webhook's
            # notification_email_addresses is refused (docs/API.md §6.3): the testbed's
            # SMTP port, which delivers any domain but its own (ops@example.com) to its
            # sink mailbox (testbed/README.md).
            "MAILROOM_NOTIFICATION_SMTP_URL": f"smtp://127.0.0.1:{testbed.env['TESTBED_SMTP_PORT']}",
            "MAILROOM_NOTIFICATION_FROM": "mailroom-notices@example.test",
        }
    )
    server = MailroomServer(binary, data_dir, env, data_dir.parent / "mailroom-serve.log")
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        # The data dir and log stay under pytest's basetemp for post-mortems.
        server.stop()


@pytest.fixture(scope="session")
def app(mailroom: MailroomServer) -> AppInfo:
    try:
        return mailroom.create_app("sdk-python-compat")
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def nylas(app: AppInfo) -> Client:
    return app.client


@pytest.fixture
def new_app(mailroom: MailroomServer, request: pytest.FixtureRequest) -> Callable[..., AppInfo]:
    """Factory: a fresh application (no connectors, no grants) and its SDK client."""
    counter = [0]

    def make(suffix: str = "") -> AppInfo:
        counter[0] += 1
        name = f"{request.node.name}{suffix}-{counter[0]}"[:100]
        try:
            return mailroom.create_app(name)
        except RuntimeError as e:
            pytest.fail(str(e), pytrace=False)

    return make


def wait_until(what: str, probe: Callable[[], tuple], timeout: float = 30.0, poll: float = 0.05):
    """Polls `probe() -> (done, observed)` until done; fails with the last observation."""
    deadline = time.monotonic() + timeout
    while True:
        done, observed = probe()
        if done:
            return observed
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {observed!r}",
                        pytrace=False)
        time.sleep(poll)


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
