// v2 native authentication through the Nylas Node SDK 6.8.0, unchanged:
// `Nylas.connect.authorize` (POST /connect/authorize, IMAP settings in v2's names, scopes
// comma-joined) and `Nylas.connect.token` (POST /connect/token); its refusals as the SDK's
// NylasApiError; and `Nylas.revoke` (POST /oauth/revoke, the token as the Basic user).
// Testbed user78.

import assert from 'node:assert/strict';
import test from 'node:test';

import Nylas from 'nylas';

import {
  EMAIL,
  HTTP_TIMEOUT_MS,
  assertV2Error,
  account as accountOf,
  imapSettings,
  nativeAuth,
  rejectsWithApiError,
  sdk,
  sharedSuite,
} from './helper.js';

const suite = sharedSuite('native');

test('connect.authorize and connect.token', async () => {
  const s = await suite();
  await s.newApp();
  const account = await nativeAuth(s.testbed, ['email.read_only', 'email.send']);
  assert.equal(typeof account.accessToken, 'string');
  assert.ok(account.accessToken);
  assert.equal(account.object, 'account');
  assert.ok(account.id);
  assert.equal(account.accountId, account.id);
  assert.equal(account.emailAddress, EMAIL);
  assert.equal(account.name, 'User Seventy-Eight');
  assert.equal(account.provider, 'imap');
  assert.equal(account.organizationUnit, 'folder');
  assert.ok(['paid', 'canceled', 'trial'].includes(account.billingState), account.billingState);

  const me = await accountOf(account.accessToken);
  assert.deepEqual([me.id, me.emailAddress, me.provider], [account.id, EMAIL, 'imap']);

  // Authenticating the same mailbox again keeps the account.
  const again = await nativeAuth(s.testbed, ['email.read_only']);
  assert.equal(again.id, account.id);
  assert.equal((await accountOf(again.accessToken)).id, account.id);
});

test('a wrong password is a 401 api_error', async () => {
  const s = await suite();
  await s.newApp();
  const error = await rejectsWithApiError(
    Nylas.connect.authorize({
      name: 'User Seventy-Eight',
      emailAddress: EMAIL,
      provider: 'imap',
      settings: imapSettings(s.testbed, { imap_password: 'wrong-pass-78', smtp_password: 'wrong-pass-78' }),
      scopes: ['email.read_only'],
    }),
    401,
  );
  assert.equal(error.type, 'api_error');
  assert.ok(!error.message.includes('wrong-pass-78'), error.message);
});

test('an unknown scope is a 400', async () => {
  // The SDK's Scope enum drops names it does not know, so the request goes as seed 004's
  // curl sends it: scopes as a comma-separated string.
  const s = await suite();
  const app = await s.newApp();
  const answer = await fetch(`${s.baseUrl}/connect/authorize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_id: app.clientId,
      name: 'User Seventy-Eight',
      email_address: EMAIL,
      provider: 'imap',
      settings: imapSettings(s.testbed),
      scopes: 'email.read_only,email.everything',
    }),
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
  const text = await answer.text();
  const error = { status: answer.status, text, json: JSON.parse(text) };
  assertV2Error(error, 400);
  assert.equal(error.json.type, 'invalid_request_error');
  assert.ok(error.json.message.includes('email.everything'), text);
});

test('revoke ends that token only', async () => {
  const s = await suite();
  await s.newApp();
  const first = (await nativeAuth(s.testbed, ['email.read_only'])).accessToken;
  const second = (await nativeAuth(s.testbed, ['email.read_only'])).accessToken;
  assert.notEqual(first, second);
  assert.equal((await accountOf(first)).emailAddress, EMAIL);

  await sdk('Nylas.revoke (POST /oauth/revoke)', Nylas.revoke(first));
  await rejectsWithApiError(Nylas.with(first).account.get(), 401);
  assert.equal((await accountOf(second)).emailAddress, EMAIL);
});
