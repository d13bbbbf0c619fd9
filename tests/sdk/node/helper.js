// Fixtures for running the official Nylas Node SDK (nylas 8.4.0, unchanged) against a real
// mailroom and the repo's testbed (Dovecot + Postfix on 127.0.0.1).
//
// `startSuite(name)` does everything a test file needs, in order, and throws (with the
// server's log) if any step fails, so a broken setup fails the tests instead of skipping them:
//
//   1. takes an exclusive lock on testbed user8 (test files run one at a time against it);
//   2. runs `testbed/start` and reads its env file;
//   3. `testbed/reset-user --wipe user8`, then APPENDs the corpus (corpus.js) over IMAP
//      through seed_imap.py (python3 stdlib; Node has no IMAP client);
//   4. starts `mailroom serve --listen 127.0.0.1:0` in a fresh temp data dir and reads the
//      port from its "listening on" line;
//   5. `mailroom app create --json`, then with the SDK: creates the IMAP connector and a
//      grant for user8 (POST /v3/connect/custom);
//   6. polls GET /v3/grants/{id} until the initial sync is complete.
//
// Test files use it through `sharedSuite(name)`, which runs it once, on the first test.
// It returns { nylas, grantId, apiKey, baseUrl, corpus, testbed, raw(), close() }.
// The lock, the testbed, `mailroom serve` and `mailroom app create` come from
// tests/support/mailroom_process.js, which tests/browser shares.

import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import Nylas from 'nylas';

import {
  MailroomServerProcess,
  acquireLock,
  resetUser,
  run,
  sharedSetup,
  startTestbed,
} from '../../support/mailroom_process.js';
import { buildCorpus, EMAIL, PASSWORD, USER } from './corpus.js';

export { REPO_ROOT } from '../../support/mailroom_process.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const SEED_TIMEOUT_MS = 120_000;
const SYNC_TIMEOUT_MS = 120_000;
const POLL_INTERVAL_MS = 100;
export const SDK_TIMEOUT_S = 60; // the SDK's default is 90 s; fail faster if the server hangs

// --------------------------------------------------------------------------- testbed

/** APPENDs the corpus over IMAP (STARTTLS, CA-verified) with seed_imap.py. */
export function seedMailbox(testbed, corpus) {
  const spec = {
    host: 'localhost',
    port: Number(testbed.TESTBED_IMAP_PORT),
    ca: testbed.TESTBED_CA,
    user: EMAIL,
    password: PASSWORD,
    messages: corpus.messages.map((m) => ({
      folder: m.folder,
      flags: m.flags,
      internaldate: m.date,
      raw_base64: Buffer.from(m.raw, 'utf8').toString('base64'),
    })),
  };
  const out = run('python3', [path.join(HERE, 'seed_imap.py')], {
    input: JSON.stringify(spec),
    timeout: SEED_TIMEOUT_MS,
  });
  const result = JSON.parse(out.trim().split('\n').pop());
  if (result.appended !== corpus.messages.length) {
    throw new Error(`seed_imap.py appended ${result.appended} of ${corpus.messages.length} messages`);
  }
  return result;
}

// --------------------------------------------------------------------------- mailroom

/** The shared server (../../support/mailroom_process.js) in `$TMPDIR/mailroom-sdk-node-<name>-XXXXXX/`. */
export class MailroomServer extends MailroomServerProcess {
  constructor(testbed, name) {
    super(testbed, {
      dirPrefix: `mailroom-sdk-node-${name}-`,
      // Long enough for the testbed's Dovecot on a loaded machine; no test here waits
      // for it (an unreachable server refuses at once).
      env: { MAILROOM_PROVIDER_TIMEOUT_SECS: '15' },
      httpTimeoutMs: SDK_TIMEOUT_S * 1000,
    });
  }

  client(apiKey) {
    return new Nylas({ apiKey, apiUri: this.baseUrl, timeout: SDK_TIMEOUT_S });
  }
}

/**
 * Polls GET /v3/grants/{id} until the initial sync is complete: sync_state "running",
 * every folder done, messages_synced == messages_total == `expectedTotal`.
 */
export async function waitForSync(server, apiKey, grantId, expectedTotal) {
  const deadline = Date.now() + SYNC_TIMEOUT_MS;
  let last;
  for (;;) {
    const response = await server.raw('GET', `/v3/grants/${encodeURIComponent(grantId)}`, apiKey);
    last = `${response.status} ${response.text}`;
    const data = response.json?.data;
    const progress = data?.sync_progress;
    if (
      response.status === 200 &&
      data.sync_state === 'running' &&
      progress &&
      progress.folders_done === progress.folders_total &&
      progress.messages_synced === progress.messages_total &&
      progress.messages_total === expectedTotal
    ) {
      return data;
    }
    if (server.proc.exitCode !== null || server.proc.signalCode !== null) {
      throw new Error(`mailroom exited while the grant was syncing\n${server.diagnostics()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(
        `grant ${grantId} did not finish its initial sync of ${expectedTotal} messages within ` +
          `${SYNC_TIMEOUT_MS / 1000} s; last GET /v3/grants/{id}: ${last}\n${server.diagnostics()}`,
      );
    }
    await delay(POLL_INTERVAL_MS);
  }
}

/** IMAP custom-auth settings for user8, as an application sends them. */
export function imapSettings(testbed) {
  return {
    imap_username: EMAIL,
    imap_password: PASSWORD,
    imap_host: 'localhost',
    imap_port: Number(testbed.TESTBED_IMAP_PORT),
    smtp_host: 'localhost',
    smtp_port: Number(testbed.TESTBED_SUBMISSION_PORT),
  };
}

// --------------------------------------------------------------------------- the whole setup

export async function startSuite(name) {
  const release = await acquireLock(`mailroom-sdk-node-${USER}`);
  let server;
  try {
    const testbed = startTestbed();
    resetUser(USER);
    const corpus = buildCorpus();
    seedMailbox(testbed, corpus);

    server = new MailroomServer(testbed, name);
    await server.start();
    const app = server.appCreate(`sdk-node-${name}`);
    const nylas = server.client(app.api_key);

    const connector = await nylas.connectors.create({ requestBody: { provider: 'imap' } });
    if (connector.data?.provider !== 'imap') {
      throw new Error(`connectors.create returned ${JSON.stringify(connector)}`);
    }
    const grant = await nylas.auth.customAuthentication({
      requestBody: { provider: 'imap', settings: imapSettings(testbed) },
    });
    const grantId = grant.data?.id;
    if (!grantId) throw new Error(`customAuthentication returned no grant id: ${JSON.stringify(grant)}`);
    const synced = await waitForSync(server, app.api_key, grantId, corpus.total);

    let closed = false;
    return {
      name,
      testbed,
      corpus,
      server,
      app,
      nylas,
      grantId,
      grant: grant.data,
      synced,
      baseUrl: server.baseUrl,
      apiKey: app.api_key,
      raw: (method, urlPath, options) => server.raw(method, urlPath, app.api_key, options),
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

/**
 * For a test file: `const suite = sharedSuite('name')` at the top level, then
 * `const s = await suite()` in each test. The first call runs `startSuite`; every test
 * awaits the same promise, so a setup that fails (testbed, seeding, server, sync) fails
 * each test with its reason instead of cancelling or skipping them. The server is stopped
 * and the user8 lock released after the file's last test.
 */
export function sharedSuite(name) {
  return sharedSetup(() => startSuite(name));
}

/** Collects every page of an SDK list call through its async iterator. */
export async function collectPages(asyncList) {
  const pages = [];
  for await (const page of asyncList) pages.push(page);
  return pages;
}
