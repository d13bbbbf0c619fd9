// A single-page application on another origin signs a user in with PKCE and calls
// mailroom from the browser (crates/api/src/cors.rs): the page sends the browser to the
// hosted sign-in with an S256 challenge, gets the code back, trades it at
// /v3/connect/token with its verifier (no client secret), and reads /v3/grants/me with
// the access token — every call cross-origin, allowed because the application
// registered the page's origin as a `js` redirect URI. A page on an origin nobody
// registered cannot read the answers. Testbed user88.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { sharedSuite } from './helper.js';

const USER = 'user88';
const EMAIL = 'user88@example.test';
const PASSWORD = 'pass88';
const TEST_TIMEOUT_MS = 120_000;

const suite = sharedSuite('cors', { users: [USER] });

/** The application's page: starts the sign-in, or finishes it when the code is back. */
function spaPage({ mailroom, clientId, redirectUri }) {
  const config = JSON.stringify({ mailroom, clientId, redirectUri, email: EMAIL });
  return `<!doctype html><title>The application</title>
<output id="result">waiting</output>
<script type="module">
const { mailroom, clientId, redirectUri, email } = ${config};
const out = document.getElementById('result');
const params = new URLSearchParams(location.search);
const b64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
try {
  if (params.has('start')) {
    const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    sessionStorage.setItem('verifier', verifier);
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    const auth = new URL('/v3/connect/auth', mailroom);
    const query = {
      client_id: clientId, redirect_uri: redirectUri, response_type: 'code', provider: 'imap',
      login_hint: email, code_challenge: b64url(new Uint8Array(digest)), code_challenge_method: 'S256',
    };
    for (const [key, value] of Object.entries(query)) auth.searchParams.set(key, value);
    location.assign(auth);
  } else if (params.has('code')) {
    const exchange = await fetch(mailroom + '/v3/connect/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: clientId, grant_type: 'authorization_code', code: params.get('code'),
        redirect_uri: redirectUri, code_verifier: sessionStorage.getItem('verifier'),
      }),
    });
    const token = await exchange.json();
    if (!exchange.ok) throw new Error('token: ' + exchange.status + ' ' + JSON.stringify(token));
    const me = await fetch(mailroom + '/v3/grants/me', {
      headers: { authorization: 'Bearer ' + token.access_token },
    }).then((r) => r.json());
    out.dataset.token = token.access_token;
    out.textContent = 'signed in as ' + me.data.email;
  }
} catch (e) {
  out.textContent = 'failed: ' + e.message;
}
</script>`;
}

test('a page on a registered js origin signs in with PKCE and calls mailroom cross-origin; another origin cannot read', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('cors');
  const redirectUri = s.appServer.url('/spa');
  const registered = await s.server.api('POST', '/v3/applications/redirect-uris', app.api_key, {
    url: redirectUri,
    platform: 'js',
  });
  assert.equal(registered.status, 200, registered.text);
  s.appServer.serve('/spa', spaPage({ mailroom: s.server.baseUrl, clientId: app.client_id, redirectUri }));
  // The same page on an origin no application registered (localhost, not 127.0.0.1).
  s.appServer.serve('/elsewhere', '<!doctype html><title>Elsewhere</title>');

  await s.withPage('cors', async (page) => {
    await page.goto(`${redirectUri}?start=1`);
    await page.getByLabel('Email address', { exact: true }).waitFor();
    assert.ok(page.url().startsWith(`${s.server.baseUrl}/v3/connect/auth`), page.url());
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByText('Advanced settings', { exact: true }).click();
    const imap = page.getByRole('group', { name: 'Incoming mail (IMAP)' });
    const smtp = page.getByRole('group', { name: 'Outgoing mail (SMTP)' });
    await imap.getByLabel('Server', { exact: true }).fill('127.0.0.1');
    await imap.getByLabel('Port', { exact: true }).fill(String(s.testbed.TESTBED_IMAP_PORT));
    await imap.getByLabel('Security', { exact: true }).selectOption('starttls');
    await smtp.getByLabel('Server', { exact: true }).fill('127.0.0.1');
    await smtp.getByLabel('Port', { exact: true }).fill(String(s.testbed.TESTBED_SUBMISSION_PORT));
    await smtp.getByLabel('Security', { exact: true }).selectOption('starttls');
    // Keyboard only from here: Enter submits the form.
    await page.getByLabel('Password', { exact: true }).press('Enter');

    const result = page.locator('#result');
    await result.filter({ hasText: /signed in as|failed/ }).waitFor();
    assert.equal(await result.textContent(), `signed in as ${EMAIL}`, page.problems.join('\n'));
    const token = await result.getAttribute('data-token');
    assert.ok(token, 'the page holds an access token');

    // From an origin nobody registered, the browser withholds mailroom's answer.
    const elsewhere = new URL('/elsewhere', s.appServer.origin.replace('127.0.0.1', 'localhost'));
    await page.goto(elsewhere.toString());
    const outcome = await page.evaluate(
      async ({ mailroom, token }) => {
        try {
          const response = await fetch(mailroom + '/v3/grants/me', { headers: { authorization: 'Bearer ' + token } });
          return `read ${response.status}`;
        } catch (e) {
          return `refused: ${e.name}`;
        }
      },
      { mailroom: s.server.baseUrl, token },
    );
    assert.equal(outcome, 'refused: TypeError');
  });
});
