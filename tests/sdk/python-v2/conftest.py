"""Fixtures for running the official Nylas Python SDK for API v2 (``nylas==5.14.1``, unchanged)
against a real mailroom served over HTTPS.

The v2 SDK refuses any ``api_server`` that is not ``https://``, so the session makes a test CA
and a certificate for localhost/127.0.0.1 with openssl, starts ``mailroom serve --tls-cert
--tls-key`` and points ``requests`` (which the SDK uses) at the CA with ``REQUESTS_CA_BUNDLE``.
The rest follows ``tests/sdk/python/conftest.py`` (the v3 suite, whose venv holds another
``nylas``): ``testbed/start``, ``MAILROOM_TEST_DATABASE``, ``mailroom app create --json``.

Session-wide:
  * ``testbed``   -- runs ``testbed/start`` and returns its env file. Fails loudly if it cannot.
  * ``tls``       -- the test CA and the server certificate; sets ``REQUESTS_CA_BUNDLE``.
  * ``mailbox``   -- testbed user77 wiped and given one message in INBOX.
  * ``mailroom``  -- ``mailroom serve`` over HTTPS on a free port in a temporary data dir.

Per test:
  * ``new_app``   -- a factory for applications, each with the IMAP connector and the
                     redirect URI ``REDIRECT_URI`` registered (as an application's dashboard
                     settings would be), so every test has grants of its own.

Testbed user77 only (testbed/README.md lists which suite owns which user).
"""

from __future__ import annotations

import ast
import html
import imaplib
import json
import os
import queue
import re
import shlex
import ssl
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Callable, Dict, List, Optional
from urllib.parse import parse_qs, urljoin, urlparse

import pytest
import requests
from nylas import APIClient

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[2]  # tests/sdk/python-v2 -> repo root
DEFAULT_BIN = REPO_ROOT / "target" / "debug" / "mailroom"

USER = 77
REDIRECT_URI = "http://localhost:9077/v2/callback"

TESTBED_START_TIMEOUT = 20 * 60  # may have to apt-get install Dovecot/Postfix first
SERVER_START_TIMEOUT = 60
CLI_TIMEOUT = 60
HTTP_TIMEOUT = 60
OPENSSL_TIMEOUT = 60

LISTENING_RE = re.compile(r"mailroom \S+ listening on (https://127\.0\.0\.1:(\d+))")


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
        return int(self.env["TESTBED_IMAP_PORT"])

    @property
    def submission_port(self) -> int:
        return int(self.env["TESTBED_SUBMISSION_PORT"])

    @property
    def domain(self) -> str:
        return self.env.get("TESTBED_DOMAIN", "example.test")

    def email(self, n: int = USER) -> str:
        return f"user{n}@{self.domain}"

    def password(self, n: int = USER) -> str:
        return f"pass{n}"

    def v2_settings(self, n: int = USER, **overrides) -> dict:
        """Native authentication's IMAP ``settings`` in v2's names: the testbed's Dovecot and
        Postfix submission, both with STARTTLS, host 'localhost' (the certificate's name)."""
        settings = {
            "imap_host": "localhost",
            "imap_port": self.imap_port,
            "imap_username": self.email(n),
            "imap_password": self.password(n),
            "smtp_host": "localhost",
            "smtp_port": self.submission_port,
            "smtp_username": self.email(n),
            "smtp_password": self.password(n),
            "ssl_required": True,
        }
        settings.update(overrides)
        return settings


def _run(args: List[str], timeout: float, what: str, **kwargs) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(
            args, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kwargs
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{what} did not finish within {timeout} s: {e}", pytrace=False)
    except OSError as e:
        pytest.fail(f"cannot run {what}: {e}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"{what} failed with exit code {result.returncode}\n"
            f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}",
            pytrace=False,
        )
    return result


@pytest.fixture(scope="session")
def testbed() -> Testbed:
    start = REPO_ROOT / "testbed" / "start"
    if not start.is_file():
        pytest.fail(f"the testbed start script {start} does not exist", pytrace=False)
    _run([str(start)], TESTBED_START_TIMEOUT, str(start))
    env_file = _testbed_dir() / "env"
    if not env_file.is_file():
        pytest.fail(f"{start} succeeded but wrote no env file at {env_file}", pytrace=False)
    env = _parse_env_file(env_file)
    for key in ("TESTBED_CA", "TESTBED_IMAP_PORT", "TESTBED_SUBMISSION_PORT", "TESTBED_USERS"):
        if key not in env:
            pytest.fail(f"{env_file} lacks {key}:\n{env_file.read_text()}", pytrace=False)
    if int(env["TESTBED_USERS"]) < USER:
        pytest.fail(
            f"the testbed has {env['TESTBED_USERS']} users; this suite needs user{USER} "
            f"(testbed/start starts 520 by default)",
            pytrace=False,
        )
    if not Path(env["TESTBED_CA"]).is_file():
        pytest.fail(f"the testbed CA {env['TESTBED_CA']} does not exist", pytrace=False)
    return Testbed(env)


@dataclass
class Mailbox:
    subject: str
    message_id: str


@pytest.fixture(scope="session")
def mailbox(testbed: Testbed) -> Mailbox:
    """user77 wiped (``testbed/reset-user --wipe``), then one message APPENDed to INBOX over
    IMAP (STARTTLS, verified against the testbed CA), for the message listings to find."""
    reset = REPO_ROOT / "testbed" / "reset-user"
    _run([str(reset), "--wipe", f"user{USER}"], 120, f"{reset} --wipe user{USER}")
    subject = f"v2 sdk check {uuid.uuid4().hex[:12]}"
    message = EmailMessage()
    message["From"] = "Sender <sender@example.test>"
    message["To"] = testbed.email()
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid(domain="example.test")
    message.set_content("A message for the v2 SDK suite.\n")
    context = ssl.create_default_context(cafile=testbed.ca)
    try:
        imap = imaplib.IMAP4("localhost", testbed.imap_port, timeout=30)
        try:
            imap.starttls(ssl_context=context)
            imap.login(testbed.email(), testbed.password())
            typ, data = imap.append("INBOX", "", None, message.as_bytes())
            if typ != "OK":
                pytest.fail(f"APPEND to user{USER}'s INBOX failed: {typ} {data!r}", pytrace=False)
        finally:
            imap.logout()
    except (imaplib.IMAP4.error, OSError) as e:
        pytest.fail(f"seeding user{USER} over IMAP failed: {e!r}", pytrace=False)
    return Mailbox(subject=subject, message_id=message["Message-ID"])


# --------------------------------------------------------------------------- TLS


@dataclass
class Certificates:
    ca: Path
    cert: Path
    key: Path


def make_certificates(directory: Path) -> Certificates:
    """A test CA and a certificate it signed for localhost and 127.0.0.1 (as
    crates/mailroom/tests/it/https.rs makes them)."""

    def openssl(*args: str) -> None:
        _run(["openssl", *args], OPENSSL_TIMEOUT, f"openssl {args[0]}", cwd=directory)

    (directory / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=mailroom v2 SDK test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "1",
            "-out", "server.pem", "-days", "2", "-extfile", "ext")
    return Certificates(ca=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key")


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory):
    """The session's CA and certificate. ``REQUESTS_CA_BUNDLE`` makes every ``requests`` call
    of this process (the SDK's and the tests' own) trust the CA, and only it."""
    certificates = make_certificates(tmp_path_factory.mktemp("tls"))
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(certificates.ca)
    try:
        yield certificates
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous


# --------------------------------------------------------------------------- mailroom

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/test"
PSQL_TIMEOUT = 60


class ServerDatabase:
    """The server's database, as in the v3 suite: ``MAILROOM_TEST_DATABASE`` unset or
    ``sqlite``, the data dir's SQLite file; ``postgres``, a fresh schema ``mr_test_<uuid>`` in
    the database at ``MAILROOM_TEST_POSTGRES`` (made and dropped with psql). Anything else, or
    a PostgreSQL that cannot be reached, raises ``RuntimeError``: the tests fail, never skip."""

    def __init__(self) -> None:
        engine = os.environ.get("MAILROOM_TEST_DATABASE") or "sqlite"
        if engine not in ("sqlite", "postgres"):
            raise RuntimeError(f"MAILROOM_TEST_DATABASE={engine!r}: expected 'sqlite' or 'postgres'")
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
        if self.schema is None:
            return {}
        separator = "&" if "?" in self.url else "?"
        return {"MAILROOM_DATABASE_URL": f"{self.url}{separator}options=-c%20search_path%3D{self.schema}"}

    def drop(self) -> None:
        schema, self.schema = self.schema, None
        if schema is not None:
            self._psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@dataclass
class V2App:
    """An application as the v2 SDK sees it: client id and secret (the API key is for the
    v3 setup calls only)."""

    client_id: str
    client_secret: str
    api_key: str
    api_server: str

    def client(self, access_token: Optional[str] = None) -> APIClient:
        return APIClient(self.client_id, self.client_secret, access_token, api_server=self.api_server)


class MailroomServer:
    """``mailroom serve --tls-cert --tls-key`` with a database of its own."""

    def __init__(self, binary: Path, data_dir: Path, env: Dict[str, str], log_path: Path, tls: Certificates):
        self.binary = binary
        self.data_dir = data_dir
        self.env = env
        self.log_path = log_path
        self.tls = tls
        self.base_url: Optional[str] = None
        self.proc: Optional[subprocess.Popen] = None
        self.database: Optional[ServerDatabase] = None
        self._stderr = None
        self._stdout_lines: List[str] = []
        self._reader: Optional[threading.Thread] = None

    def start(self) -> None:
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
        self.env = {**self.env, **self.database.env()}
        self._stderr = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [
                str(self.binary), "--data-dir", str(self.data_dir), "serve", "--listen", "127.0.0.1:0",
                "--tls-cert", str(self.tls.cert), "--tls-key", str(self.tls.key),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=self.env,
            text=True,
            bufsize=1,
        )
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:
            # Drains stdout for the server's whole life, so it never blocks on a full pipe.
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
                    f"mailroom did not print an https listening line within {SERVER_START_TIMEOUT} s\n"
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
                return

    def stop(self) -> None:
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

    def create_app(self, name: str) -> V2App:
        """``mailroom app create --callback-uri REDIRECT_URI --allow-custom-servers --json``
        (the testbed's servers are not those of the users' domain), then the IMAP connector
        through ``POST /v3/connectors`` with the API key."""
        result = subprocess.run(
            [
                str(self.binary), "--data-dir", str(self.data_dir), "app", "create", "--name", name,
                "--callback-uri", REDIRECT_URI, "--allow-custom-servers", "--json",
            ],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=CLI_TIMEOUT,
        )
        if result.returncode != 0:
            raise RuntimeError(f"`mailroom app create` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        obj = None
        for line in result.stdout.splitlines():
            if line.strip().startswith("{"):
                obj = json.loads(line)
        if obj is None:
            raise RuntimeError(f"`mailroom app create --json` printed no JSON object:\n{result.stdout}")
        for key in ("client_id", "client_secret", "api_key"):
            if not obj.get(key):
                raise RuntimeError(f"`mailroom app create --json` output lacks {key!r}: {obj}")
        assert self.base_url is not None
        connector = requests.post(
            self.base_url + "/v3/connectors",
            json={"provider": "imap"},
            headers={"Authorization": f"Bearer {obj['api_key']}"},
            timeout=HTTP_TIMEOUT,
        )
        if connector.status_code not in (200, 201):
            raise RuntimeError(f"POST /v3/connectors answered {connector.status_code}: {connector.text}")
        return V2App(
            client_id=obj["client_id"],
            client_secret=obj["client_secret"],
            api_key=obj["api_key"],
            api_server=self.base_url,
        )


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
def mailroom(testbed: Testbed, tls: Certificates, mailbox: Mailbox, tmp_path_factory: pytest.TempPathFactory):
    binary = _mailroom_binary()
    data_dir = tmp_path_factory.mktemp("mailroom-data")
    env = dict(os.environ)
    # Hermetic: nothing from the caller's environment picks another database, config or
    # certificate.
    for key in (
        "MAILROOM_CONFIG", "MAILROOM_DATABASE_URL", "MAILROOM_DATA_DIR", "MAILROOM_LISTEN",
        "MAILROOM_SECRET_KEY", "MAILROOM_TLS_CERT", "MAILROOM_TLS_KEY",
    ):
        env.pop(key, None)
    env.update(
        {
            "MAILROOM_ALLOW_PRIVATE_HOSTS": "true",
            "MAILROOM_ALLOW_INSECURE_TRANSPORT": "true",
            "MAILROOM_EXTRA_CA_FILE": testbed.ca,
            "MAILROOM_PROVIDER_TIMEOUT_SECS": "15",
            "MAILROOM_DNS_SERVER": f"127.0.0.1:{testbed.env['TESTBED_DNS_PORT']}",
        }
    )
    server = MailroomServer(binary, data_dir, env, data_dir.parent / "mailroom-serve.log", tls)
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)
    try:
        yield server
    finally:
        # The data dir and log stay under pytest's basetemp for post-mortems.
        server.stop()


@pytest.fixture
def new_app(mailroom: MailroomServer, request: pytest.FixtureRequest) -> Callable[[], V2App]:
    counter = [0]

    def make() -> V2App:
        counter[0] += 1
        try:
            return mailroom.create_app(f"{request.node.name}-{counter[0]}"[:100])
        except RuntimeError as e:
            pytest.fail(f"{e}\n{mailroom.diagnostics()}", pytrace=False)

    return make


# --------------------------------------------------------------------------- v2 helpers


def sign_in(auth_url: str, testbed: Testbed, password: Optional[str] = None, hinted: bool = True) -> requests.Response:
    """Opens mailroom's sign-in page at ``auth_url`` and submits it as a browser would: the
    hidden ``flow`` and ``csrf`` inputs, the ``mailroom_csrf_<flow>`` cookie, the email,
    password and the testbed's servers (STARTTLS). Returns the form's answer, unfollowed.
    ``hinted``: the URL carries ``login_hint``, so the page has the email filled in."""
    page = requests.get(auth_url, allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert page.status_code == 200, f"GET {auth_url} answered {page.status_code}: {page.text[:2000]}"
    assert "text/html" in page.headers.get("content-type", ""), page.headers

    def hidden(name: str) -> str:
        match = re.search(rf'name="{name}" value="([^"]*)"', page.text)
        assert match, f"the sign-in page has no hidden input {name!r}:\n{page.text[:2000]}"
        return match.group(1)

    flow = hidden("flow")
    cookies = {k: v for k, v in page.cookies.items() if k.startswith("mailroom_csrf_")}
    assert list(cookies) == [f"mailroom_csrf_{flow}"], page.headers
    if hinted:
        assert f'value="{testbed.email()}"' in page.text, "the login_hint fills in the email"
    action = re.search(r'<form method="post" action="([^"]*)"', page.text)
    assert action, f"the sign-in page has no POST form:\n{page.text[:2000]}"
    form = {
        "flow": flow,
        "csrf": hidden("csrf"),
        "email": testbed.email(),
        "password": password or testbed.password(),
        "imap_host": "localhost",
        "imap_port": str(testbed.imap_port),
        "imap_security": "starttls",
        "smtp_host": "localhost",
        "smtp_port": str(testbed.submission_port),
        "smtp_security": "starttls",
    }
    return requests.post(
        urljoin(page.url, html.unescape(action.group(1))), data=form, cookies=cookies, allow_redirects=False, timeout=HTTP_TIMEOUT
    )


def redirect_query(response: requests.Response) -> Dict[str, str]:
    """The query of a 303 to ``REDIRECT_URI``."""
    assert response.status_code == 303, f"expected a 303 to the redirect URI, got {response.status_code}: {response.text[:2000]}"
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}


def hosted_auth(app: V2App, testbed: Testbed, scopes: str) -> dict:
    """Hosted authentication end to end through the SDK; returns ``/oauth/token``'s JSON."""
    client = app.client()
    auth_url = client.authentication_url(REDIRECT_URI, login_hint=testbed.email(), scopes=scopes, state="s")
    back = redirect_query(sign_in(auth_url, testbed))
    return client.send_authorization(back["code"])


def native_authorize(app: V2App, testbed: Testbed, scopes: str, **settings) -> requests.Response:
    """``POST /connect/authorize`` for user77 as v2 documents it (the 5.x SDK has no call
    for it; ``requests`` with the CA, as seed 004's curl)."""
    return requests.post(
        app.api_server + "/connect/authorize",
        json={
            "client_id": app.client_id,
            "name": "User Seventy-Seven",
            "email_address": testbed.email(),
            "provider": "imap",
            "settings": testbed.v2_settings(**settings),
            "scopes": scopes,
        },
        timeout=HTTP_TIMEOUT,
    )


def native_token(app: V2App, code: str) -> requests.Response:
    return requests.post(
        app.api_server + "/connect/token",
        json={"client_id": app.client_id, "client_secret": app.client_secret, "code": code},
        timeout=HTTP_TIMEOUT,
    )


def native_auth(app: V2App, testbed: Testbed, scopes: str) -> dict:
    """Native authentication end to end; returns ``/connect/token``'s account JSON."""
    authorized = native_authorize(app, testbed, scopes)
    assert authorized.status_code == 200, f"/connect/authorize: {authorized.status_code} {authorized.text}"
    code = authorized.json().get("code")
    assert isinstance(code, str) and code, authorized.text
    token = native_token(app, code)
    assert token.status_code == 200, f"/connect/token: {token.status_code} {token.text}"
    return token.json()


def v2_error(response: requests.Response, status: int) -> dict:
    """Checks a v2 error: ``status`` and the body ``{"message": str, "type": str}`` (not v3's
    ``{"request_id", "error": {...}}``). Returns the body."""
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {response.text}"
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"the {status} body is not JSON: {response.text!r}", pytrace=False)
    assert isinstance(body, dict), body
    assert isinstance(body.get("message"), str) and body["message"], body
    assert isinstance(body.get("type"), str) and body["type"], body
    assert not isinstance(body.get("error"), dict), f"a v3 error envelope, not v2's: {body}"
    return body


# Seed 004: a token without the scope a call needs gets a 403 whose message starts so.
SCOPE_MESSAGE = (
    "You do not have access to the required scopes. You provided a token which has the "
    "following scopes: {}. You would need a token with at least one of the following scopes: ["
)


def scope_refusal(response: requests.Response, granted: List[str]) -> List[str]:
    """Checks seed 004's 403 for a token with the scopes ``granted``: ``type`` ``api_error``,
    the message naming them as a Python list does, then the scopes that would do. Returns
    those."""
    body = v2_error(response, 403)
    assert body["type"] == "api_error", body
    prefix = SCOPE_MESSAGE.format(repr(granted))
    message = body["message"]
    assert message.startswith(prefix), f"{message!r} does not start with {prefix!r}"
    needed = ast.literal_eval(message[len(prefix) - 1 :])
    assert isinstance(needed, list) and needed, message
    assert all(isinstance(s, str) for s in needed), message
    return needed


def wait_until(what: str, probe: Callable[[], tuple], timeout: float = 60.0, poll: float = 0.1):
    """Polls ``probe() -> (done, observed)`` until done; fails with the last observation."""
    deadline = time.monotonic() + timeout
    while True:
        done, observed = probe()
        if done:
            return observed
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {observed!r}", pytrace=False)
        time.sleep(poll)


# --------------------------------------------------------------------------- mail helpers

# A signed-in account for the mail resources: modify (read, flags, folders), send, drafts.
MAIL_SCOPES = "email.modify,email.send,email.drafts"


def signed_in(app: V2App, testbed: Testbed, scopes: str = MAIL_SCOPES):
    """Hosted authentication of user77 through the SDK; returns ``(client, token JSON)``."""
    token = hosted_auth(app, testbed, scopes)
    return app.client(token["access_token"]), token


def rfc822(subject: str, *, sender: str = "Sender <sender@example.test>", to: str = "",
           date: Optional[datetime] = None, message_id: Optional[str] = None,
           in_reply_to: Optional[str] = None, body: str = "A message for the v2 SDK suite.\n") -> bytes:
    """A plain-text message (RFC 5322) for APPEND."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(timezone.utc))
    message["Message-ID"] = message_id or make_msgid(domain="example.test")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message.as_bytes()


class Imap:
    """A second IMAP client on user77's mailbox (STARTTLS, verified with the testbed CA):
    what the tests put there and what they check the API did there."""

    def __init__(self, testbed: Testbed):
        self.testbed = testbed

    def _session(self) -> imaplib.IMAP4:
        imap = imaplib.IMAP4("localhost", self.testbed.imap_port, timeout=30)
        imap.starttls(ssl_context=ssl.create_default_context(cafile=self.testbed.ca))
        imap.login(self.testbed.email(), self.testbed.password())
        return imap

    def append(self, raw: bytes, folder: str = "INBOX", flags: str = "",
               date: Optional[datetime] = None) -> None:
        imap = self._session()
        try:
            when = imaplib.Time2Internaldate(date.timestamp()) if date else None
            typ, data = imap.append(folder, f"({flags})" if flags else None, when, raw)
            assert typ == "OK", f"APPEND to {folder}: {typ} {data!r}"
        finally:
            imap.logout()

    def find(self, folder: str, subject: str) -> List[List[str]]:
        """The flags of each message in ``folder`` whose subject contains ``subject``."""
        imap = self._session()
        try:
            typ, _ = imap.select(f'"{folder}"', readonly=True)
            assert typ == "OK", folder
            typ, data = imap.uid("SEARCH", "SUBJECT", f'"{subject}"')
            assert typ == "OK", data
            found = []
            for uid in data[0].split():
                typ, parts = imap.uid("FETCH", uid.decode(), "(FLAGS)")
                flags = re.search(rb"FLAGS \(([^)]*)\)", parts[0])
                found.append(flags.group(1).decode().split() if flags else [])
            return found
        finally:
            imap.logout()

    def wait_count(self, folder: str, subject: str, count: int, timeout: float = 60.0) -> List[List[str]]:
        """Waits until ``folder`` holds ``count`` messages whose subject contains ``subject``."""

        def probe():
            found = self.find(folder, subject)
            return len(found) == count, found

        return wait_until(f"{count} message(s) {subject!r} in {folder}", probe, timeout=timeout)


@pytest.fixture
def imap(testbed: Testbed) -> Imap:
    return Imap(testbed)


def listed(collection, what: str, count: int, timeout: float = 60.0, **filters) -> list:
    """Waits until ``collection.where(**filters).all()`` lists ``count`` objects (the account
    has synced what the test put in the mailbox); returns them."""

    def probe():
        found = collection.where(**filters).all()
        return len(found) == count, found

    return wait_until(what, probe, timeout=timeout)
