// Fixtures for driving mailroom's hosted sign-in page (GET/POST /v3/connect/auth) with
// headless Chromium (Debian's /usr/bin/chromium through playwright-core, no browser
// download) against a real mailroom and the repo's testbed.
//
// What the suite needs is started once per test file by `sharedSuite(name)`; every test
// awaits the same promise, so a setup that fails (testbed, server, Chromium) fails each
// test with its reason and the server log instead of skipping it:
//
//   1. an exclusive lock on each testbed user the file touches (user17 unless it names
//      others);
//   2. `testbed/start`, its env file, then `testbed/reset-user --wipe` for each user;
//   3. `mailroom serve --listen 127.0.0.1:0` in a fresh temp data dir (the port read from
//      its "listening on" line), through tests/support/mailroom_process.js, which
//      tests/sdk/node shares;
//   4. an HTTP server on 127.0.0.1 (random port) that plays the application: it serves
//      every redirect_uri and records what the browser arrives with;
//   5. Chromium, headless.
//
// Each test then makes its own application (`mailroom app create --callback-uri … --json`,
// plus the IMAP connector) and its own browser context (fresh cookies).

import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { chromium } from 'playwright-core';

import {
  MailroomServerProcess,
  acquireLock,
  resetUser,
  sharedSetup,
  startTestbed,
} from '../support/mailroom_process.js';

export { REPO_ROOT } from '../support/mailroom_process.js';

export const USER = 'user17';
export const EMAIL = 'user17@example.test';
export const PASSWORD = 'pass17';
/** The user whose wrong passwords use up its sign-in attempts (so user17 keeps its own). */
export const LOCKED_OUT_EMAIL = 'user56@example.test';

export const CHROMIUM_PATH = process.env.MAILROOM_CHROMIUM || '/usr/bin/chromium';

const HTTP_TIMEOUT_MS = 30_000;
/** How long a test waits for the browser to reach the application. */
export const ARRIVAL_TIMEOUT_MS = 30_000;
/** Playwright's timeout for one action (click, fill, navigation). */
export const ACTION_TIMEOUT_MS = 20_000;

// --------------------------------------------------------------------------- mailroom

export class MailroomServer extends MailroomServerProcess {
  /**
   * The shared server (../support/mailroom_process.js) in `$TMPDIR/mailroom-browser-<name>-XXXXXX/`
   * (which also gets failure screenshots); `env` adds to / overrides the server's environment.
   */
  constructor(testbed, name, env = {}) {
    super(testbed, {
      dirPrefix: `mailroom-browser-${name}-`,
      env: { MAILROOM_PROVIDER_TIMEOUT_SECS: '10', ...env },
      httpTimeoutMs: HTTP_TIMEOUT_MS,
    });
  }

  /**
   * `mailroom app create --name NAME --callback-uri URI… --json`, then the IMAP connector
   * (POST /v3/connectors). Returns the CLI's JSON (client_id, api_key, …).
   */
  async createApp(name, callbackUris) {
    const app = this.appCreate(name, { callbackUris });
    const connector = await this.api('POST', '/v3/connectors', app.api_key, { provider: 'imap' });
    if (connector.status !== 200 && connector.status !== 201) {
      throw new Error(`POST /v3/connectors answered ${connector.status}: ${connector.text}`);
    }
    return app;
  }

  /** A JSON API call with the application's key. Returns { status, headers, text, json }. */
  async api(method, urlPath, apiKey, body) {
    return this.raw(method, urlPath, apiKey, { body });
  }

  /** Every grant of the application (GET /v3/grants, one page of up to 200). */
  async grants(apiKey) {
    const response = await this.api('GET', '/v3/grants?limit=200', apiKey);
    if (response.status !== 200 || !Array.isArray(response.json?.data)) {
      throw new Error(`GET /v3/grants answered ${response.status}: ${response.text}`);
    }
    return response.json.data;
  }

  /** The hosted-auth URL an application sends the browser to (docs/API.md §2.2). */
  authUrl(params) {
    const url = new URL('/v3/connect/auth', this.baseUrl);
    for (const [key, value] of Object.entries({ response_type: 'code', provider: 'imap', ...params })) {
      if (value !== undefined && value !== null) url.searchParams.set(key, value);
    }
    return url.toString();
  }
}

// --------------------------------------------------------------------------- OAuth providers

/**
 * What moves mailroom's Google, Microsoft and Yahoo endpoints to the testbed's
 * authorization server, and their IMAP and SMTP servers to Dovecot and Postfix, which take
 * its tokens (testbed/README.md, "OAuth mailboxes"). The authorization server speaks plain
 * HTTP on 127.0.0.1, hence insecure transport allowed.
 */
export function oauthProviderEnv(testbed) {
  return {
    MAILROOM_TEST_OAUTH_BASE_URL: testbed.TESTBED_OAUTH_URL,
    MAILROOM_TEST_OAUTH_IMAP: `localhost:${testbed.TESTBED_IMAP_PORT}:starttls`,
    MAILROOM_TEST_OAUTH_SMTP: `localhost:${testbed.TESTBED_SUBMISSION_PORT}:starttls`,
    MAILROOM_ALLOW_INSECURE_TRANSPORT: 'true',
  };
}

/**
 * POSTs a form to the testbed authorization server's control channel
 * (`/control/<what>`, tests only); returns its JSON answer.
 */
export async function oauthControl(testbed, what, params) {
  const response = await fetch(`${testbed.TESTBED_OAUTH_URL}/control/${what}`, {
    method: 'POST',
    body: new URLSearchParams(params),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`control/${what} answered ${response.status}: ${text}`);
  return JSON.parse(text);
}

/**
 * Registers a client of `provider` (google, microsoft, yahoo) at the testbed's
 * authorization server; without redirect_uris it accepts any loopback URI, such as
 * mailroom's /v3/connect/callback on its random port.
 */
export async function registerOAuthClient(testbed, { provider, clientId, clientSecret }) {
  return oauthControl(testbed, 'client', { client_id: clientId, client_secret: clientSecret, provider });
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
    /** Pages of the application's own, by path (see `serve`). */
    this.pages = new Map();
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
      res.end(
        this.pages.get(url.pathname) ??
          '<!doctype html><title>Back at the application</title><h1>Back at the application</h1>',
      );
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

  /** Answers `urlPath` with `html` from now on (an application's own page). */
  serve(urlPath, html) {
    this.pages.set(urlPath, html);
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
/** Polls `check` until it holds; fails after `deadlineMs` (a bound for a failing test). */
export async function waitUntil(what, check, deadlineMs = 60_000) {
  const deadline = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function silentServer() {
  const sockets = new Set();
  // Connections the client ended (it gave up waiting): this server never does.
  let hungUp = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('end', () => hungUp++);
    socket.resume(); // read (and drop) what comes, so that 'end' is seen
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
    get hungUp() {
      return hungUp;
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

export async function startSuite(name, { users = [USER], env = {}, testbedKeys = [] } = {}) {
  // One lock per user, always taken in the same order, so two files cannot deadlock.
  const releases = [];
  for (const user of [...users].sort()) releases.push(await acquireLock(`mailroom-browser-${user}`));
  const release = () => {
    for (const r of releases.splice(0).reverse()) r();
  };
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
    const highest = users.reduce((a, b) => (Number(b.replace(/^user/, '')) > Number(a.replace(/^user/, '')) ? b : a));
    const testbed = startTestbed({ user: highest });
    for (const key of testbedKeys) {
      if (!testbed[key]) throw new Error(`the testbed's env file lacks ${key}`);
    }
    for (const user of users) resetUser(user);
    server = new MailroomServer(testbed, name, typeof env === 'function' ? env(testbed) : env);
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
    throw server ? server.addDiagnostics(e) : e;
  }
}

/**
 * For a test file: `const suite = sharedSuite('name')` at the top level, then
 * `const s = await suite()` in each test. The first call runs `startSuite`; a setup that
 * fails fails every test with its reason (nothing is skipped). Everything is stopped and
 * the users' locks released after the file's last test. `options`: `users` (testbed users
 * the file locks and wipes; default user17), `env` (added to the server's environment; an
 * object, or a function of the testbed's env file), `testbedKeys` (settings the testbed's
 * env file must have).
 */
export function sharedSuite(name, options) {
  return sharedSetup(() => startSuite(name, options));
}
