// mailroom's hosted sign-in page (GET/POST /v3/connect/auth, docs/API.md §2.2-2.3, its
// error outcomes included), driven by headless
// Chromium as a user would: typing, clicking, and in one test the keyboard only.
// The application's side is helper.js's AppServer: it serves every redirect_uri and
// records what the browser arrives with.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';

import {
  ARRIVAL_TIMEOUT_MS,
  EMAIL,
  LOCKED_OUT_EMAIL,
  MailroomServer,
  PASSWORD,
  closedPort,
  sharedSuite,
  silentServer,
  waitUntil,
} from './helper.js';

const suite = sharedSuite('hosted-auth');
const TEST_TIMEOUT_MS = 120_000;

/** The sign-in page's POST target, to tell mailroom's answers from the application's. */
const SUBMIT_PATH = '/v3/connect/auth';

function newState(label) {
  return `${label}-${randomBytes(9).toString('base64url')}`;
}

/** The testbed's servers for user17, as a user types them under "Advanced settings". */
function testbedServers(testbed, host = '127.0.0.1') {
  return {
    imapHost: host,
    imapPort: testbed.TESTBED_IMAP_PORT, // 31143
    imapSecurity: 'starttls',
    smtpHost: host,
    smtpPort: testbed.TESTBED_SUBMISSION_PORT, // 31587
    smtpSecurity: 'starttls',
  };
}

const imapGroup = (page) => page.getByRole('group', { name: 'Incoming mail (IMAP)' });
const smtpGroup = (page) => page.getByRole('group', { name: 'Outgoing mail (SMTP)' });
const emailField = (page) => page.getByLabel('Email address', { exact: true });
const passwordField = (page) => page.getByLabel('Password', { exact: true });
const signInButton = (page) => page.getByRole('button', { name: 'Sign in' });

/** Opens "Advanced settings" (a <details>) unless it is open already. */
async function openAdvanced(page) {
  if (!(await imapGroup(page).isVisible())) {
    await page.getByText('Advanced settings', { exact: true }).click();
  }
  assert.ok(await imapGroup(page).isVisible(), 'the IMAP settings are visible after opening "Advanced settings"');
}

/** Fills the server fields under "Advanced settings", through their labels. */
async function fillServers(page, servers) {
  await openAdvanced(page);
  const imap = imapGroup(page);
  const smtp = smtpGroup(page);
  await imap.getByLabel('Server', { exact: true }).fill(servers.imapHost);
  await imap.getByLabel('Port', { exact: true }).fill(String(servers.imapPort));
  await imap.getByLabel('Security', { exact: true }).selectOption(servers.imapSecurity);
  await smtp.getByLabel('Server', { exact: true }).fill(servers.smtpHost);
  await smtp.getByLabel('Port', { exact: true }).fill(String(servers.smtpPort));
  await smtp.getByLabel('Security', { exact: true }).selectOption(servers.smtpSecurity);
}

/** Opens the hosted-auth URL; asserts mailroom answered 200 with the sign-in page. */
async function openSignIn(page, server, params) {
  const response = await page.goto(server.authUrl(params));
  assert.ok(response, 'the navigation has a response');
  assert.equal(response.status(), 200, `GET /v3/connect/auth answered ${response.status()}`);
  await emailField(page).waitFor();
  return response;
}

/**
 * Clicks "Sign in" and waits for mailroom's answer to the POST. Returns its status: the page
 * again is 200, a redirect (303) is followed by the browser and shows up as the app's page.
 */
async function submit(page) {
  const [response] = await Promise.all([
    page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === SUBMIT_PATH,
    ),
    signInButton(page).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

/** The text of the page's role="alert" element (asserting there is exactly one). */
async function alertText(page) {
  const alert = page.getByRole('alert');
  assert.equal(await alert.count(), 1, 'the page shows one role="alert" message');
  return (await alert.innerText()).trim();
}

/** Asserts the browser ended at the redirect_uri and returns the query it arrived with. */
async function arrivedAt(s, page, app, { count = 1 } = {}) {
  const arrival = await s.appServer.waitForArrival(app.callbackPath, { count, timeout: ARRIVAL_TIMEOUT_MS });
  await page.waitForURL((url) => url.toString().startsWith(`${app.redirectUri}?`));
  const shown = new URL(page.url());
  assert.equal(`${shown.origin}${shown.pathname}`, app.redirectUri, 'the browser shows the redirect_uri');
  assert.equal(arrival.method, 'GET');
  assert.ok(!page.url().includes(PASSWORD), 'the password is not in the URL the application receives');
  return arrival.query;
}

function assertSuccess(query, state) {
  assert.match(query.code ?? '', /^\S{16,}$/, `a one-time code arrives: ${JSON.stringify(query)}`);
  assert.equal(query.state, state, 'the same state comes back');
  for (const key of ['error', 'error_type', 'error_code', 'error_description']) {
    assert.equal(query[key], undefined, `no ${key} on success: ${JSON.stringify(query)}`);
  }
}

function assertFailure(query, state, errorType) {
  assert.equal(query.error_type, errorType, `error_type: ${JSON.stringify(query)}`);
  assert.ok(query.error, `error is set: ${JSON.stringify(query)}`);
  assert.match(query.error_code ?? '', /^\d+$/, `error_code is an integer: ${JSON.stringify(query)}`);
  assert.ok((query.error_description ?? '').trim().length > 0, `error_description is set: ${JSON.stringify(query)}`);
  assert.equal(query.state, state, 'the same state comes back');
  assert.equal(query.code, undefined, 'no code on failure');
}

/** The application's grants for user17 (asserting there is at most one). */
async function user17Grants(server, app) {
  const grants = (await server.grants(app.api_key)).filter((g) => g.email === EMAIL);
  return grants;
}

async function assertOneValidGrant(server, app) {
  const grants = await user17Grants(server, app);
  assert.equal(grants.length, 1, `GET /v3/grants lists one grant for ${EMAIL}: ${JSON.stringify(grants)}`);
  assert.equal(grants[0].grant_status, 'valid');
  assert.equal(grants[0].provider, 'imap');
  assert.ok(grants[0].id, 'the grant has an id');
  return grants[0];
}

// --------------------------------------------------------------------------- 1

test('1. success: email, password and the servers under Advanced settings; code and state reach the application, the grant is valid', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('success');
  const state = newState('success');
  await s.withPage('success', async (page) => {
    await openSignIn(page, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state, login_hint: EMAIL });
    assert.equal(await emailField(page).inputValue(), EMAIL, 'login_hint prefills the email address');
    assert.match(await page.title(), /browser-success/, 'the title names the application');

    await emailField(page).fill(EMAIL);
    await passwordField(page).fill(PASSWORD);
    await fillServers(page, testbedServers(s.testbed));
    const response = await submit(page);
    assert.equal(response.status(), 303, 'mailroom answers the form with a 303 to the redirect_uri');

    assertSuccess(await arrivedAt(s, page, app), state);
    assert.equal(s.appServer.arrivals(app.callbackPath).length, 1, 'the application is reached once');
  });
  await assertOneValidGrant(s.server, app);
});

// --------------------------------------------------------------------------- 2

test('2. wrong password: the page again with an alert, labelled inputs, focus on the password; then the right password succeeds on the same page', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('wrong-password');
  const state = newState('wrong');
  const servers = testbedServers(s.testbed);
  const { focused, errorId } = await s.withPage('wrong-password', async (page) => {
    await openSignIn(page, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state, login_hint: EMAIL });
    assert.equal(await page.getByRole('alert').count(), 0, 'no error before the first try');
    await passwordField(page).fill('not-the-password');
    await fillServers(page, servers);
    const response = await submit(page);
    assert.equal(response.status(), 200, 'a wrong password shows the page again (200), no redirect');
    assert.equal(new URL(page.url()).pathname, SUBMIT_PATH, 'the browser stays on mailroom');

    const message = await alertText(page);
    assert.match(message, /password/i, `the alert says what went wrong: "${message}"`);
    assert.equal(s.appServer.arrivals(app.callbackPath).length, 0, 'the application hears nothing yet');

    // Focus: the field to fix (the password) has it (autofocus runs after load; give it
    // a moment), and it should be tied to the message.
    let focused;
    for (let i = 0; i < 40; i++) {
      focused = await page.evaluate(() => ({
        id: document.activeElement?.id || document.activeElement?.tagName,
        describedBy: document.activeElement?.getAttribute('aria-describedby') ?? '',
      }));
      if (focused.id === 'password') break;
      await page.waitForTimeout(50);
    }
    assert.equal(focused.id, 'password', 'after a wrong password the password field has the focus');
    const errorId = await page.getByRole('alert').getAttribute('id');

    // Every visible control and every one under "Advanced settings" has a <label>.
    const unlabelled = await page.locator('input:not([type=hidden]), select, textarea').evaluateAll((els) =>
      els.filter((el) => !el.labels || el.labels.length === 0 || !el.labels[0].textContent.trim()).map((el) => el.outerHTML),
    );
    assert.deepEqual(unlabelled, [], 'every form control has a non-empty <label>');
    assert.equal(await emailField(page).inputValue(), EMAIL, 'the email address is kept');
    assert.equal(await passwordField(page).inputValue(), '', 'the wrong password is not sent back');
    assert.equal(await page.getByRole('textbox', { name: 'Email address' }).count(), 1, 'the email box is named by its label');
    await openAdvanced(page);
    const imap = imapGroup(page);
    const smtp = smtpGroup(page);
    assert.equal(await imap.getByLabel('Server', { exact: true }).inputValue(), servers.imapHost, 'the IMAP host is kept');
    assert.equal(await imap.getByLabel('Port', { exact: true }).inputValue(), String(servers.imapPort), 'the IMAP port is kept');
    assert.equal(await imap.getByLabel('Security', { exact: true }).inputValue(), 'starttls', 'the IMAP security is kept');
    assert.equal(await smtp.getByLabel('Server', { exact: true }).inputValue(), servers.smtpHost, 'the SMTP host is kept');
    assert.equal(await smtp.getByLabel('Port', { exact: true }).inputValue(), String(servers.smtpPort), 'the SMTP port is kept');
    assert.equal(await smtp.getByLabel('Security', { exact: true }).inputValue(), 'starttls', 'the SMTP security is kept');
    assert.equal(await smtp.getByLabel(/^SMTP username/).count(), 1, 'the SMTP username has a label');
    assert.equal(await smtp.getByLabel(/^SMTP password/).count(), 1, 'the SMTP password has a label');

    await passwordField(page).fill(PASSWORD);
    const second = await submit(page);
    assert.equal(second.status(), 303, 'the right password on the same page ends in a 303');
    assertSuccess(await arrivedAt(s, page, app), state);
    return { focused, errorId };
  });
  await assertOneValidGrant(s.server, app);
  // Checked last so that the flow above is checked even while this fails: a screen-reader
  // user lands on the password field and should hear why they are back.
  assert.ok(
    errorId && focused.describedBy.split(/\s+/).includes(errorId),
    `the focused password field is described by the error message ` +
      `(its aria-describedby="${focused.describedBy}", the alert's id="${errorId}")`,
  );
});

// --------------------------------------------------------------------------- 3

test('3. three wrong passwords: the application gets error_type=auth_limit_reached with error, error_code, error_description and state', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('auth-limit');
  const state = newState('limit');
  // Another user than user17: three wrong passwords lock an address out of signing in
  // for a while, on every page.
  await s.withPage('auth-limit', async (page) => {
    await openSignIn(page, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state, login_hint: LOCKED_OUT_EMAIL });
    for (let attempt = 1; attempt <= 3; attempt++) {
      await passwordField(page).fill(`wrong-${attempt}`);
      await fillServers(page, testbedServers(s.testbed));
      const response = await submit(page);
      if (attempt < 3) {
        assert.equal(response.status(), 200, `wrong password ${attempt} shows the page again`);
        assert.match(await alertText(page), /password/i);
        assert.equal(s.appServer.arrivals(app.callbackPath).length, 0, `no redirect after wrong password ${attempt}`);
      } else {
        assert.equal(response.status(), 303, 'the third wrong password ends the flow with a redirect');
      }
    }
    const query = await arrivedAt(s, page, app);
    assertFailure(query, state, 'auth_limit_reached');
  });
  const grants = (await s.server.grants(app.api_key)).filter((g) => g.email === LOCKED_OUT_EMAIL);
  assert.deepEqual(grants, [], 'no grant is created');
});

// --------------------------------------------------------------------------- 4

/** A second mailroom with a 2 s provider timeout, for the tests of silent servers. */
let slowProviderServer;
async function timeoutServer(s) {
  slowProviderServer ??= (async () => {
    const server = new MailroomServer(s.testbed, 'hosted-auth-timeout', { MAILROOM_PROVIDER_TIMEOUT_SECS: '2' });
    await server.start();
    return server;
  })();
  return slowProviderServer;
}
after(async () => {
  const server = await slowProviderServer?.catch(() => null);
  await server?.stop();
});

async function providerNotResponding(s, label, imapPort) {
  const server = await timeoutServer(s);
  const callbackPath = `/callback/${label}`;
  const redirectUri = s.appServer.url(callbackPath);
  const app = { ...(await server.createApp(`browser-${label}`, [redirectUri])), callbackPath, redirectUri };
  const state = newState(label);
  let elapsed;
  await s.withPage(
    label,
    async (page) => {
      await openSignIn(page, server, { client_id: app.client_id, redirect_uri: app.redirectUri, state, login_hint: EMAIL });
      await passwordField(page).fill(PASSWORD);
      await fillServers(page, { ...testbedServers(s.testbed), imapPort });
      const started = Date.now();
      const response = await submit(page);
      elapsed = Date.now() - started;
      assert.equal(response.status(), 303, 'mailroom ends the flow with a redirect, not the page again');
      assertFailure(await arrivedAt(s, page, app), state, 'provider_not_responding');
    },
    { server },
  );
  assert.deepEqual(await user17Grants(server, app), [], 'no grant is created');
  return elapsed;
}

test('4a. provider not responding: nothing listens on the IMAP port, the application gets error_type=provider_not_responding', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  await providerNotResponding(s, 'imap-port-closed', await closedPort());
});

test('4b. provider not responding: the IMAP server accepts and never answers (MAILROOM_PROVIDER_TIMEOUT_SECS=2), error_type=provider_not_responding', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const silent = await silentServer();
  try {
    const elapsed = await providerNotResponding(s, 'imap-silent', silent.port);
    assert.ok(silent.accepted >= 1, 'mailroom connected to the silent server');
    assert.ok(elapsed >= 1_500, `mailroom waited for the server (${elapsed} ms)`);
    // It gave up by itself (the silent server never closes a connection).
    await waitUntil('mailroom to hang up on the silent server', () => silent.hungUp >= 1);
  } finally {
    await silent.close();
  }
});

// --------------------------------------------------------------------------- 5

test('5. unregistered redirect_uri: an error page with status 400, never a redirect; the application receives nothing', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('unregistered');
  const unregistered = [
    s.appServer.url('/not-registered'), // same origin, another path
    `${app.redirectUri}?extra=1`, // the registered URI with a query added
    `${app.redirectUri}/`, // ... with a trailing slash
    `${app.redirectUri}x`, // ... as a prefix of the requested one
    s.appServer.url('/x?<img src=x>&"quote"'), // and it is shown escaped
  ];
  const before = s.appServer.requests.length;
  await s.withPage('unregistered', async (page) => {
    for (const redirectUri of unregistered) {
      const response = await page.goto(
        s.server.authUrl({ client_id: app.client_id, redirect_uri: redirectUri, state: 'st', login_hint: EMAIL }),
      );
      assert.equal(response.status(), 400, `${redirectUri}: status ${response.status()}`);
      assert.equal(new URL(page.url()).origin, s.server.baseUrl, `${redirectUri}: the browser stays on mailroom`);
      assert.equal(
        await page.getByRole('heading', { name: 'Sign-in cannot continue' }).count(),
        1,
        `${redirectUri}: the error page's heading`,
      );
      const message = await alertText(page);
      assert.match(message, /redirect_uri/, `${redirectUri}: the message names redirect_uri: "${message}"`);
      assert.equal(await page.locator('form').count(), 0, `${redirectUri}: no sign-in form`);
      assert.equal(await page.locator('main img').count(), 0, `${redirectUri}: the URI is shown as text, not markup`);
      assert.match(response.headers()['cache-control'] ?? '', /no-store/, 'the error page is not cached');
      assert.ok(response.headers()['content-security-policy'], 'the error page has a CSP');
    }
    await page.waitForLoadState('networkidle');
  });
  assert.deepEqual(s.appServer.requests.slice(before), [], 'the application receives nothing');
  assert.deepEqual(await s.server.grants(app.api_key), [], 'no grant is created');
});

// --------------------------------------------------------------------------- 6

test('6. re-authenticating an existing email: two flows for user17, two codes, one grant with the same id; other servers are refused on the page', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('reauth');
  const codes = [];
  let first;
  for (const [round, host] of [
    [1, '127.0.0.1'],
    [2, '127.0.0.1'],
  ]) {
    const state = newState(`reauth${round}`);
    await s.withPage(`reauth-${round}`, async (page) => {
      await openSignIn(page, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state, login_hint: EMAIL });
      await passwordField(page).fill(PASSWORD);
      await fillServers(page, testbedServers(s.testbed, host));
      const response = await submit(page);
      assert.equal(response.status(), 303, `flow ${round} ends in a 303`);
      const query = await arrivedAt(s, page, app, { count: round });
      assertSuccess(query, state);
      codes.push(query.code);
    });
    const grant = await assertOneValidGrant(s.server, app);
    if (round === 1) first = grant;
    else assert.equal(grant.id, first.id, 'the second flow re-authenticates the same grant');
  }
  assert.equal(codes.length, 2);
  assert.notEqual(codes[0], codes[1], 'each flow gets its own code');
  assert.equal((await s.server.grants(app.api_key)).length, 1, 'the application has one grant in all');

  // The same mailbox through other servers (here another name for them): the page says
  // so, and the grant stays where it is.
  const state = newState('reauth-moved');
  await s.withPage('reauth-moved', async (page) => {
    await openSignIn(page, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state, login_hint: EMAIL });
    await passwordField(page).fill(PASSWORD);
    await fillServers(page, testbedServers(s.testbed, 'localhost'));
    const response = await submit(page);
    assert.equal(response.status(), 200, 'the page again, no redirect');
    assert.match(await alertText(page), /already connected/);
  });
  const grant = await assertOneValidGrant(s.server, app);
  assert.equal(grant.id, first.id);
  assert.equal(grant.settings.imap_host, '127.0.0.1', 'the grant keeps its servers');
});

// --------------------------------------------------------------------------- 7

test('7. the page: Cache-Control no-store, a Content-Security-Policy, no script, styles allowed by the CSP; keyboard only from first Tab to Enter', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('keyboard');
  const state = newState('keyboard');
  const servers = testbedServers(s.testbed);
  await s.withPage('keyboard', async (page) => {
    // No login_hint: the user types everything.
    const response = await openSignIn(page, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state });
    const headers = response.headers();
    assert.match(headers['cache-control'] ?? '', /(^|,\s*)no-store(\s*,|$)/, `Cache-Control: ${headers['cache-control']}`);
    const csp = headers['content-security-policy'] ?? '';
    assert.ok(csp, 'the page has a Content-Security-Policy header');
    const directives = Object.fromEntries(
      csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
        const [name, ...values] = d.split(/\s+/);
        return [name.toLowerCase(), values];
      }),
    );
    assert.deepEqual(directives['default-src'], ["'none'"], `default-src 'none': ${csp}`);
    assert.equal(directives['script-src'], undefined, `no script-src loosens default-src: ${csp}`);
    assert.deepEqual(directives['frame-ancestors'], ["'none'"], `frame-ancestors 'none': ${csp}`);
    assert.ok(directives['form-action']?.includes("'self'"), `form-action allows mailroom: ${csp}`);
    assert.ok(
      directives['form-action']?.includes(s.appServer.origin),
      `form-action allows the redirect to the application's origin ${s.appServer.origin}: ${csp}`,
    );
    assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), `nothing unsafe: ${csp}`);

    const html = await response.text();
    assert.ok(!/<script/i.test(html), 'the HTML has no <script>');
    assert.ok(!/\son[a-z]+\s*=/i.test(html), 'the HTML has no inline event handler');
    assert.equal(await page.locator('script').count(), 0, 'the DOM has no <script>');
    // The nonce'd stylesheet is applied under the CSP (the card is white on grey).
    const background = await page.locator('main').evaluate((el) => getComputedStyle(el).backgroundColor);
    assert.equal(background, 'rgb(255, 255, 255)', 'the page style is applied');

    // Keyboard only, in tab order.
    const focusedId = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
    const tab = async (expected) => {
      await page.keyboard.press('Tab');
      assert.equal(await focusedId(), expected, `Tab moves the focus to ${expected}`);
    };
    await tab('email');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert.notEqual(outline, 'none', 'the focused field shows a focus outline');
    await page.keyboard.type(EMAIL);
    await tab('password');
    await page.keyboard.type(PASSWORD);
    await tab('SUMMARY');
    await page.keyboard.press('Enter');
    assert.ok(await imapGroup(page).isVisible(), 'Enter on "Advanced settings" opens it');
    const fillByKeyboard = async (id, text) => {
      await tab(id);
      await page.keyboard.press('ControlOrMeta+A');
      await page.keyboard.type(text);
    };
    const chooseStarttls = async (id) => {
      await tab(id);
      // The options are ssl, starttls, none; the first is selected unless the page says otherwise.
      for (let i = 0; i < 3 && (await page.locator(`#${id}`).inputValue()) !== 'starttls'; i++) {
        const before = await page.locator(`#${id}`).inputValue();
        await page.keyboard.press(before === 'none' ? 'ArrowUp' : 'ArrowDown');
      }
      assert.equal(await page.locator(`#${id}`).inputValue(), 'starttls', `${id} chosen with the arrow keys`);
    };
    await fillByKeyboard('imap_host', servers.imapHost);
    await fillByKeyboard('imap_port', String(servers.imapPort));
    await chooseStarttls('imap_security');
    await fillByKeyboard('smtp_host', servers.smtpHost);
    await fillByKeyboard('smtp_port', String(servers.smtpPort));
    await chooseStarttls('smtp_security');
    await tab('smtp_username');
    await tab('smtp_password');
    await page.keyboard.press('Tab');
    assert.equal(
      await page.evaluate(() => document.activeElement?.textContent?.trim()),
      'Sign in',
      'Tab reaches the Sign in button',
    );
    await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === SUBMIT_PATH),
      page.keyboard.press('Enter'),
    ]);
    assertSuccess(await arrivedAt(s, page, app), state);
    assert.deepEqual(
      page.problems.filter((p) => /Content Security Policy|Refused/i.test(p)),
      [],
      'the browser reported no CSP violation',
    );
  });
  await assertOneValidGrant(s.server, app);
});

// --------------------------------------------------------------------------- 8

test('8. options=smtp_required: the SMTP username and password are shown and required from the first page', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('smtp-required');
  const state = newState('smtp');
  await s.withPage('smtp-required', async (page) => {
    await openSignIn(page, s.server, {
      client_id: app.client_id,
      redirect_uri: app.redirectUri,
      state,
      login_hint: EMAIL,
      options: 'smtp_required',
    });
    const username = smtpGroup(page).getByLabel(/^SMTP username/);
    const password = smtpGroup(page).getByLabel(/^SMTP password/);
    assert.equal(await username.getAttribute('required'), '', 'the SMTP username is required');
    assert.equal(await password.getAttribute('required'), '', 'the SMTP password is required');
    assert.ok(await username.isVisible(), 'the required SMTP username is visible without opening "Advanced settings"');
    assert.ok(await password.isVisible(), 'the required SMTP password is visible without opening "Advanced settings"');

    await passwordField(page).fill(PASSWORD);
    await fillServers(page, testbedServers(s.testbed));
    await username.fill(EMAIL);
    await password.fill(PASSWORD);
    const response = await submit(page);
    assert.equal(response.status(), 303);
    assertSuccess(await arrivedAt(s, page, app), state);
  });
  await assertOneValidGrant(s.server, app);
});

// --------------------------------------------------------------------------- 9

test('9. a custom-scheme redirect_uri (platform ios): the browser may follow the redirect after the form (CSP form-action)', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('custom-scheme');
  const redirectUri = 'com.example.mailroomtest:/oauth';
  const registered = await s.server.api('POST', '/v3/applications/redirect-uris', app.api_key, {
    url: redirectUri,
    platform: 'ios',
  });
  assert.ok([200, 201].includes(registered.status), `registering ${redirectUri}: ${registered.status} ${registered.text}`);
  const state = newState('scheme');
  await s.withPage('custom-scheme', async (page) => {
    // Chromium cannot open the app, but it does issue the request when CSP allows it; when
    // CSP forbids it, Chromium says so on the console (no need to wait for a timeout).
    const followed = page.waitForEvent('request', {
      predicate: (r) => r.url().startsWith(`${redirectUri}?`),
      timeout: ARRIVAL_TIMEOUT_MS,
    });
    const blocked = page.waitForEvent('console', {
      predicate: (m) => /Content Security Policy/i.test(m.text()),
      timeout: ARRIVAL_TIMEOUT_MS,
    });
    followed.catch(() => {}); // both awaited below
    blocked.catch(() => {});
    await openSignIn(page, s.server, { client_id: app.client_id, redirect_uri: redirectUri, state, login_hint: EMAIL });
    await passwordField(page).fill(PASSWORD);
    await fillServers(page, testbedServers(s.testbed));
    await signInButton(page).click();
    const outcome = await Promise.race([
      followed.then((request) => ({ request })),
      blocked.then((message) => ({ message })),
    ]);
    assert.ok(
      outcome.request,
      `the browser did not go to ${redirectUri}: ${outcome.message?.text() ?? 'no request and no console message'}`,
    );
    const request = outcome.request;
    const query = Object.fromEntries(new URL(request.url()).searchParams);
    assertSuccess(query, state);
  });
});

// --------------------------------------------------------------------------- 10

test('10. the sign-in link opened twice in one browser: the first page still signs in', { timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await suite();
  const app = await s.newApp('two-tabs');
  const state1 = newState('tab1');
  const state2 = newState('tab2');
  await s.withPage('two-tabs', async (first) => {
    const second = await first.context().newPage();
    await openSignIn(first, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state: state1, login_hint: EMAIL });
    await openSignIn(second, s.server, { client_id: app.client_id, redirect_uri: app.redirectUri, state: state2, login_hint: EMAIL });
    await passwordField(first).fill(PASSWORD);
    await fillServers(first, testbedServers(s.testbed));
    const response = await submit(first);
    if (response.status() !== 303) {
      // Only now is there a sign-in page to quote (a redirect leaves it).
      const shown = (await first.locator('main').innerText()).replace(/\s+/g, ' ');
      assert.fail(`the first tab's form is refused (${response.status()}: ${shown})`);
    }
    assertSuccess(await arrivedAt(s, first, app), state1);
  });
  await assertOneValidGrant(s.server, app);
});
