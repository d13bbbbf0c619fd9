// Fixtures for driving mailroom's hosted sign-in page (GET/POST /v3/connect/auth) with
// headless Chromium (Debian's /usr/bin/chromium through playwright-core, no browser
// download) against a real mailroom and the repo's testbed.
//
// What the suite needs is started once per test file by `sharedSuite(name)`; every test
// awaits the same promise, so a setup that fails (testbed, server, Chromium) fails each
// test with its reason and the server log instead of skipping it:
//
//   1. an exclusive lock on testbed user17 (the only user this suite touches);
//   2. `testbed/start`, its env file, then `testbed/reset-user --wipe user17`;
//   3. `mailroom serve --listen 127.0.0.1:0` in a fresh temp data dir (the port read from
//      its "listening on" line), the way tests/sdk/node/helper.js starts it;
//   4. an HTTP server on 127.0.0.1 (random port) that plays the application: it serves
//      every redirect_uri and records what the browser arrives with;
//   5. Chromium, headless.
//
// Each test then makes its own application (`mailroom app create --callback-uri … --json`,
// plus the IMAP connector) and its own browser context (fresh cookies).

import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(HERE, '..', '..');

export const USER = 'user17';
export const EMAIL = 'user17@example.test';
export const PASSWORD = 'pass17';

export const CHROMIUM_PATH = process.env.MAILROOM_CHROMIUM || '/usr/bin/chromium';

const TESTBED_START_TIMEOUT_MS = 20 * 60_000; // may apt-get install Dovecot/Postfix first
const RESET_TIMEOUT_MS = 60_000;
const SERVER_START_TIMEOUT_MS = 60_000;
const CLI_TIMEOUT_MS = 60_000;
const HTTP_TIMEOUT_MS = 30_000;
const LOCK_TIMEOUT_MS = TESTBED_START_TIMEOUT_MS + 10 * 60_000;
const POLL_INTERVAL_MS = 50;
/** How long a test waits for the browser to reach the application. */
export const ARRIVAL_TIMEOUT_MS = 30_000;
/** Playwright's timeout for one action (click, fill, navigation). */
export const ACTION_TIMEOUT_MS = 20_000;

const LISTENING_RE = /mailroom \S+ listening on (http:\/\/127\.0\.0\.1:(\d+))/;

// --------------------------------------------------------------------------- lock

const LOCK_PATH = path.join(os.tmpdir(), `mailroom-browser-${USER}.lock`);

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** One test file at a time owns user17: `node --test` may run files in parallel. */
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

function run(cmd, args, { timeout, env } = {}) {
  const result = spawnSync(cmd, args, {
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
  for (const key of ['TESTBED_CA', 'TESTBED_IMAP_PORT', 'TESTBED_SUBMISSION_PORT', 'TESTBED_USERS']) {
    if (!env[key]) throw new Error(`${envFile} lacks ${key}`);
  }
  if (!fs.existsSync(env.TESTBED_CA)) throw new Error(`the testbed CA ${env.TESTBED_CA} does not exist`);
  if (Number(env.TESTBED_USERS) < 17) {
    throw new Error(`the testbed has ${env.TESTBED_USERS} users; this suite needs ${USER}`);
  }
  run(path.join(REPO_ROOT, 'testbed', 'reset-user'), ['--wipe', USER], { timeout: RESET_TIMEOUT_MS });
  return env;
}

// --------------------------------------------------------------------------- mailroom

function mailroomBinary() {
  const binary = process.env.MAILROOM_BIN || path.join(REPO_ROOT, 'target', 'debug', 'mailroom');
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch {
    throw new Error(
      `mailroom binary not found at ${binary}; build it with ` +
        `\`cd ${REPO_ROOT} && cargo build --bins\` or set MAILROOM_BIN`,
    );
  }
  return binary;
}

const liveServers = new Set();
process.once('exit', () => {
  for (const proc of liveServers) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143)); // runs the 'exit' hooks
}

export class MailroomServer {
  /** `name` names the temp dir; `env` adds to / overrides the server's environment. */
  constructor(testbed, name, env = {}) {
    this.binary = mailroomBinary();
    // Kept after the run for post-mortems (data dir, mailroom-serve.log, failure
    // screenshots); the next run of the same name removes it.
    const prefix = `mailroom-browser-${name}-`;
    for (const old of fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith(prefix))) {
      fs.rmSync(path.join(os.tmpdir(), old), { recursive: true, force: true });
    }
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    this.dataDir = path.join(this.dir, 'data');
    this.logPath = path.join(this.dir, 'mailroom-serve.log');
    this.stdoutLines = [];
    const serverEnv = { ...process.env };
    // Hermetic: nothing from the caller's environment picks another database or config.
    for (const key of [
      'MAILROOM_CONFIG',
      'MAILROOM_DATABASE_URL',
      'MAILROOM_DATA_DIR',
      'MAILROOM_LISTEN',
      'MAILROOM_SECRET_KEY',
    ]) {
      delete serverEnv[key];
    }
    Object.assign(serverEnv, {
      MAILROOM_ALLOW_PRIVATE_HOSTS: 'true',
      MAILROOM_EXTRA_CA_FILE: testbed.TESTBED_CA,
      MAILROOM_PROVIDER_TIMEOUT_SECS: '10',
      ...env,
    });
    this.env = serverEnv;
  }

  async start() {
    const log = fs.openSync(this.logPath, 'w');
    this.proc = spawn(this.binary, ['--data-dir', this.dataDir, 'serve', '--listen', '127.0.0.1:0'], {
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

  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const cancel = new AbortController();
    const killed = delay(15_000, 'timeout', { signal: cancel.signal }).catch(() => null);
    const first = await Promise.race([this.exited, killed]);
    cancel.abort();
    if (first === 'timeout') {
      proc.kill('SIGKILL');
      await this.exited;
    }
    liveServers.delete(proc);
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
      `--- mailroom stderr (${this.logPath}, tail)\n${log.slice(-6000)}`
    );
  }

  /**
   * `mailroom app create --name NAME --callback-uri URI… --json`, then the IMAP connector
   * (POST /v3/connectors). Returns the CLI's JSON (client_id, api_key, …).
   */
  async createApp(name, callbackUris) {
    const args = ['--data-dir', this.dataDir, 'app', 'create', '--name', name, '--json'];
    for (const uri of callbackUris) args.push('--callback-uri', uri);
    const out = run(this.binary, args, { env: this.env, timeout: CLI_TIMEOUT_MS });
    const line = out
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('{'))
      .pop();
    if (!line) throw new Error(`\`mailroom app create --json\` printed no JSON object:\n${out}`);
    const app = JSON.parse(line);
    for (const key of ['client_id', 'api_key']) {
      if (!app[key]) throw new Error(`\`mailroom app create --json\` output lacks ${key}: ${line}`);
    }
    const connector = await this.api('POST', '/v3/connectors', app.api_key, { provider: 'imap' });
    if (connector.status !== 200 && connector.status !== 201) {
      throw new Error(`POST /v3/connectors answered ${connector.status}: ${connector.text}`);
    }
    return app;
  }

  /** A JSON API call with the application's key. Returns { status, headers, text, json }. */
  async api(method, urlPath, apiKey, body) {
    const response = await fetch(this.baseUrl + urlPath, {
      method,
      headers: {
        Authorization: `Bearer ${apiKey}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
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

  /** Every grant of the application (GET /v3/grants, one page of up to 200). */
  async grants(apiKey) {
    const response = await this.api('GET', '/v3/grants?limit=200', apiKey);
    if (response.status !== 200 || !Array.isArray(response.json?.data)) {
      throw new Error(`GET /v3/grants answered ${response.status}: ${response.text}`);
    }
    return response.json.data;
  }

  /** The hosted-auth URL an application sends the browser to (API.md §2.2). */
  authUrl(params) {
    const url = new URL('/v3/connect/auth', this.baseUrl);
    for (const [key, value] of Object.entries({ response_type: 'code', provider: 'imap', ...params })) {
      if (value !== undefined && value !== null) url.searchParams.set(key, value);
    }
    return url.toString();
  }
}

// --------------------------------------------------------------------------- the application

/**
 * The application's side: an HTTP server on 127.0.0.1 that answers every path with a small
 * page and records each request the browser makes (path and query parameters).
 */
export class AppServer {
  constructor() {
    this.requests = [];
    this.waiters = [];
    this.server = http.createServer((req, res) => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const record = {
        method: req.method,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        queryKeys: [...url.searchParams.keys()],
        at: Date.now(),
      };
      this.requests.push(record);
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end('<!doctype html><title>Back at the application</title><h1>Back at the application</h1>');
      for (const waiter of this.waiters.splice(0)) waiter();
    });
  }

  async start() {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.origin = `http://127.0.0.1:${this.server.address().port}`;
  }

  url(urlPath) {
    return this.origin + urlPath;
  }

  /** The requests the browser made to `urlPath`. */
  arrivals(urlPath) {
    return this.requests.filter((r) => r.path === urlPath);
  }

  /** Waits until the browser has made `count` requests to `urlPath`; returns the last. */
  async waitForArrival(urlPath, { count = 1, timeout = ARRIVAL_TIMEOUT_MS } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
      const arrived = this.arrivals(urlPath);
      if (arrived.length >= count) return arrived[count - 1];
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `the application got ${arrived.length} request(s) to ${urlPath} within ${timeout / 1000} s, ` +
            `expected ${count}; everything it got: ${JSON.stringify(this.requests)}`,
        );
      }
      await Promise.race([new Promise((resolve) => this.waiters.push(resolve)), delay(Math.min(left, 500))]);
    }
  }

  async stop() {
    this.server.closeAllConnections?.();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// --------------------------------------------------------------------------- mail servers that fail

/** A 127.0.0.1 port where nothing listens (bound once, then closed). */
export async function closedPort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server on 127.0.0.1 that accepts connections and never says a word. */
export async function silentServer() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let accepted = 0;
  server.on('connection', () => accepted++);
  return {
    port: server.address().port,
    get accepted() {
      return accepted;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

// --------------------------------------------------------------------------- the browser

export async function launchChromium() {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install -y chromium\` ` +
        `or point MAILROOM_CHROMIUM at a Chromium binary`,
    );
  }
  try {
    return await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, timeout: 60_000 });
  } catch (e) {
    throw new Error(`Chromium (${CHROMIUM_PATH}) did not start: ${e.message}`);
  }
}

/**
 * A fresh context (no cookies) and page. Console messages and page errors are collected
 * in `page.problems` (a CSP violation shows up there as a console error).
 */
export async function newPage(browser) {
  const context = await browser.newContext({ javaScriptEnabled: true });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warning') page.problems.push(`${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`pageerror: ${e.message}`));
  return page;
}

// --------------------------------------------------------------------------- the whole setup

export async function startSuite(name) {
  const release = await acquireLock();
  const cleanup = [];
  const closeAll = async () => {
    for (const fn of cleanup.splice(0).reverse()) {
      try {
        await fn();
      } catch {
        // best effort
      }
    }
    release();
  };
  let server;
  try {
    const testbed = startTestbed();
    server = new MailroomServer(testbed, name);
    cleanup.push(() => server.stop());
    await server.start();
    const appServer = new AppServer();
    cleanup.push(() => appServer.stop());
    await appServer.start();
    const browser = await launchChromium();
    cleanup.push(() => browser.close());

    let apps = 0;
    return {
      testbed,
      server,
      appServer,
      browser,
      /** A new application whose only callback URI is a fresh path on the app server. */
      async newApp(label, { extraCallbackPaths = [] } = {}) {
        apps += 1;
        const callbackPath = `/callback/${apps}-${label}`;
        const redirectUri = appServer.url(callbackPath);
        const app = await server.createApp(`browser-${label}`, [
          redirectUri,
          ...extraCallbackPaths.map((p) => appServer.url(p)),
        ]);
        return { ...app, callbackPath, redirectUri };
      },
      /** Runs `fn(page)` in a fresh context; on failure adds the server log and a screenshot. */
      async withPage(label, fn, { server: target = server } = {}) {
        const page = await newPage(browser);
        try {
          return await fn(page);
        } catch (e) {
          const shot = path.join(target.dir, `failure-${label}.png`);
          let where = '';
          try {
            await page.screenshot({ path: shot, fullPage: true, timeout: 5_000 });
            fs.writeFileSync(shot.replace(/\.png$/, '.html'), await page.content());
            where = `\n--- the page at ${page.url()} (screenshot ${shot})`;
          } catch {
            where = `\n--- the page at ${page.url()} (no screenshot)`;
          }
          e.message += `${where}\n--- browser console\n${page.problems.join('\n')}\n${target.diagnostics()}`;
          throw e;
        } finally {
          await page.context().close();
        }
      },
      async close() {
        await closeAll();
      },
    };
  } catch (e) {
    await closeAll();
    if (server && !String(e.message).includes('--- mailroom stdout')) {
      e.message += `\n${server.diagnostics()}`;
    }
    throw e;
  }
}

/**
 * For a test file: `const suite = sharedSuite('name')` at the top level, then
 * `const s = await suite()` in each test. The first call runs `startSuite`; a setup that
 * fails fails every test with its reason (nothing is skipped). Everything is stopped and
 * the user17 lock released after the file's last test.
 */
export function sharedSuite(name) {
  let started;
  after(async () => {
    const s = await started?.catch(() => null);
    await s?.close();
  });
  return () => (started ??= startSuite(name));
}
