// The testbed's OAuth 2.0 authorization server (`testbed/oauth-server`, documented in
// testbed/README.md, "OAuth mailboxes") as a test drives it: a client of the test's own
// registered through the control channel, a user's consent given on the authorization page
// (the form POSTed as a browser would), and the code traded for a refresh token at the
// token endpoint. Plain `fetch`: this is the application's side of the flow, not the SDK's.

import crypto from 'node:crypto';

// Where the authorization page sends the browser back; nothing listens there, the test
// reads the code from the redirect itself.
export const REDIRECT_URI = 'http://127.0.0.1:9/callback';
export const CLIENT_SECRET = 'sdk-node-client-secret';
const HTTP_TIMEOUT_MS = 30_000;

// The scopes each consent asks for: the provider's IMAP, SMTP and identity scopes with
// offline access (the defaults of mailroom's connectors).
export const SCOPES = {
  google: 'https://mail.google.com/ openid email',
  microsoft:
    'https://outlook.office.com/IMAP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access openid email',
  yahoo: 'mail-w openid email',
};

export function oauthUrl(testbed) {
  if (!testbed.TESTBED_OAUTH_URL) {
    throw new Error("the testbed's env file has no TESTBED_OAUTH_URL (testbed/start runs oauth-server)");
  }
  return testbed.TESTBED_OAUTH_URL;
}

/**
 * The settings that point mailroom's Google, Microsoft and Yahoo table at the testbed: its
 * authorization server, and Dovecot and Postfix taking its tokens.
 */
export function providerEnv(testbed) {
  return {
    MAILROOM_TEST_OAUTH_BASE_URL: oauthUrl(testbed),
    MAILROOM_TEST_OAUTH_IMAP: `localhost:${testbed.TESTBED_IMAP_PORT}:starttls`,
    MAILROOM_TEST_OAUTH_SMTP: `localhost:${testbed.TESTBED_SUBMISSION_PORT}:starttls`,
  };
}

function post(url, form, headers = {}) {
  return fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
    signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
  });
}

/** POSTs to the control channel; returns its JSON answer. */
export async function control(testbed, name, params) {
  const reply = await post(`${oauthUrl(testbed)}/control/${name}`, params);
  const text = await reply.text();
  if (reply.status !== 200) throw new Error(`control/${name}: ${reply.status} ${text}`);
  return JSON.parse(text);
}

/** Registers a client of `provider` (any loopback redirect URI) with CLIENT_SECRET; returns its id. */
export async function newClient(testbed, provider) {
  const clientId = `sdk-node-${provider}-${crypto.randomBytes(6).toString('hex')}`;
  await control(testbed, 'client', { client_id: clientId, client_secret: CLIENT_SECRET, provider });
  return clientId;
}

function endpoints(testbed, provider) {
  const base = oauthUrl(testbed);
  const table = {
    google: [`${base}/google/o/oauth2/v2/auth`, `${base}/google/token`],
    microsoft: [`${base}/microsoft/common/oauth2/v2.0/authorize`, `${base}/microsoft/common/oauth2/v2.0/token`],
    yahoo: [`${base}/yahoo/oauth2/request_auth`, `${base}/yahoo/oauth2/get_token`],
  };
  if (!table[provider]) throw new Error(`no provider ${provider}`);
  return table[provider];
}

/**
 * A refresh token for `email`, as an application that ran its own OAuth flow with
 * `clientId` holds one: the user allows it on the authorization page, and the code is
 * traded (with the PKCE verifier, RFC 7636) at the token endpoint.
 */
export async function refreshToken(testbed, provider, clientId, email) {
  const [authorize, token] = endpoints(testbed, provider);
  const verifier = crypto.randomBytes(48).toString('base64url');
  const page = await post(authorize, {
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: SCOPES[provider],
    access_type: 'offline',
    state: 'sdk',
    code_challenge: verifier,
    code_challenge_method: 'plain',
    email,
    decision: 'allow',
  });
  const location = page.headers.get('location');
  if (![302, 303].includes(page.status) || !location) {
    throw new Error(`no redirect from the authorization page: ${page.status} ${(await page.text()).slice(0, 2000)}`);
  }
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`no code in the redirect ${location}`);
  const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier };
  const headers = {};
  if (provider === 'yahoo') {
    // Yahoo documents only HTTP Basic for the client.
    headers.Authorization = `Basic ${Buffer.from(`${clientId}:${CLIENT_SECRET}`).toString('base64')}`;
  } else {
    Object.assign(form, { client_id: clientId, client_secret: CLIENT_SECRET });
  }
  const answer = await post(token, form, headers);
  const text = await answer.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  if (answer.status !== 200 || !body.refresh_token) {
    throw new Error(`no refresh token from ${token}: ${answer.status} ${text}`);
  }
  return body.refresh_token;
}
