// What the Node suites (tests/sdk/node, tests/browser) share to run a real mailroom against
// the repo's testbed: the per-user lock, testbed/start and reset-user, the server's database
// (SQLite, or PostgreSQL with MAILROOM_TEST_DATABASE=postgres), `mailroom serve` and
// `mailroom app create`. Node builtins only: each suite has its own package.json.

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');

const TESTBED_START_TIMEOUT_MS = 20 * 60_000; // may apt-get install Dovecot/Postfix first
const RESET_TIMEOUT_MS = 60_000;
const SERVER_START_TIMEOUT_MS = 60_000;
const CLI_TIMEOUT_MS = 60_000;
const LOCK_TIMEOUT_MS = TESTBED_START_TIMEOUT_MS + 10 * 60_000; // the holder may be installing the testbed
const LOCK_POLL_INTERVAL_MS = 100;

const LISTENING_RE = /mailroom \S+ listening on (https?:\/\/127\.0\.0\.1:(\d+))/;

// --------------------------------------------------------------------------- lock

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/**
 * Takes `$TMPDIR/<name>.lock`, so that one test file at a time owns a testbed user
 * (`node --test` may run files in parallel). Returns `release()`, which also runs on exit;
 * a lock whose owner died is taken over.
 */
export async function acquireLock(name) {
  const lockPath = path.join(os.tmpdir(), `${name}.lock`);
  const deadline = Date.now() + LOCK_TIMEOUT_MS;
  for (;;) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      fs.writeSync(fd, String(process.pid));
      fs.closeSync(fd);
      const release = () => {
        try {
          if (fs.readFileSync(lockPath, 'utf8') === String(process.pid)) fs.unlinkSync(lockPath);
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
      holder = Number.parseInt(fs.readFileSync(lockPath, 'utf8'), 10);
    } catch {
      continue; // released between open and read
    }
    if (Number.isInteger(holder) && holder > 0 && !pidAlive(holder)) {
      fs.rmSync(lockPath, { force: true }); // stale: its owner died
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`${lockPath} is still held by pid ${holder} after ${LOCK_TIMEOUT_MS / 1000} s`);
    }
    await delay(LOCK_POLL_INTERVAL_MS);
  }
}

// --------------------------------------------------------------------------- processes

/** Runs `cmd` to completion; returns its stdout, or throws with stdout and stderr. */
export function run(cmd, args, { input, timeout, env } = {}) {
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

/**
 * Runs `testbed/start` and returns the settings from its env file (TESTBED_CA,
 * TESTBED_IMAP_PORT, …). With `user` (e.g. 'user17'), also checks that the testbed has it.
 */
export function startTestbed({ user } = {}) {
  const start = path.join(REPO_ROOT, 'testbed', 'start');
  if (!fs.existsSync(start)) throw new Error(`the testbed start script ${start} does not exist`);
  run(start, [], { timeout: TESTBED_START_TIMEOUT_MS });
  const dir = process.env.MAILROOM_TESTBED_DIR || '/tmp/mailroom-testbed';
  const envFile = path.join(dir, 'env');
  if (!fs.existsSync(envFile)) throw new Error(`${start} succeeded but wrote no env file at ${envFile}`);
  const env = parseEnvFile(envFile);
  const required = ['TESTBED_CA', 'TESTBED_IMAP_PORT', 'TESTBED_SUBMISSION_PORT'];
  if (user) required.push('TESTBED_USERS');
  for (const key of required) {
    if (!env[key]) throw new Error(`${envFile} lacks ${key}`);
  }
  if (!fs.existsSync(env.TESTBED_CA)) throw new Error(`the testbed CA ${env.TESTBED_CA} does not exist`);
  if (user && Number(env.TESTBED_USERS) < Number(user.replace(/^user/, ''))) {
    throw new Error(`the testbed has ${env.TESTBED_USERS} users; this suite needs ${user}`);
  }
  return env;
}

/** `testbed/reset-user --wipe USER`: an empty mailbox. */
export function resetUser(user) {
  run(path.join(REPO_ROOT, 'testbed', 'reset-user'), ['--wipe', user], { timeout: RESET_TIMEOUT_MS });
}

// --------------------------------------------------------------------------- database

const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';
const PSQL_TIMEOUT_MS = 60_000;

// Schemas not dropped yet: dropped on exit too, however the run ends.
const liveSchemas = new Set();

function psql(url, sql) {
  try {
    return run('psql', [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
      timeout: PSQL_TIMEOUT_MS,
      env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
    });
  } catch (e) {
    throw new Error(
      `MAILROOM_TEST_DATABASE=postgres needs psql and PostgreSQL at ${url} (MAILROOM_TEST_POSTGRES): ${e.message}`,
    );
  }
}

/**
 * The database one server runs on. MAILROOM_TEST_DATABASE picks the engine: unset or
 * `sqlite`, the data dir's SQLite file (mailroom's default); `postgres`, a fresh schema
 * `mr_test_<uuid>` in the database at MAILROOM_TEST_POSTGRES (default the local server's
 * `test` database, as for the store's and the Rust tests), passed to mailroom as
 * MAILROOM_DATABASE_URL with the schema as its search path, and dropped by `drop()`.
 * Anything else, or a PostgreSQL that cannot be reached, throws: the tests fail, never skip
 * or quietly use SQLite.
 */
export class ServerDatabase {
  constructor() {
    const engine = process.env.MAILROOM_TEST_DATABASE || 'sqlite';
    if (engine !== 'sqlite' && engine !== 'postgres') {
      throw new Error(`MAILROOM_TEST_DATABASE=${JSON.stringify(engine)}: expected 'sqlite' or 'postgres'`);
    }
    this.engine = engine;
    this.url = process.env.MAILROOM_TEST_POSTGRES || DEFAULT_POSTGRES;
    this.schema = null;
    if (engine === 'postgres') {
      const schema = `mr_test_${randomUUID().replaceAll('-', '')}`;
      psql(this.url, `CREATE SCHEMA ${schema}`);
      this.schema = schema;
      liveSchemas.add(this);
    }
  }

  /** What mailroom needs to use it (nothing for SQLite). */
  env() {
    if (!this.schema) return {};
    const separator = this.url.includes('?') ? '&' : '?';
    return { MAILROOM_DATABASE_URL: `${this.url}${separator}options=-c%20search_path%3D${this.schema}` };
  }

  drop() {
    const schema = this.schema;
    if (!schema) return;
    this.schema = null;
    liveSchemas.delete(this);
    psql(this.url, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
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

// Never leave a server behind (it would keep syncing the suite's user), even if the run is
// interrupted: SIGINT/SIGTERM exit through the 'exit' hooks, which also release the lock.
const liveServers = new Set();
process.once('exit', () => {
  for (const proc of liveServers) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  for (const database of liveSchemas) {
    try {
      database.drop();
    } catch {
      // exiting anyway; a leftover schema is only clutter
    }
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
}

/**
 * `mailroom serve --listen 127.0.0.1:0` in a fresh `$TMPDIR/<dirPrefix>XXXXXX/` (data dir
 * and mailroom-serve.log, kept for post-mortems; the next run with the same prefix removes
 * it), with the testbed CA trusted, private hosts allowed and `env` added. `serveArgs` go
 * after `serve` (e.g. `--tls-cert`/`--tls-key`: then `baseUrl` is https). `httpTimeoutMs`
 * bounds each `raw()` request. `start()` gives it a database of its own (ServerDatabase);
 * `stop()` drops it.
 */
export class MailroomServerProcess {
  constructor(testbed, { dirPrefix, env = {}, serveArgs = [], httpTimeoutMs, listen = '127.0.0.1:0' }) {
    this.binary = mailroomBinary();
    this.listen = listen;
    for (const old of fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith(dirPrefix))) {
      fs.rmSync(path.join(os.tmpdir(), old), { recursive: true, force: true });
    }
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), dirPrefix));
    this.dataDir = path.join(this.dir, 'data');
    this.logPath = path.join(this.dir, 'mailroom-serve.log');
    this.stdoutLines = [];
    this.httpTimeoutMs = httpTimeoutMs;
    this.serveArgs = serveArgs;
    const serverEnv = { ...process.env };
    // Hermetic: nothing from the caller's environment picks another database or config.
    for (const key of [
      'MAILROOM_CONFIG',
      'MAILROOM_DATABASE_URL',
      'MAILROOM_DATA_DIR',
      'MAILROOM_LISTEN',
      'MAILROOM_SECRET_KEY',
      'MAILROOM_TLS_CERT',
      'MAILROOM_TLS_KEY',
    ]) {
      delete serverEnv[key];
    }
    Object.assign(serverEnv, {
      MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
      MAILROOM_EXTRA_CA_FILE: testbed.TESTBED_CA,
      ...env,
    });
    this.env = serverEnv;
  }

  /** Starts the server and waits for its "listening on" line (sets baseUrl and port). */
  async start() {
    this.database = new ServerDatabase();
    // appCreate() runs with the same env, so on the same database.
    Object.assign(this.env, this.database.env());
    const log = fs.openSync(this.logPath, 'w');
    this.proc = spawn(this.binary, ['--data-dir', this.dataDir, 'serve', '--listen', this.listen, ...this.serveArgs], {
      env: this.env,
      stdio: ['ignore', 'pipe', log],
    });
    fs.closeSync(log); // the child has its own descriptor
    liveServers.add(this.proc);
    this.exited = once(this.proc, 'exit').catch(() => null); // 'error': it never started
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

  /** SIGTERM, then SIGKILL after 15 s; then its database goes. */
  async stop() {
    try {
      await this.stopProcess();
    } finally {
      this.database?.drop();
    }
  }

  async stopProcess() {
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
    liveServers.delete(proc);
  }

  /** The server's stdout and the tail of its log, to append to an error. */
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

  /** Appends diagnostics() to `error`'s message unless it already has them. */
  addDiagnostics(error) {
    if (!String(error.message).includes('--- mailroom stdout')) error.message += `\n${this.diagnostics()}`;
    return error;
  }

  /**
   * `mailroom app create --name NAME [--callback-uri URI]… --allow-custom-servers --json`
   * against this server's data dir: the suites sign in to the testbed's servers as typed
   * (127.0.0.1 and its ports), which are not the servers of the users' domain. Returns the
   * CLI's JSON (application_id, client_id, client_secret, api_key, …).
   */
  appCreate(name, { callbackUris = [] } = {}) {
    const args = ['--data-dir', this.dataDir, 'app', 'create', '--name', name, '--allow-custom-servers', '--json'];
    for (const uri of callbackUris) args.push('--callback-uri', uri);
    const out = run(this.binary, args, { env: this.env, timeout: CLI_TIMEOUT_MS });
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

  /** Raw HTTP with an API key, to see exactly what went over the wire. Returns { status, headers, text, json }. */
  async raw(method, urlPath, apiKey, { body, headers } = {}) {
    const response = await fetch(this.baseUrl + urlPath, {
      method,
      headers: {
        Authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.httpTimeoutMs),
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

// --------------------------------------------------------------------------- the whole setup

/**
 * For a test file's top level: returns a function whose first call runs `start()`; every
 * later call returns the same promise, so a setup that fails fails each test with its reason
 * instead of cancelling or skipping it. After the file's last test, closes what it returned.
 */
export function sharedSetup(start) {
  let started;
  after(async () => {
    const s = await started?.catch(() => null);
    await s?.close();
  });
  return () => (started ??= start());
}
