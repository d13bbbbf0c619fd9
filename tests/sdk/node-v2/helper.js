// Fixtures for running the official Nylas Node SDK for API v2 (nylas 6.8.0, unchanged)
// against a real mailroom served over HTTPS and the repo's testbed.
//
// Run through run-tests.js, which makes the test CA and certificate and starts `node --test`
// with NODE_EXTRA_CA_CERTS (Node reads it only at start). `sharedSuite(name)` then, once per
// test file, and throwing with the server's log if any step fails (nothing is skipped):
//
//   1. takes the lock on testbed user78 (test files take turns on it);
//   2. runs `testbed/start`, `testbed/reset-user --wipe user78`, and APPENDs one message
//      to its INBOX with ../node/seed_imap.py (python3 stdlib);
//   3. starts `mailroom serve --tls-cert --tls-key` (https://127.0.0.1:PORT).
//
// `newApp()` makes an application (`mailroom app create --callback-uri REDIRECT_URI`) with
// the IMAP connector (POST /v3/connectors with its API key) and points the SDK's global
// configuration (`Nylas.config`) at it, so each test has grants of its own.
// The lock, the testbed and `mailroom serve` come from tests/support/mailroom_process.js.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

import Nylas from 'nylas';

import {
  MailroomServerProcess,
  acquireLock,
  resetUser,
  run,
  sharedSetup,
  startTestbed,
} from '../../support/mailroom_process.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export const USER = 'user78';
export const EMAIL = 'user78@example.test';
export const PASSWORD = 'pass78';
export const REDIRECT_URI = 'http://localhost:9078/v2/callback';
export const HTTP_TIMEOUT_MS = 60_000;
const SEED_TIMEOUT_MS = 120_000;

/** The certificate run-tests.js made; throws if the suite was started otherwise. */
function tlsFiles() {
  const dir = process.env.MAILROOM_SDK_V2_TLS_DIR;
  const ca = dir && path.join(dir, 'ca.pem');
  if (!dir || process.env.NODE_EXTRA_CA_CERTS !== ca || !fs.existsSync(ca)) {
    throw new Error(
      'run this suite with `node run-tests.js` (it makes the test CA and sets NODE_EXTRA_CA_CERTS ' +
        'before node starts); plain `node --test` cannot trust mailroom\'s certificate',
    );
  }
  return { ca, cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}

/** One message in user78's INBOX, for the message listings to find. */
function seedMailbox(testbed, subject) {
  const raw = [
    'From: Sender <sender@example.test>',
    `To: ${EMAIL}`,
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${randomUUID()}@example.test>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'A message for the v2 Node SDK suite.',
    '',
  ].join('\r\n');
  const spec = {
    host: 'localhost',
    port: Number(testbed.TESTBED_IMAP_PORT),
    ca: testbed.TESTBED_CA,
    user: EMAIL,
    password: PASSWORD,
    messages: [
      { folder: 'INBOX', flags: [], internaldate: Math.floor(Date.now() / 1000), raw_base64: Buffer.from(raw).toString('base64') },
    ],
  };
  const out = run('python3', [path.join(HERE, '..', 'node', 'seed_imap.py')], {
    input: JSON.stringify(spec),
    timeout: SEED_TIMEOUT_MS,
  });
  const result = JSON.parse(out.trim().split('\n').pop());
  if (result.appended !== 1) throw new Error(`seed_imap.py appended ${result.appended} of 1 message`);
}

export class MailroomServer extends MailroomServerProcess {
  constructor(testbed, name, tls) {
    super(testbed, {
      dirPrefix: `mailroom-sdk-node-v2-${name}-`,
      // Long enough for the testbed's Dovecot on a loaded machine; no test here waits for it.
      env: { MAILROOM_PROVIDER_TIMEOUT_SECS: '15' },
      serveArgs: ['--tls-cert', tls.cert, '--tls-key', tls.key],
      httpTimeoutMs: HTTP_TIMEOUT_MS,
    });
  }
}

async function startSuite(name) {
  const tls = tlsFiles();
  const release = await acquireLock(`mailroom-sdk-node-${USER}`);
  let server;
  try {
    const testbed = startTestbed({ user: USER });
    resetUser(USER);
    const subject = `v2 node sdk check ${randomUUID().slice(0, 12)}`;
    seedMailbox(testbed, subject);
    server = new MailroomServer(testbed, name, tls);
    await server.start();
    if (!server.baseUrl.startsWith('https://')) {
      throw new Error(`mailroom listens on ${server.baseUrl}, not https`);
    }
    let apps = 0;
    let closed = false;
    return {
      testbed,
      server,
      subject,
      baseUrl: server.baseUrl,
      /** A fresh application with the IMAP connector; `Nylas.config` now points at it. */
      async newApp() {
        apps += 1;
        const app = server.appCreate(`sdk-node-v2-${name}-${apps}`, { callbackUris: [REDIRECT_URI] });
        const connector = await server.raw('POST', '/v3/connectors', app.api_key, { body: { provider: 'imap' } });
        if (connector.status !== 200 && connector.status !== 201) {
          throw server.addDiagnostics(new Error(`POST /v3/connectors answered ${connector.status}: ${connector.text}`));
        }
        Nylas.config({ clientId: app.client_id, clientSecret: app.client_secret, apiServer: server.baseUrl });
        return { clientId: app.client_id, clientSecret: app.client_secret, apiKey: app.api_key };
      },
      async close() {
        if (closed) return;
        closed = true;
        try {
          await server.stop();
        } finally {
          release();
        }
      },
    };
  } catch (e) {
    try {
      await server?.stop();
    } finally {
      release();
    }
    throw server ? server.addDiagnostics(e) : e;
  }
}

/** `const suite = sharedSuite('name')` at a file's top level, `await suite()` in each test. */
export function sharedSuite(name) {
  return sharedSetup(() => startSuite(name));
}

/** Native authentication's IMAP `settings` in v2's names: the testbed, STARTTLS. */
export function imapSettings(testbed, overrides = {}) {
  return {
    imap_host: 'localhost',
    imap_port: Number(testbed.TESTBED_IMAP_PORT),
    imap_username: EMAIL,
    imap_password: PASSWORD,
    smtp_host: 'localhost',
    smtp_port: Number(testbed.TESTBED_SUBMISSION_PORT),
    smtp_username: EMAIL,
    smtp_password: PASSWORD,
    ssl_required: true,
    ...overrides,
  };
}

/**
 * Awaits an SDK call; a rejection is rethrown naming `what` and the status, since the SDK's
 * NylasApiError carries no message when the body is not v2's `{"message", "type"}`.
 */
export async function sdk(what, promise) {
  try {
    return await promise;
  } catch (e) {
    throw new Error(`${what} failed: ${e.statusCode ?? ''} ${e.type ?? e.name} ${e.message}`.trim(), { cause: e });
  }
}

/** `Nylas.connect.authorize` then `Nylas.connect.token` for user78; returns the Account. */
export async function nativeAuth(testbed, scopes, settings = {}) {
  const { code } = await sdk(
    'Nylas.connect.authorize (POST /connect/authorize)',
    Nylas.connect.authorize({
      name: 'User Seventy-Eight',
      emailAddress: EMAIL,
      provider: 'imap',
      settings: imapSettings(testbed, settings),
      scopes,
    }),
  );
  assert.equal(typeof code, 'string');
  assert.ok(code);
  return sdk('Nylas.connect.token (POST /connect/token)', Nylas.connect.token(code));
}

/** The account of `token` through the SDK (GET /account, the token as the Basic user). */
export function account(token) {
  return sdk('Nylas.with(token).account.get (GET /account)', Nylas.with(token).account.get());
}

/** Hosted authentication end to end through the SDK; returns the AccessToken. */
export async function hostedAuth(testbed, scopes) {
  const authUrl = Nylas.urlForAuthentication({ loginHint: EMAIL, redirectURI: REDIRECT_URI, scopes, state: 's' });
  const back = await signIn(authUrl, testbed);
  return sdk('Nylas.exchangeCodeForToken (GET /oauth/token)', Nylas.exchangeCodeForToken(back.code));
}

// Seed 004: a token without the scope a call needs gets a 403 whose message starts so.
const SCOPE_MESSAGE = (granted) =>
  'You do not have access to the required scopes. You provided a token which has the ' +
  `following scopes: [${granted.map((s) => `'${s}'`).join(', ')}]. You would need a token with ` +
  'at least one of the following scopes: [';

/**
 * Checks seed 004's 403 for a token with the scopes `granted` on the SDK call `promise`:
 * `type` `api_error`, the message naming them as a Python list does, then the scopes that
 * would do. Returns those.
 */
export async function scopeRefusal(promise, granted) {
  const error = await rejectsWithApiError(promise, 403);
  assert.equal(error.type, 'api_error');
  const prefix = SCOPE_MESSAGE(granted);
  assert.ok(error.message.startsWith(prefix), `${JSON.stringify(error.message)} does not start with ${JSON.stringify(prefix)}`);
  const needed = JSON.parse(error.message.slice(prefix.length - 1).replaceAll("'", '"'));
  assert.ok(Array.isArray(needed) && needed.length > 0, error.message);
  assert.ok(needed.every((scope) => typeof scope === 'string'), error.message);
  return needed;
}

/** GET /oauth/token with `fields` as the query, as the SDK sends it; returns status and JSON. */
export async function tokenByGet(baseUrl, fields) {
  const url = new URL(`${baseUrl}/oauth/token`);
  for (const [k, v] of Object.entries(fields)) url.searchParams.set(k, v);
  const response = await fetch(url, { signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, text, json };
}

/** Checks a v2 error answer: `status` and the body `{"message": string, "type": string}`. */
export function assertV2Error(answer, status) {
  assert.equal(answer.status, status, `expected ${status}, got ${answer.status}: ${answer.text}`);
  assert.equal(typeof answer.json?.message, 'string', answer.text);
  assert.ok(answer.json.message, answer.text);
  assert.equal(typeof answer.json.type, 'string', answer.text);
  assert.ok(answer.json.type, answer.text);
}

/**
 * Opens mailroom's sign-in page at `authUrl` and submits it as a browser would (hidden
 * `flow` and `csrf`, the `mailroom_csrf_<flow>` cookie, email, password, the testbed's
 * servers). Returns the query of the 303 to REDIRECT_URI.
 */
export async function signIn(authUrl, testbed) {
  const page = await fetch(authUrl, { redirect: 'manual', signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) });
  const html = await page.text();
  assert.equal(page.status, 200, `GET ${authUrl} answered ${page.status}: ${html.slice(0, 2000)}`);
  assert.match(page.headers.get('content-type') ?? '', /text\/html/);
  const hidden = (name) => {
    const match = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
    assert.ok(match, `the sign-in page has no hidden input ${name}:\n${html.slice(0, 2000)}`);
    return match[1];
  };
  const flow = hidden('flow');
  const cookies = page.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .filter((c) => c.startsWith('mailroom_csrf_'));
  assert.deepEqual(cookies.map((c) => c.split('=')[0]), [`mailroom_csrf_${flow}`]);
  assert.ok(html.includes(`value="${EMAIL}"`), 'the login hint fills in the email');
  const action = /<form method="post" action="([^"]*)"/.exec(html);
  assert.ok(action, `the sign-in page has no POST form:\n${html.slice(0, 2000)}`);
  const form = new URLSearchParams({
    flow,
    csrf: hidden('csrf'),
    email: EMAIL,
    password: PASSWORD,
    imap_host: 'localhost',
    imap_port: String(testbed.TESTBED_IMAP_PORT),
    imap_security: 'starttls',
    smtp_host: 'localhost',
    smtp_port: String(testbed.TESTBED_SUBMISSION_PORT),
    smtp_security: 'starttls',
  });
  const done = await fetch(new URL(action[1].replaceAll('&amp;', '&'), authUrl), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookies.join('; '), 'content-type': 'application/x-www-form-urlencoded' },
    body: form,
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await done.text();
  assert.equal(done.status, 303, `the form answered ${done.status}: ${text.slice(0, 2000)}`);
  const location = done.headers.get('location');
  assert.ok(location.startsWith(`${REDIRECT_URI}?`), location);
  return Object.fromEntries(new URL(location).searchParams);
}

/**
 * Checks a rejection from the SDK: its NylasApiError with `statusCode`, and v2's error body
 * (the SDK's `type` and `message` come from `{"message", "type"}`). Returns the error.
 */
export async function rejectsWithApiError(promise, statusCode) {
  let error;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected a ${statusCode} rejection, the call succeeded`);
  assert.equal(
    error.statusCode,
    statusCode,
    `expected ${statusCode}, got ${error.statusCode} (${error.type ?? error.name}): ${error.message}`,
  );
  assert.equal(typeof error.type, 'string', `no v2 error type: ${error.message}`);
  assert.ok(error.type, `no v2 error type: ${error.message}`);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message);
  return error;
}

/** Polls `probe() -> [done, observed]` until done (deadline); returns the observation. */
export async function waitUntil(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [done, observed] = await probe();
    if (done) return observed;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}; last seen: ${JSON.stringify(observed)}`);
    }
    await delay(100);
  }
}

// --------------------------------------------------------------------------- mail helpers

/** A signed-in account for the mail resources: modify (read, flags, folders), send, drafts. */
export const MAIL_SCOPES = ['email.modify', 'email.send', 'email.drafts'];

/** Hosted authentication of user78 through the SDK; returns `{client, token}`. */
export async function signedIn(testbed, scopes = MAIL_SCOPES) {
  const token = await hostedAuth(testbed, scopes);
  return { client: Nylas.with(token.accessToken), token };
}

/** A plain-text message (RFC 5322) for APPEND. */
export function rfc822({ subject, from = 'Sender <sender@example.test>', to = EMAIL, date = new Date(), messageId, inReplyTo, body = 'A message for the v2 Node SDK suite.' }) {
  const headers = [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Date: ${date.toUTCString()}`,
    `Message-ID: ${messageId ?? `<${randomUUID()}@example.test>`}`,
  ];
  if (inReplyTo) headers.push(`In-Reply-To: ${inReplyTo}`, `References: ${inReplyTo}`);
  headers.push('MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', body, '');
  return headers.join('\r\n');
}

/**
 * APPENDs `messages` ([{raw, folder = 'INBOX', flags = [], date = new Date()}]) to user78's
 * mailbox over IMAP with ../node/seed_imap.py.
 */
export function imapAppend(testbed, messages) {
  const spec = {
    host: 'localhost',
    port: Number(testbed.TESTBED_IMAP_PORT),
    ca: testbed.TESTBED_CA,
    user: EMAIL,
    password: PASSWORD,
    messages: messages.map(({ raw, folder = 'INBOX', flags = [], date = new Date() }) => ({
      folder,
      flags,
      internaldate: Math.floor(date.getTime() / 1000),
      raw_base64: Buffer.from(raw).toString('base64'),
    })),
  };
  const out = run('python3', [path.join(HERE, '..', 'node', 'seed_imap.py')], {
    input: JSON.stringify(spec),
    timeout: SEED_TIMEOUT_MS,
  });
  const result = JSON.parse(out.trim().split('\n').pop());
  if (result.appended !== messages.length) throw new Error(`seed_imap.py appended ${result.appended} of ${messages.length}`);
}

// A second IMAP client (python3 stdlib; Node has none): the flags of each message in a folder
// whose subject contains the one asked for, as one JSON line.
const IMAP_FIND = String.raw`
import imaplib, json, re, ssl, sys
spec = json.load(sys.stdin)
imap = imaplib.IMAP4(spec["host"], int(spec["port"]), timeout=30)
imap.starttls(ssl_context=ssl.create_default_context(cafile=spec["ca"]))
imap.login(spec["user"], spec["password"])
typ, _ = imap.select('"%s"' % spec["folder"], readonly=True)
assert typ == "OK", spec["folder"]
typ, data = imap.uid("SEARCH", "SUBJECT", '"%s"' % spec["subject"])
found = []
for uid in data[0].split():
    typ, parts = imap.uid("FETCH", uid.decode(), "(FLAGS)")
    m = re.search(rb"FLAGS \(([^)]*)\)", parts[0])
    found.append(m.group(1).decode().split() if m else [])
imap.logout()
print(json.dumps(found))
`;

/** The flags of each message in `folder` of user78's mailbox whose subject contains `subject`. */
export function imapFind(testbed, folder, subject) {
  const spec = { host: 'localhost', port: Number(testbed.TESTBED_IMAP_PORT), ca: testbed.TESTBED_CA, user: EMAIL, password: PASSWORD, folder, subject };
  const out = run('python3', ['-c', IMAP_FIND], { input: JSON.stringify(spec), timeout: SEED_TIMEOUT_MS });
  return JSON.parse(out.trim().split('\n').pop());
}

/** Waits until `folder` holds `count` messages whose subject contains `subject`; returns their flags. */
export function imapCount(testbed, folder, subject, count) {
  return waitUntil(`${count} message(s) ${JSON.stringify(subject)} in ${folder}`, async () => {
    const found = imapFind(testbed, folder, subject);
    return [found.length === count, found];
  });
}

/** Waits until `collection.list(params)` lists `count` objects; returns them. */
export async function listed(collection, what, count, params) {
  let models = [];
  await waitUntil(what, async () => {
    models = await sdk(`list ${JSON.stringify(params)}`, collection.list(params));
    return [models.length === count, models.map((m) => m.subject ?? m.id)];
  });
  return models;
}
