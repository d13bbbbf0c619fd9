// The operator dashboard (/admin, crates/api/src/dashboard): signed in with an admin
// token from `mailroom admin-token create`, it lists the application, its grant with its
// sync state, its webhook with a delivery that failed, and retries that delivery now;
// used with the keyboard alone. Testbed user90.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { test } from 'node:test';

import { run } from '../support/mailroom_process.js';
import { sharedSuite } from './helper.js';

const USER = 'user90';
const EMAIL = 'user90@example.test';
const PASSWORD = 'pass90';
const TEST_TIMEOUT_MS = 120_000;

// A failed delivery waits ten minutes for its next attempt, unless retried now.
const suite = sharedSuite('dashboard', { users: [USER], env: { MAILROOM_WEBHOOK_RETRY_SECS: '600', MAILROOM_ALLOW_INSECURE_TRANSPORT: 'true' } });

/** A webhook endpoint that answers the challenge and then POSTs with `status`. */
async function receiver() {
  const posts = [];
  const state = { status: 500 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://receiver');
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end(url.searchParams.get('challenge') ?? '');
        return;
      }
      posts.push({ at: Date.now(), answered: state.status });
      res.writeHead(state.status, { 'Content-Type': 'text/plain' });
      res.end(state.status === 200 ? 'ok' : 'not now');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}/hooks`, posts, state, close: () => server.close() };
}

async function until(what, probe, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Presses Tab until the focused element's accessible text matches `pattern`. */
async function tabTo(page, pattern, limit = 60) {
  for (let i = 0; i < limit; i += 1) {
    await page.keyboard.press('Tab');
    const text = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');
    if (pattern.test(text)) return text;
  }
  throw new Error(`no element matching ${pattern} within ${limit} presses of Tab`);
}

test('the dashboard shows grants, webhooks and sends, and retries a failing webhook, with the keyboard alone', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('dashboard');
  const hook = await receiver();
  try {
    const created = await s.server.api('POST', '/v3/webhooks', app.api_key, {
      trigger_types: ['grant.created'],
      webhook_url: hook.url,
      description: 'dashboard test',
    });
    assert.equal(created.status, 200, created.text);
    const connected = await s.server.api('POST', '/v3/connect/custom', app.api_key, {
      provider: 'imap',
      settings: {
        imap_username: EMAIL, imap_password: PASSWORD,
        imap_host: '127.0.0.1', imap_port: Number(s.testbed.TESTBED_IMAP_PORT), imap_security: 'starttls',
        smtp_host: '127.0.0.1', smtp_port: Number(s.testbed.TESTBED_SUBMISSION_PORT), smtp_security: 'starttls',
      },
    });
    assert.equal(connected.status, 201, connected.text);
    await until('the first delivery, refused', () => hook.posts.length >= 1);

    const out = run(s.server.binary, ['--data-dir', s.server.dataDir, 'admin-token', 'create', '--json'], {
      env: s.server.env,
      timeout: 30_000,
    });
    const token = JSON.parse(out.split('\n').find((l) => l.startsWith('{'))).admin_token;
    assert.match(token, /^mra_/);

    await s.withPage('dashboard', async (page) => {
      await page.goto(`${s.server.baseUrl}/admin`);
      // A wrong token is refused with an alert; the field keeps focus for another try.
      await page.keyboard.type('mra_wrong');
      await page.keyboard.press('Enter');
      await page.getByRole('alert').waitFor();
      assert.match(await page.getByRole('alert').textContent(), /unknown or revoked/);
      await page.getByLabel('Admin token').focus();
      await page.keyboard.type(token);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'mailroom dashboard' }).waitFor();
      await page.getByRole('heading', { name: 'browser-dashboard' }).waitFor();

      const grantRow = page.getByRole('row').filter({ hasText: EMAIL });
      await grantRow.waitFor();
      assert.match(await grantRow.textContent(), /valid/);
      const hookRow = page.getByRole('row').filter({ hasText: hook.url });
      assert.match(await hookRow.textContent(), /1 waiting/);

      // The receiver is back; Retry now, reached with Tab and pressed with Enter.
      hook.state.status = 200;
      const label = await tabTo(page, /^Retry now/);
      assert.match(label, new RegExp(`Retry now the deliveries to ${hook.url.replace(/[.]/g, '\\.')}`));
      await page.keyboard.press('Enter');
      await page.getByRole('status').waitFor();
      assert.match(await page.getByRole('status').textContent(), /1 deliveries will be tried again now/);
      await until('the retried delivery', () => hook.posts.some((p) => p.answered === 200));

      await page.reload();
      await until('no failing delivery shown', async () =>
        !/waiting/.test(await page.getByRole('row').filter({ hasText: hook.url }).textContent()),
      );
      // The wrong token's 401 is the one problem the console saw (a CSP violation would show).
      assert.deepEqual(
        page.problems.filter((p) => !/status of 401/.test(p)),
        [],
        'no console errors but the refused token',
      );

      // Sign out: the page asks for a token again.
      await tabTo(page, /^Sign out$/, 10);
      await page.keyboard.press('Enter');
      await page.getByLabel('Admin token').waitFor();
    });
  } finally {
    hook.close();
  }
});
