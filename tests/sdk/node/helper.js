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

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

import Nylas from 'nylas';

import { buildCorpus, EMAIL, PASSWORD, USER } from './corpus.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..', '..');

const TESTBED_START_TIMEOUT_MS = 20 * 60_000; // may apt-get install Dovecot/Postfix first
const RESET_TIMEOUT_MS = 60_000;
const SEED_TIMEOUT_MS = 120_000;
const SERVER_START_TIMEOUT_MS = 60_000;
const CLI_TIMEOUT_MS = 60_000;
const SYNC_TIMEOUT_MS = 120_000;
const LOCK_TIMEOUT_MS = TESTBED_START_TIMEOUT_MS + 10 * 60_000; // the holder may be installing the testbed
const POLL_INTERVAL_MS = 100;
export const SDK_TIMEOUT_S = 60; // the SDK's default is 90 s; fail faster if the server hangs

const LISTENING_RE = /mailroom \S+ listening on (http:\/\/127\.0\.0\.1:(\d+))/;

// --------------------------------------------------------------------------- lock

const LOCK_PATH = path.join(os.tmpdir(), `mailroom-sdk-node-${USER}.lock`);

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** One test file at a time owns user8: `node --test` may run files in parallel. */
async function acquireLock() {
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      const fd = fs.openSync(LOCK_PATH, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      const release = () => {
        try {
          if (fs.readFileSync(LOCK_PATH, 'utf8') === String(process.pid)) fs.unlinkSync(LOCK_PATH);
        } catch {
          // already gone
        }
      };
      process.once('exit', release);
      return release;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let holder = NaN;
    try {
      holder = Number.parseInt(fs.readFileSync(LOCK_PATH, 'utf8'), 10);
    } catch {
      continue; // released between open and read
    }
    if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
      fs.rmSync(LOCK_PATH, { force: true }); // stale: its owner died
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`${LOCK_PATH} is still held by pid ${holder} after ${LOCK_TIMEOUT_MS / 1000} s`);
    }
    await delay(POLL_INTERVAL_MS);
  }
}

// --------------------------------------------------------------------------- processes

function run(cmd, args, { input, timeout, env } = {}) {
  const result = spawnSync(cmd, args, {
    input,
    timeout,
    env: env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const shown = [cmd, ...args].join(' ');
  if (result.error) throw new Error(`cannot run ${shown}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(
      `${shown} failed (exit ${result.status}, signal ${result.signal})\n` +
        `--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`,
    );
  }
  return result.stdout;
}

function parseEnvFile(file) {
  const env = {};
  for (let line of fs.readFileSync(file, 'utf8').split('\n')) {
    line = line.trim();
    if (!line || line.startsWith('#') || !line.includes('=')) continue;
    const i = line.indexOf('=');
    let value = line.slice(i + 1).trim();
    const quoted = value.match(/^(['"])(.*)\1/);
    value = quoted ? quoted[2] : value.replace(/\s+#.*$/, '');
    env[line.slice(0, i).trim()] = value;
  }
  return env;
}

// --------------------------------------------------------------------------- testbed

export function startTestbed() {
  const start = path.join(REPO_ROOT, 'testbed', 'start');
  if (!fs.existsSync(start)) throw new Error(`the testbed start script ${start} does not exist`);
  run(start, [], { timeout: TESTBED_START_TIMEOUT_MS });
  const dir = process.env.MAILROOM_TESTBED_DIR || '/tmp/mailroom-testbed';
  const envFile = path.join(dir, 'env');
  if (!fs.existsSync(envFile)) throw new Error(`${start} succeeded but wrote no env file at ${envFile}`);
  const env = parseEnvFile(envFile);
  for (const key of ['TESTBED_CA', 'TESTBED_IMAP_PORT', 'TESTBED_SUBMISSION_PORT']) {
    if (!env[key]) throw new Error(`${envFile} lacks ${key}`);
  }
  if (!fs.existsSync(env.TESTBED_CA)) throw new Error(`the testbed CA ${env.TESTBED_CA} does not exist`);
  return env;
}

export function resetUser() {
  run(path.join(REPO_ROOT, 'testbed', 'reset-user'), ['--wipe', USER], { timeout: RESET_TIMEOUT_MS });
}

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

function mailroomBinary() {
  const configured = process.env.MAILROOM_BIN;
  let binary = configured || path.join(REPO_ROOT, 'target', 'debug', 'mailroom');
  if (!path.isAbsolute(binary)) binary = path.join(REPO_ROOT, binary);
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch {
    throw new Error(
      `mailroom binary not found at ${binary}; build it with ` +
        `\`cd ${REPO_ROOT} && cargo build --bin mailroom\` or set MAILROOM_BIN`,
    );
  }
  return binary;
}

export class MailroomServer {
  constructor(testbed, name) {
    this.binary = mailroomBinary();
    // Kept after the run for post-mortems (data dir and mailroom-serve.log); the next run of
    // the same test file removes it.
    const prefix = `mailroom-sdk-node-${name}-`;
    for (const old of fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith(prefix))) {
      fs.rmSync(path.join(os.tmpdir(), old), { recursive: true, force: true });
    }
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dataDir = path.join(this.dir, 'data');
    this.logPath = path.join(this.dir, 'mailroom-serve.log');
    this.stdoutLines = [];
    const env = { ...process.env };
    // Hermetic: nothing from the caller's environment picks another database or config.
    for (const key of [
      'MAILROOM_CONFIG',
      'MAILROOM_DATABASE_URL',
      'MAILROOM_DATA_DIR',
      'MAILROOM_LISTEN',
      'MAILROOM_SECRET_KEY',
    ]) {
      delete env[key];
    }
    Object.assign(env, {
      MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
      MAILROOM_EXTRA_CA_FILE: testbed.TESTBED_CA,
      MAILROOM_PROVIDER_TIMEOUT_SECS: '3',
    });
    this.env = env;
  }

  async start() {
    const log = fs.openSync(this.logPath, 'w');
    this.proc = spawn(
      this.binary,
      ['--data-dir', this.dataDir, 'serve', '--listen', '127.0.0.1:0'],
      { env: this.env, stdio: ['ignore', 'pipe', log] },
    );
    fs.closeSync(log); // the child has its own descriptor
    this.exited = once(this.proc, 'exit').catch(() => null); // 'error': it never started
    // Never leave a server behind to keep syncing user8, even if this run is interrupted.
    const proc = this.proc;
    const killChild = () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    };
    process.once('exit', killChild);
    for (const signal of ['SIGINT', 'SIGTERM']) {
      process.once(signal, () => {
        killChild();
        process.exit(signal === 'SIGINT' ? 130 : 143); // runs the 'exit' hooks: lock release
      });
    }
    const lines = readline.createInterface({ input: this.proc.stdout });
    const listening = new Promise((resolve, reject) => {
      lines.on('line', (line) => {
        this.stdoutLines.push(line); // keeps draining stdout for the server's whole life
        const match = LISTENING_RE.exec(line);
        if (match) resolve({ baseUrl: match[1], port: Number(match[2]) });
      });
      this.proc.once('error', reject);
      this.proc.once('exit', (code, signal) =>
        reject(new Error(`mailroom exited (code ${code}, signal ${signal}) before listening`)),
      );
    });
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`mailroom did not print its listening line within ${SERVER_START_TIMEOUT_MS / 1000} s`)),
        SERVER_START_TIMEOUT_MS,
      );
    });
    try {
      const { baseUrl, port } = await Promise.race([listening, timeout]);
      this.baseUrl = baseUrl;
      this.port = port;
    } catch (e) {
      await this.stop();
      throw new Error(`${e.message}\n${this.diagnostics()}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const cancel = new AbortController();
    const killed = delay(15_000, 'timeout', { signal: cancel.signal }).catch(() => null);
    const first = await Promise.race([this.exited, killed]);
    cancel.abort(); // don't keep the event loop alive for the rest of the 15 s
    if (first === 'timeout') {
      proc.kill('SIGKILL');
      await this.exited;
    }
  }

  diagnostics() {
    let log = '(no log)';
    try {
      log = fs.readFileSync(this.logPath, 'utf8');
    } catch {
      // no log yet
    }
    return (
      `--- mailroom stdout\n${this.stdoutLines.join('\n')}\n` +
      `--- mailroom stderr (${this.logPath}, tail)\n${log.slice(-8000)}`
    );
  }

  /** `mailroom app create --name NAME --json` against this server's data dir. */
  createApp(name) {
    const out = run(this.binary, ['--data-dir', this.dataDir, 'app', 'create', '--name', name, '--json'], {
      env: this.env,
      timeout: CLI_TIMEOUT_MS,
    });
    const line = out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('{'))
      .pop();
    if (!line) throw new Error(`\`mailroom app create --json\` printed no JSON object:\n${out}`);
    const app = JSON.parse(line);
    for (const key of ['application_id', 'client_id', 'client_secret', 'api_key', 'api_key_id']) {
      if (!app[key]) throw new Error(`\`mailroom app create --json\` output lacks ${key}: ${line}`);
    }
    return app;
  }

  client(apiKey) {
    return new Nylas({ apiKey, apiUri: this.baseUrl, timeout: SDK_TIMEOUT_S });
  }

  /** Raw HTTP, to see exactly what went over the wire. Returns { status, headers, body }. */
  async raw(method, urlPath, apiKey, { body, headers } = {}) {
    const response = await fetch(this.baseUrl + urlPath, {
      method,
      headers: {
        Authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(SDK_TIMEOUT_S * 1000),
    });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
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
  const release = await acquireLock();
  let server;
  try {
    const testbed = startTestbed();
    resetUser();
    const corpus = buildCorpus();
    seedMailbox(testbed, corpus);

    server = new MailroomServer(testbed, name);
    await server.start();
    const app = server.createApp(`sdk-node-${name}`);
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
    if (server && !String(e.message).includes('--- mailroom stdout')) {
      e.message += `\n${server.diagnostics()}`;
    }
    throw e;
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
  let started;
  after(async () => {
    const s = await started?.catch(() => null);
    await s?.close();
  });
  return () => (started ??= startSuite(name));
}

/** Collects every page of an SDK list call through its async iterator. */
export async function collectPages(asyncList) {
  const pages = [];
  for await (const page of asyncList) pages.push(page);
  return pages;
}
