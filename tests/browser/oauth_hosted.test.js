// Hosted sign-in through Google, Microsoft and Yahoo (`provider=google|microsoft|yahoo` on
// the hosted-auth link, README.md "Hosted sign-in and scopes"), driven by headless Chromium
// as a user would: mailroom sends the browser to the provider's consent page (here the
// testbed's authorization server, testbed/README.md "OAuth mailboxes"), the user clicks
// Allow or Deny, the provider sends the browser to mailroom's /v3/connect/callback
// (RFC 6749, section 4.1.2), and mailroom sends it on to the application's redirect_uri.
// The application's side is helper.js's AppServer; it trades mailroom's code at
// POST /v3/connect/token (README.md "Tokens"). Nothing but the test's own setup (clients
// registered through the control channel) talks to the provider outside the browser.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';

import {
  ARRIVAL_TIMEOUT_MS,
  newPage,
  oauthProviderEnv,
  registerOAuthClient,
  sharedSuite,
} from './helper.js';

const USERS = { google: 'user71', microsoft: 'user72', yahoo: 'user73' };
/** The user of the refusal, wrong-tenant and foreign-callback tests. */
const OTHER_USER = 'user74';
const PROVIDERS = Object.keys(USERS);

const suite = sharedSuite('oauth-hosted', {
  users: [...Object.values(USERS), OTHER_USER],
  env: oauthProviderEnv,
  testbedKeys: ['TESTBED_OAUTH_URL'],
});
const TEST_TIMEOUT_MS = 180_000;

const emailOf = (user) => `${user}@example.test`;

function newState(label) {
  return `${label}-${randomBytes(9).toString('base64url')}`;
}

/** Where each provider's consent page is at the testbed (testbed/README.md, "Endpoints"). */
function consentPath(provider, tenant = 'common') {
  return {
    google: '/google/o/oauth2/v2/auth',
    microsoft: `/microsoft/${tenant}/oauth2/v2.0/authorize`,
    yahoo: '/yahoo/oauth2/request_auth',
  }[provider];
}

let apps = 0;

/**
 * An application with its redirect_uri registered through the API and, for each of
 * `providers`, a connector holding a client the test registered at the testbed's
 * authorization server. `tenant` goes into the Microsoft connector's settings.
 */
async function oauthApp(s, label, providers, { tenant } = {}) {
  apps += 1;
  const app = s.server.appCreate(`browser-oauth-${label}`);
  const callbackPath = `/oauth-callback/${apps}-${label}`;
  const redirectUri = s.appServer.url(callbackPath);
  const registered = await s.server.api('POST', '/v3/applications/redirect-uris', app.api_key, {
    url: redirectUri,
    platform: 'web',
  });
  assert.ok([200, 201].includes(registered.status), `registering ${redirectUri}: ${registered.status} ${registered.text}`);
  const clients = {};
  for (const provider of providers) {
    const clientId = `mailroom-browser-${provider}-${process.pid}-${randomBytes(6).toString('hex')}`;
    const clientSecret = randomBytes(18).toString('base64url');
    await registerOAuthClient(s.testbed, { provider, clientId, clientSecret });
    const settings = { client_id: clientId, client_secret: clientSecret };
    if (tenant && provider === 'microsoft') settings.tenant = tenant;
    const connector = await s.server.api('POST', '/v3/connectors', app.api_key, { provider, settings });
    assert.equal(connector.status, 201, `POST /v3/connectors (${provider}): ${connector.text}`);
    assert.ok(!connector.text.includes(clientSecret), 'the connector never shows its client secret');
    clients[provider] = clientId;
  }
  return { ...app, callbackPath, redirectUri, clients };
}

/** Every request the page makes, by URL, to see where the browser went. */
function recordRequests(page) {
  const urls = [];
  page.on('request', (request) => urls.push(request.url()));
  return urls;
}

/**
 * Opens the hosted-auth link for `provider` and asserts the browser lands on the
 * provider's consent page (mailroom answered with a redirect there) showing the
 * connector's client and the account from login_hint. Returns the consent page's URL.
 */
async function openConsent(s, page, app, provider, { state, email, tenant }) {
  const response = await page.goto(
    s.server.authUrl({ client_id: app.client_id, redirect_uri: app.redirectUri, state, login_hint: email, provider }),
  );
  assert.ok(response, 'the navigation has a response');
  const shown = new URL(page.url());
  assert.equal(
    `${shown.origin}${shown.pathname}`,
    `${s.testbed.TESTBED_OAUTH_URL}${consentPath(provider, tenant)}`,
    `mailroom sends the browser to ${provider}'s authorization page`,
  );
  assert.equal(response.status(), 200, `the consent page answered ${response.status()}: ${await page.content()}`);
  const from = response.request().redirectedFrom();
  assert.ok(from, 'the browser got there through a redirect');
  assert.equal(new URL(from.url()).pathname, '/v3/connect/auth', 'the redirect came from mailroom');
  // RFC 7636: mailroom uses PKCE with S256; its own state and redirect_uri go to the provider.
  const asked = shown.searchParams;
  assert.equal(asked.get('client_id'), app.clients[provider], "the connector's client is named");
  assert.equal(asked.get('code_challenge_method'), 'S256');
  assert.match(asked.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(asked.get('state'), state, "the application's state stays with mailroom");
  assert.equal(asked.get('redirect_uri'), `${s.server.baseUrl}/v3/connect/callback`);

  const account = page.getByLabel('Account');
  await account.waitFor();
  assert.equal(await account.inputValue(), email, 'login_hint prefills the account');
  assert.ok((await page.locator('body').innerText()).includes(app.clients[provider]), 'the page names the client');

  // The flow cookie that ties the callback to this browser (SameSite=Lax: the provider's
  // redirect back is a cross-site navigation).
  const cookies = (await page.context().cookies(`${s.server.baseUrl}/v3/connect/callback`)).filter((c) => c.name.startsWith('mailroom_oauth_'));
  assert.equal(cookies.length, 1, `one flow cookie: ${JSON.stringify(cookies)}`);
  assert.equal(cookies[0].sameSite, 'Lax');
  assert.equal(cookies[0].httpOnly, true);
  return page.url();
}

/** Types the account as the user would, and clicks Allow or Deny. */
async function decide(page, email, decision) {
  await page.getByLabel('Account').fill(email);
  await page.getByRole('button', { name: decision }).click();
}

/** Waits until the browser is at the redirect_uri (`count`th time); returns the query. */
async function arrivedAt(s, page, app, { count = 1 } = {}) {
  const arrival = await s.appServer.waitForArrival(app.callbackPath, { count, timeout: ARRIVAL_TIMEOUT_MS });
  await page.waitForURL((url) => url.toString().startsWith(`${app.redirectUri}?`));
  assert.equal(arrival.method, 'GET');
  return arrival.query;
}

function assertCode(query, state) {
  assert.match(query.code ?? '', /^\S{16,}$/, `mailroom's code arrives: ${JSON.stringify(query)}`);
  assert.equal(query.state, state, 'the same state comes back');
  assert.equal(query.error, undefined, `no error: ${JSON.stringify(query)}`);
}

/** POST /v3/connect/token with the application's client secret; returns the JSON. */
async function exchange(s, app, code) {
  const response = await fetch(`${s.server.baseUrl}/v3/connect/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      client_id: app.client_id,
      client_secret: app.client_secret,
      code,
      redirect_uri: app.redirectUri,
    }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  assert.equal(response.status, 200, `POST /v3/connect/token answered ${response.status}: ${text}`);
  const token = JSON.parse(text);
  assert.ok(token.grant_id, `the token answer names the grant: ${text}`);
  assert.ok(token.access_token, 'an access token is issued');
  return token;
}

async function assertValidGrant(s, app, grantId, provider, email) {
  const response = await s.server.api('GET', `/v3/grants/${grantId}`, app.api_key);
  assert.equal(response.status, 200, `GET /v3/grants/${grantId}: ${response.text}`);
  const grant = response.json?.data;
  assert.equal(grant?.id, grantId);
  assert.equal(grant.provider, provider);
  assert.equal(grant.email, email);
  assert.equal(grant.grant_status, 'valid');
}

/** One whole sign-in in a fresh browser context; returns the token answer. */
async function signIn(s, app, provider, user, label) {
  const email = emailOf(user);
  const state = newState(label);
  const count = s.appServer.arrivals(app.callbackPath).length + 1;
  const query = await s.withPage(label, async (page) => {
    await openConsent(s, page, app, provider, { state, email });
    await decide(page, email, 'Allow');
    return arrivedAt(s, page, app, { count });
  });
  assertCode(query, state);
  const token = await exchange(s, app, query.code);
  assert.equal(token.email, email, 'the token answer names the account');
  assert.equal(token.provider, provider);
  await assertValidGrant(s, app, token.grant_id, provider, email);
  return { token, code: query.code };
}

// --------------------------------------------------------------------------- 1 and 2

for (const provider of PROVIDERS) {
  const user = USERS[provider];

  test(`1. ${provider}: Allow on the consent page brings mailroom's code and the state to the application; the grant is valid`, { timeout: TEST_TIMEOUT_MS }, async () => {
    const s = await suite();
    const app = await oauthApp(s, `allow-${provider}`, [provider]);
    const { token } = await signIn(s, app, provider, user, `allow-${provider}`);
    const grants = (await s.server.grants(app.api_key)).filter((g) => g.email === emailOf(user));
    assert.deepEqual(grants.map((g) => g.id), [token.grant_id], 'GET /v3/grants lists the one grant');
    assert.equal(s.appServer.arrivals(app.callbackPath).length, 1, 'the application is reached once');
  });

  test(`2. ${provider}: the same user through the flow again keeps the grant id`, { timeout: TEST_TIMEOUT_MS }, async () => {
    const s = await suite();
    const app = await oauthApp(s, `reauth-${provider}`, [provider]);
    const first = await signIn(s, app, provider, user, `reauth-${provider}-1`);
    const second = await signIn(s, app, provider, user, `reauth-${provider}-2`);
    assert.notEqual(second.code, first.code, 'each sign-in gets its own code');
    assert.equal(second.token.grant_id, first.token.grant_id, 're-authentication keeps the grant id');
    const grants = (await s.server.grants(app.api_key)).filter((g) => g.email === emailOf(user));
    assert.equal(grants.length, 1, `one grant for ${emailOf(user)}: ${JSON.stringify(grants)}`);
  });
}

// --------------------------------------------------------------------------- 3

test('3. Deny on the consent page: the application gets error=access_denied, error_description and the state; no grant', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await oauthApp(s, 'deny', PROVIDERS);
  const email = emailOf(OTHER_USER);
  for (const [i, provider] of PROVIDERS.entries()) {
    const state = newState(`deny-${provider}`);
    const query = await s.withPage(`deny-${provider}`, async (page) => {
      await openConsent(s, page, app, provider, { state, email });
      await decide(page, email, 'Deny');
      return arrivedAt(s, page, app, { count: i + 1 });
    });
    assert.equal(query.error, 'access_denied', `${provider}: ${JSON.stringify(query)}`);
    assert.match(query.error_code ?? '', /^\d+$/, `${provider}: error_code is an integer: ${JSON.stringify(query)}`);
    assert.ok((query.error_description ?? '').trim().length > 0, `${provider}: error_description is set`);
    assert.equal(query.state, state, `${provider}: the same state comes back`);
    assert.equal(query.code, undefined, `${provider}: no code`);
  }
  assert.deepEqual(await s.server.grants(app.api_key), [], 'no grant is created');
});

// --------------------------------------------------------------------------- 4

test('4. a Microsoft connector with a tenant the provider does not know: an error naming AADSTS90002 reaches the application, no consent page', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const tenant = 'no-such-tenant.example';
  const app = await oauthApp(s, 'tenant', ['microsoft'], { tenant });
  const state = newState('tenant');
  const { query, requests } = await s.withPage('tenant', async (page) => {
    const requests = recordRequests(page);
    await page.goto(
      s.server.authUrl({
        client_id: app.client_id,
        redirect_uri: app.redirectUri,
        state,
        login_hint: emailOf(OTHER_USER),
        provider: 'microsoft',
      }),
    );
    return { query: await arrivedAt(s, page, app), requests };
  });
  assert.ok(query.error, `error is set: ${JSON.stringify(query)}`);
  assert.match(query.error_code ?? '', /^\d+$/, `error_code is an integer: ${JSON.stringify(query)}`);
  assert.match(query.error_description ?? '', /AADSTS90002/, `error_description names AADSTS90002: ${JSON.stringify(query)}`);
  assert.equal(query.state, state, 'the same state comes back');
  assert.equal(query.code, undefined, 'no code');
  assert.ok(
    requests.some((url) => url.startsWith(`${app.redirectUri}?`)),
    `the browser's requests are all seen, the redirect_uri among them: ${JSON.stringify(requests)}`,
  );
  const atProvider = requests.filter((url) => url.startsWith(s.testbed.TESTBED_OAUTH_URL));
  assert.deepEqual(atProvider, [], 'the browser never went to the provider');
  assert.deepEqual(await s.server.grants(app.api_key), [], 'no grant is created');
});

// --------------------------------------------------------------------------- 5

test('5a. the callback refuses a state it does not know: an error page, nothing reaches the application', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await oauthApp(s, 'unknown-state', ['google']);
  await s.withPage('unknown-state', async (page) => {
    const requests = recordRequests(page);
    for (const query of [`code=made-up&state=pst_${randomBytes(16).toString('hex')}`, 'code=made-up', 'error=access_denied']) {
      const response = await page.goto(`${s.server.baseUrl}/v3/connect/callback?${query}`);
      assert.equal(response.status(), 400, `GET /v3/connect/callback?${query} answered ${response.status()}`);
      assert.equal(new URL(page.url()).origin, s.server.baseUrl, 'the browser stays on mailroom');
      const text = (await page.locator('body').innerText()).trim();
      assert.match(text, /expired|already used|start again/i, `the page says why: "${text}"`);
    }
    assert.equal(
      requests.filter((url) => url.startsWith(`${s.server.baseUrl}/v3/connect/callback`)).length,
      3,
      `the browser's requests are all seen: ${JSON.stringify(requests)}`,
    );
    assert.deepEqual(
      requests.filter((url) => url.startsWith(s.appServer.origin)),
      [],
      'the browser never went to the application',
    );
  });
  assert.equal(s.appServer.arrivals(app.callbackPath).length, 0, 'the application hears nothing');
});

test('5b. the consent link opened in another browser (no flow cookie): the callback shows an error page (403), nothing reaches the application; the first browser still finishes', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await oauthApp(s, 'other-browser', ['google']);
  const email = emailOf(OTHER_USER);
  const state = newState('other-browser');
  const callbackPath = '/v3/connect/callback';
  await s.withPage('other-browser', async (page) => {
    // The flow starts here; its consent page's address is then opened in another browser
    // (someone else's, or one the link was forwarded to), where Allow sends that browser
    // to mailroom's callback with the flow's state but without its cookie.
    const consentUrl = await openConsent(s, page, app, 'google', { state, email });
    const other = await newPage(s.browser);
    try {
      const requests = recordRequests(other);
      await other.goto(consentUrl);
      const [response] = await Promise.all([
        other.waitForResponse((r) => new URL(r.url()).pathname === callbackPath),
        decide(other, email, 'Allow'),
      ]);
      await other.waitForLoadState('load');
      assert.equal(response.status(), 403, `the callback in the other browser answered ${response.status()}`);
      assert.equal(new URL(other.url()).origin, s.server.baseUrl, 'that browser stays on mailroom');
      const text = (await other.locator('body').innerText()).trim();
      assert.match(text, /another browser/i, `the page says why: "${text}"`);
      assert.ok(
        requests.some((url) => url.startsWith(`${s.server.baseUrl}${callbackPath}?`)),
        `that browser's requests are all seen, the callback among them: ${JSON.stringify(requests)}`,
      );
      assert.deepEqual(
        requests.filter((url) => url.startsWith(s.appServer.origin)),
        [],
        'that browser never went to the application',
      );
    } finally {
      await other.context().close();
    }
    assert.equal(s.appServer.arrivals(app.callbackPath).length, 0, 'the application hears nothing');

    // The browser that started the flow still has it.
    await decide(page, email, 'Allow');
    assertCode(await arrivedAt(s, page, app), state);
  });
  assert.equal(s.appServer.arrivals(app.callbackPath).length, 1, 'the application is reached once');
});
