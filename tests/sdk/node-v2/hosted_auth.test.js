// v2 hosted authentication through the Nylas Node SDK 6.8.0, unchanged:
// `Nylas.urlForAuthentication` builds GET /oauth/authorize; mailroom's sign-in page (the
// form of v3's hosted page) is submitted as a browser would; `Nylas.exchangeCodeForToken`
// redeems the code with GET /oauth/token (the fields as a query string); the token reads
// GET /account through `Nylas.with(token)` (HTTP Basic, the token as the user). What the
// token's scopes allow is in scopes.test.js. Testbed user78.

import assert from 'node:assert/strict';
import test from 'node:test';

import Nylas from 'nylas';

import {
  rejectsWithApiError,
  EMAIL,
  REDIRECT_URI,
  account as accountOf,
  assertV2Error,
  sdk,
  sharedSuite,
  signIn,
  tokenByGet,
} from './helper.js';

const suite = sharedSuite('hosted');

test('urlForAuthentication, the sign-in page, exchangeCodeForToken and the account', async () => {
  const s = await suite();
  const app = await s.newApp();
  const authUrl = Nylas.urlForAuthentication({
    loginHint: EMAIL,
    redirectURI: REDIRECT_URI,
    scopes: ['email.read_only', 'email.send'],
    state: 'state-78',
  });
  // What the SDK asks for (v2's names; `scopes` comma-joined; nothing percent-encoded).
  const asked = new URL(authUrl);
  assert.equal(asked.origin + asked.pathname, `${s.baseUrl}/oauth/authorize`);
  assert.deepEqual(Object.fromEntries(asked.searchParams), {
    client_id: app.clientId,
    response_type: 'code',
    login_hint: EMAIL,
    redirect_uri: REDIRECT_URI,
    state: 'state-78',
    scopes: 'email.read_only,email.send',
  });

  const back = await signIn(authUrl, s.testbed);
  assert.equal(back.state, 'state-78');
  assert.ok(back.code, JSON.stringify(back));

  const token = await sdk('Nylas.exchangeCodeForToken (GET /oauth/token)', Nylas.exchangeCodeForToken(back.code));
  assert.equal(typeof token.accessToken, 'string');
  assert.ok(token.accessToken);
  assert.equal(token.emailAddress, EMAIL);
  assert.equal(token.provider, 'imap');
  assert.ok(token.accountId);
  assert.equal(String(token.tokenType).toLowerCase(), 'bearer');

  // GET /account with the token as the Basic user.
  const account = await accountOf(token.accessToken);
  assert.equal(account.object, 'account');
  assert.equal(account.id, token.accountId);
  assert.equal(account.accountId, token.accountId);
  assert.equal(account.emailAddress, EMAIL);
  assert.equal(account.provider, 'imap');
  assert.equal(account.organizationUnit, 'folder');
  assert.ok(account.syncState);

  // A code redeems once: the SDK finds no token, and the wire shows v2's error body. A
  // replay also revokes the token the code gave (RFC 6749 section 4.1.2).
  await assert.rejects(Nylas.exchangeCodeForToken(back.code), { message: 'No access token in response' });
  assertV2Error(
    await tokenByGet(s.baseUrl, {
      client_id: app.clientId,
      client_secret: app.clientSecret,
      grant_type: 'authorization_code',
      code: back.code,
    }),
    400,
  );
  await rejectsWithApiError(Nylas.with(token.accessToken).account.get(), 401);
});

test('the token endpoint refuses an unknown code (400) and a wrong client secret (401)', async () => {
  const s = await suite();
  const app = await s.newApp();
  await assert.rejects(Nylas.exchangeCodeForToken('not-a-code'), { message: 'No access token in response' });
  const fields = { client_id: app.clientId, grant_type: 'authorization_code', code: 'not-a-code' };
  assertV2Error(await tokenByGet(s.baseUrl, { ...fields, client_secret: app.clientSecret }), 400);
  assertV2Error(await tokenByGet(s.baseUrl, { ...fields, client_secret: 'not-the-secret' }), 401);
});
