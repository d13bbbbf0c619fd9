// Seed 004's Node snippet (granular scopes with hosted authentication) run against mailroom
// with the Nylas Node SDK 6.8.0 unchanged, the placeholders filled in (CLIENT_ID and
// CLIENT_SECRET a fresh application's, the login hint user78, the redirect URI the one the
// application registered) and `apiServer` pointed at mailroom.
//
// The seed configures the SDK with `appId` and `appSecret`: nylas@6.8.0 no longer reads
// those names (only `clientId` and `clientSecret`), so `Nylas.config` as written leaves
// the SDK on whatever application it had. The test shows that, then runs the snippet with
// `clientId`/`clientSecret`. Then, as the seed says a token with email.read_only,email.send
// may: messages and threads read, a message sent, while a call needing email.modify (PUT
// /messages/{id}) rejects with the seed's 403. Testbed user78.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import test from 'node:test';

import Nylas from 'nylas';

import { EMAIL, REDIRECT_URI, listed, scopeRefusal, sdk, sharedSuite, signIn } from './helper.js';

const suite = sharedSuite('seed-004');

test("seed 004's Node snippet", async () => {
  const s = await suite();
  const seedApp = await s.newApp();
  const otherApp = await s.newApp(); // the SDK's configuration is now this application's
  const [CLIENT_ID, CLIENT_SECRET] = [seedApp.clientId, seedApp.clientSecret];

  // --- seed 004, as written (apiServer added)
  Nylas.config({
    appId: CLIENT_ID,
    appSecret: CLIENT_SECRET,
    apiServer: s.baseUrl,
  });
  // --- nylas@6.8.0 does not read appId/appSecret: the configuration is unchanged.
  assert.equal(Nylas.clientId, otherApp.clientId);
  assert.equal(Nylas.clientSecret, otherApp.clientSecret);

  // The snippet with the names 6.8.0 reads.
  Nylas.config({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    apiServer: s.baseUrl,
  });

  const options = {
    loginHint: EMAIL,
    redirectURI: REDIRECT_URI,
    scopes: ['email.read_only', 'email.send'],
  };

  // Redirect your user to the auth_url
  const auth_url = Nylas.urlForAuthentication(options);
  // --- end of the snippet

  const query = new URL(auth_url).searchParams;
  assert.equal(query.get('client_id'), CLIENT_ID);
  assert.equal(query.get('scopes'), 'email.read_only,email.send');
  const back = await signIn(auth_url, s.testbed);
  const token = await sdk('Nylas.exchangeCodeForToken', Nylas.exchangeCodeForToken(back.code));
  const client = Nylas.with(token.accessToken);

  // email.read_only: messages and threads read.
  const [message] = await listed(client.messages, `GET /messages to list ${s.subject}`, 1, { subject: s.subject });
  const threads = await sdk('threads.list', client.threads.list({ subject: s.subject }));
  assert.deepEqual(threads.map((t) => t.messageIds), [[message.id]]);
  assert.equal((await sdk('messages.find', client.messages.find(message.id))).subject, s.subject);

  // email.send: a message goes out (to user78 itself) and arrives.
  const subject = `seed 004 send ${randomUUID().slice(0, 10)}`;
  const sent = await sdk('draft.send', client.drafts.build({ to: [{ email: EMAIL }], subject, body: '<p>scoped</p>' }).send());
  assert.equal(sent.subject, subject);
  await listed(client.messages, 'the sent message in INBOX', 1, { subject, in: 'inbox' });

  // email.modify is not among them: PUT /messages/{id} rejects with seed 004's 403, word for word.
  message.unread = false;
  const needed = await scopeRefusal(message.save(), ['email.read_only', 'email.send']);
  assert.deepEqual(needed, ['email.modify']);
  assert.equal((await sdk('messages.find', client.messages.find(message.id))).unread, true);
});
