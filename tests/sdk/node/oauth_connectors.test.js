// Google, Microsoft and Yahoo connectors and custom authentication with a refresh token,
// through the official Nylas Node SDK (nylas 8.4.0, unchanged), against a real mailroom,
// the testbed's OAuth 2.0 authorization server and Dovecot and Postfix taking its tokens
// (testbed/README.md, "OAuth mailboxes"):
//
//   * connectors.create/find/list/update/destroy for `google`, `microsoft` and `yahoo`, with
//     the settings as the SDK types them (`clientId`, `clientSecret`, `tenant`): the SDK sends
//     them as `client_id`/`client_secret` (checked on the wire) and reads back the provider,
//     the settings without the secret (`clientId`, Microsoft's `tenant`) and the default
//     scopes;
//   * auth.customAuthentication with `settings: {refreshToken}` (sent as `refresh_token`) for
//     Google: the refresh token comes from a client this file registers at the testbed's
//     OAuth server and a consent given on its authorization page; the grant the SDK returns
//     sends a message to itself, and the message is listed once the sync has read it back;
//   * refusals as the SDK's NylasApiError: a refresh token the provider does not know (401)
//     and custom auth without the provider's connector (400).
//
// This file owns testbed user70 (its own lock) and wipes it before signing in. It runs its
// own `mailroom serve` with the three MAILROOM_TEST_OAUTH_* settings that move mailroom's
// provider table to the testbed, and a 1 s sync poll. Waits poll every 50 ms with a 60 s
// deadline; nothing sleeps a fixed time.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, it } from 'node:test';

import Nylas, { NylasApiError } from 'nylas';

import { SDK_TIMEOUT_S } from './helper.js';
import { CLIENT_SECRET, newClient, providerEnv, refreshToken } from './oauth_provider.js';
import {
  MailroomServerProcess,
  acquireLock,
  resetUser,
  sharedSetup,
  startTestbed,
} from '../../support/mailroom_process.js';

const USER = 'user70';
const EMAIL = `${USER}@example.test`;

const POLL_MS = 50;
const DEADLINE_MS = 60_000;

// What a connector asks for unless told otherwise: the mailbox over IMAP and SMTP, offline
// access, and who the user is.
const DEFAULT_SCOPES = {
  google: ['https://mail.google.com/', 'openid', 'email'],
  microsoft: [
    'https://outlook.office.com/IMAP.AccessAsUser.All',
    'https://outlook.office.com/SMTP.Send',
    'offline_access',
    'openid',
    'email',
  ],
  yahoo: ['mail-w', 'openid', 'email'],
};

// --------------------------------------------------------------------------- helpers

let liveServer; // for diagnostics when a wait times out

/** Polls `probe() -> [done, observed]` every 50 ms until done; throws with the last observation. */
async function until(what, probe, timeoutMs = DEADLINE_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [done, observed] = await probe();
    if (done) return observed;
    if (Date.now() > deadline) {
      const error = new Error(
        `timed out after ${timeoutMs / 1000} s waiting for ${what}; last seen: ${JSON.stringify(observed)}`,
      );
      throw liveServer ? liveServer.addDiagnostics(error) : error;
    }
    await delay(POLL_MS);
  }
}

/** What the SDK's Connector model names: provider, settings and scope. */
function modelled({ provider, settings, scope }) {
  return { provider, settings, scope };
}

function tag() {
  return crypto.randomBytes(4).toString('hex');
}

/** Asserts that `promise` rejects with the SDK's NylasApiError of `statusCode` and `type`. */
async function rejectsWithApiError(promise, statusCode, type, messagePattern) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof NylasApiError, `expected NylasApiError, got ${error?.stack ?? error}`);
    assert.equal(error.statusCode, statusCode, error.message);
    assert.equal(error.type, type, error.message);
    assert.ok(error.requestId, 'the requestId comes from the x-request-id header');
    if (messagePattern) assert.match(error.message, messagePattern);
    return true;
  });
}

/** Records the method, path and JSON body of every request the SDK makes while `fn` runs. */
async function onTheWire(fn) {
  const realFetch = globalThis.fetch;
  const requests = [];
  globalThis.fetch = async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const text = request.body ? await request.clone().text() : '';
    requests.push({
      method: request.method,
      path: new URL(request.url).pathname,
      body: text ? JSON.parse(text) : undefined,
    });
    return realFetch(input, init);
  };
  try {
    return { result: await fn(), requests };
  } finally {
    globalThis.fetch = realFetch;
  }
}

// --------------------------------------------------------------------------- setup

async function start() {
  const release = await acquireLock(`mailroom-sdk-node-${USER}`);
  let server;
  try {
    const testbed = startTestbed({ user: USER });
    server = new MailroomServerProcess(testbed, {
      dirPrefix: 'mailroom-sdk-node-oauth-connectors-',
      env: {
        MAILROOM_ALLOW_INSECURE_TRANSPORT: 'true', // the testbed's OAuth server speaks plain http
        MAILROOM_PROVIDER_TIMEOUT_SECS: '15',
        MAILROOM_SYNC_POLL_SECS: '1',
        ...providerEnv(testbed),
      },
      httpTimeoutMs: SDK_TIMEOUT_S * 1000,
    });
    await server.start();
    liveServer = server;

    let closed = false;
    return {
      testbed,
      server,
      /** A fresh application (no connectors, no grants) and an SDK client for it. */
      newApp(name) {
        const app = server.appCreate(`sdk-node-oauth-${name}-${tag()}`);
        const nylas = new Nylas({ apiKey: app.api_key, apiUri: server.baseUrl, timeout: SDK_TIMEOUT_S });
        return { app, nylas, raw: (method, urlPath) => server.raw(method, urlPath, app.api_key) };
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

const suite = sharedSetup(start);

// --------------------------------------------------------------------------- tests

describe('OAuth connectors', () => {
  it('are created, found, listed, updated and destroyed, and never show the client secret', async () => {
    const s = await suite();
    const { nylas, raw } = s.newApp('connectors');
    const secret = `sdk-secret-${tag()}${tag()}`;
    const ids = Object.fromEntries(['google', 'microsoft', 'yahoo'].map((p) => [p, `${p}-client-${tag()}`]));

    const created = {};
    const { requests } = await onTheWire(async () => {
      for (const provider of ['google', 'microsoft', 'yahoo']) {
        const response = await nylas.connectors.create({
          requestBody: { name: `${provider} mail`, provider, settings: { clientId: ids[provider], clientSecret: secret } },
        });
        assert.equal(typeof response.requestId, 'string');
        created[provider] = response.data;
      }
    });
    // The SDK turns its camelCase settings into the API's snake_case.
    assert.deepEqual(
      requests.map((r) => [r.method, r.path, r.body]),
      ['google', 'microsoft', 'yahoo'].map((provider) => [
        'POST',
        '/v3/connectors',
        { name: `${provider} mail`, provider, settings: { client_id: ids[provider], client_secret: secret } },
      ]),
    );
    for (const provider of ['google', 'microsoft', 'yahoo']) {
      assert.equal(created[provider].name, `${provider} mail`);
      assert.equal(created[provider].activeCredentialId, null, 'no credentials: the client is in the settings');
    }
    assert.deepEqual(modelled(created.google), {
      provider: 'google',
      settings: { clientId: ids.google },
      scope: DEFAULT_SCOPES.google,
    });
    // Microsoft's tenant defaults to "common", and is shown (it is no secret).
    assert.deepEqual(modelled(created.microsoft), {
      provider: 'microsoft',
      settings: { clientId: ids.microsoft, tenant: 'common' },
      scope: DEFAULT_SCOPES.microsoft,
    });
    assert.deepEqual(modelled(created.yahoo), { provider: 'yahoo', settings: { clientId: ids.yahoo }, scope: DEFAULT_SCOPES.yahoo });

    // One connector per provider.
    await rejectsWithApiError(
      nylas.connectors.create({
        requestBody: { provider: 'google', settings: { clientId: 'x', clientSecret: 'y' } },
      }),
      409,
      'api.invalid_request_error',
      /PATCH \/v3\/connectors\/google/,
    );

    for (const provider of ['google', 'microsoft', 'yahoo']) {
      const found = await nylas.connectors.find({ provider });
      assert.deepEqual(found.data, created[provider]);
    }
    const listed = await nylas.connectors.list({});
    assert.deepEqual(
      [...listed.data].sort((a, b) => a.provider.localeCompare(b.provider)),
      [created.google, created.microsoft, created.yahoo],
    );
    for (const path of ['/v3/connectors', '/v3/connectors/google', '/v3/connectors/microsoft', '/v3/connectors/yahoo']) {
      const reply = await raw('GET', path);
      assert.equal(reply.status, 200, reply.text);
      assert.ok(!reply.text.includes(secret), `${path} shows the client secret: ${reply.text}`);
    }

    // Microsoft: another tenant and fewer scopes; the client id and secret are kept.
    const scope = ['https://outlook.office.com/IMAP.AccessAsUser.All', 'offline_access'];
    const updated = await onTheWire(() =>
      nylas.connectors.update({
        provider: 'microsoft',
        requestBody: { settings: { tenant: 'contoso.onmicrosoft.com' }, scope },
      }),
    );
    assert.deepEqual(
      updated.requests.map((r) => [r.method, r.path, r.body]),
      // Node 8 updates with PUT (the Python SDK with PATCH); mailroom takes both as a change.
      [['PUT', '/v3/connectors/microsoft', { settings: { tenant: 'contoso.onmicrosoft.com' }, scope }]],
    );
    assert.deepEqual(modelled(updated.result.data), {
      provider: 'microsoft',
      settings: { clientId: ids.microsoft, tenant: 'contoso.onmicrosoft.com' },
      scope,
    });
    assert.deepEqual(
      modelled((await nylas.connectors.find({ provider: 'microsoft' })).data),
      modelled(updated.result.data),
    );
    // Google: a new client; the answer shows its id only.
    const rotated = `sdk-secret-${tag()}${tag()}`;
    const google = await nylas.connectors.update({
      provider: 'google',
      requestBody: { settings: { clientId: 'google-client-2', clientSecret: rotated } },
    });
    assert.deepEqual(modelled(google.data), {
      provider: 'google',
      settings: { clientId: 'google-client-2' },
      scope: DEFAULT_SCOPES.google,
    });
    const all = await raw('GET', '/v3/connectors');
    assert.ok(!all.text.includes(rotated) && !all.text.includes(secret), all.text);

    const deleted = await nylas.connectors.destroy({ provider: 'yahoo' });
    assert.equal(typeof deleted.requestId, 'string');
    await rejectsWithApiError(nylas.connectors.find({ provider: 'yahoo' }), 404, 'api.not_found_error');
    assert.deepEqual(
      (await nylas.connectors.list({})).data.map((c) => c.provider).sort(),
      ['google', 'microsoft'],
    );
    await nylas.connectors.destroy({ provider: 'google' });
    await nylas.connectors.destroy({ provider: 'microsoft' });
    assert.deepEqual((await nylas.connectors.list({})).data, []);
  });
});

describe('custom authentication with a refresh token', () => {
  it('connects a Google mailbox that sends to itself and reads the message back', async () => {
    const s = await suite();
    resetUser(USER);
    const clientId = await newClient(s.testbed, 'google');
    const { nylas, raw } = s.newApp('google');
    await nylas.connectors.create({
      requestBody: { provider: 'google', settings: { clientId, clientSecret: CLIENT_SECRET } },
    });
    const refresh = await refreshToken(s.testbed, 'google', clientId, EMAIL);

    const signIn = await onTheWire(() =>
      nylas.auth.customAuthentication({
        requestBody: { provider: 'google', settings: { refreshToken: refresh } },
      }),
    );
    assert.deepEqual(
      signIn.requests.map((r) => [r.method, r.path, r.body]),
      [['POST', '/v3/connect/custom', { provider: 'google', settings: { refresh_token: refresh } }]],
    );
    const grant = signIn.result.data;
    assert.equal(grant.provider, 'google');
    assert.equal(grant.email, EMAIL);
    assert.equal(grant.grantStatus, 'valid');
    assert.equal(typeof grant.id, 'string');
    try {
      const found = await nylas.grants.find({ grantId: grant.id });
      assert.equal(found.data.email, EMAIL);
      assert.equal(found.data.provider, 'google');
      const shown = await raw('GET', `/v3/grants/${grant.id}`);
      assert.equal(shown.status, 200, shown.text);
      assert.ok(!shown.text.includes(refresh), `the grant shows its refresh token: ${shown.text}`);
      // Google keeps refresh tokens: signing in again re-authenticates the same grant.
      const again = await nylas.auth.customAuthentication({
        requestBody: { provider: 'google', settings: { refresh_token: refresh } },
      });
      assert.equal(again.data.id, grant.id);
      assert.equal(again.data.grantStatus, 'valid');

      // Sent over SMTP with the access token, then read back over IMAP by the sync.
      const subject = `OAuth google through the Node SDK ${tag()}`;
      const sent = await nylas.messages.send({
        identifier: grant.id,
        requestBody: { to: [{ email: EMAIL }], subject, body: 'sent with a google token' },
      });
      assert.equal(sent.data.subject, subject);
      const [message] = await until(`'${subject}' in Sent and INBOX`, async () => {
        const listed = (await nylas.messages.list({ identifier: grant.id, queryParams: { subject } })).data;
        // One message, in two folders: the copy filed in Sent and the delivered one.
        const done = listed.length === 1 && (listed[0].folders ?? []).length === 2;
        return [done, done ? listed : listed.map((m) => [m.subject, m.folders])];
      });
      assert.deepEqual(message.from.map((p) => p.email), [EMAIL]);
      assert.deepEqual(message.to.map((p) => p.email), [EMAIL]);
      const folders = {};
      for (const folderId of message.folders) {
        folders[(await nylas.folders.find({ identifier: grant.id, folderId })).data.name] = folderId;
      }
      assert.deepEqual(Object.keys(folders).sort(), ['INBOX', 'Sent']);
      const inbox = await nylas.messages.list({ identifier: grant.id, queryParams: { in: folders.INBOX, limit: 50 } });
      assert.deepEqual(inbox.data.map((m) => m.subject), [subject]);
    } finally {
      // No sync left on user70 once the file is done.
      await nylas.grants.destroy({ grantId: grant.id });
    }
  });

  it('is refused with NylasApiError 401 for an unknown refresh token and 400 without a connector', async () => {
    const s = await suite();
    const clientId = await newClient(s.testbed, 'google');
    const { nylas } = s.newApp('refusals');
    await nylas.connectors.create({
      requestBody: { provider: 'google', settings: { clientId, clientSecret: CLIENT_SECRET } },
    });

    // A refresh token the provider never issued: it refuses it, and so does mailroom.
    await rejectsWithApiError(
      nylas.auth.customAuthentication({
        requestBody: { provider: 'google', settings: { refreshToken: 'not-a-refresh-token' } },
      }),
      401,
      'api.authentication_error',
      /invalid_grant/,
    );
    // No Yahoo connector in this application: nothing to trade a token with.
    await rejectsWithApiError(
      nylas.auth.customAuthentication({ requestBody: { provider: 'yahoo', settings: { refreshToken: 'rt' } } }),
      400,
      'api.invalid_request_error',
      /connector/,
    );
    // Nor a Google one in a fresh application.
    await rejectsWithApiError(
      s.newApp('empty').nylas.auth.customAuthentication({
        requestBody: { provider: 'google', settings: { refreshToken: 'rt' } },
      }),
      400,
      'api.invalid_request_error',
      /connector/,
    );
    assert.deepEqual((await nylas.grants.list()).data, []);
  });
});
